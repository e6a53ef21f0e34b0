import { randomUUID } from 'node:crypto';
import { Entity, Index, PrimaryKey, Property } from '@mikro-orm/core';

@Entity({ tableName: 'event' })
@Index({ name: 'event_starts_at_id_idx', properties: ['startsAt', 'id'] })
export class Event {
  @PrimaryKey({ type: 'uuid' })
  id: string = randomUUID();

  @Property({ type: 'text' })
  title: string;

  @Property({ type: 'timestamptz' })
  startsAt: Date;

  @Property({ type: 'timestamptz' })
  createdAt: Date = new Date();
}
