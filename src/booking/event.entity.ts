import { randomUUID } from 'node:crypto';
import { Entity, Index, PrimaryKey, Property } from '@mikro-orm/core';

@Entity({ tableName: 'event' })
@Index({ name: 'event_starts_at_id_idx', properties: ['startsAt', 'id'] })
export class Event {
  @PrimaryKey({ type: 'uuid' })
  id: string = randomUUID();

  @Property({ type: 'text' })
  title: string;

  /**
   * Never changes once the event exists (nothing moves an event): settlement decides on a start read
   * before PortOne was asked and compares only the reservation's row before writing. Moving events would
   * need their open holds re-decided (bump each HELD reservation's version in the same transaction).
   */
  @Property({ type: 'timestamptz' })
  startsAt: Date;

  @Property({ type: 'timestamptz' })
  createdAt: Date = new Date();
}
