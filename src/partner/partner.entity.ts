import { randomUUID } from 'node:crypto';
import { Collection, Entity, ManyToMany, type Opt, PrimaryKey, Property, Unique } from '@mikro-orm/core';
import { Event } from '../booking/event.entity';

/**
 * A venue or reseller reading booking status with an API key. Only the key's SHA-256 is stored (keys are
 * 256-bit random, so a slow hash adds nothing); the key itself is shown once, at creation.
 */
@Entity({ tableName: 'partner' })
export class Partner {
  @PrimaryKey({ type: 'uuid' })
  id: string = randomUUID();

  @Property({ type: 'text' })
  name: string;

  @Property({ type: 'text' })
  @Unique({ name: 'partner_api_key_hash_unique' })
  apiKeyHash: string;

  /** The first characters of the key, so operators can tell keys apart without seeing them. */
  @Property({ type: 'text' })
  apiKeyPrefix: string;

  @ManyToMany(() => Event, undefined, { pivotTable: 'partner_event', owner: true })
  events = new Collection<Event>(this);

  @Property({ type: 'timestamptz', nullable: true })
  revokedAt: Opt<Date> | null = null;

  @Property({ type: 'timestamptz' })
  createdAt: Opt<Date> = new Date();
}
