import { randomUUID } from 'node:crypto';
import { Check, Entity, Index, ManyToOne, PrimaryKey, Property, Unique } from '@mikro-orm/core';
import { Event } from './event.entity';

@Entity({ tableName: 'seat' })
// Serves seat pages in natural label order (R2 before R10): ICU collation with numeric ordering, created
// by the migration that adds this index.
@Index({
  name: 'seat_event_natural_label_idx',
  expression: 'create index "seat_event_natural_label_idx" on "seat" ("event_id", "label" collate "natural_sort", "id")',
})
@Unique({ name: 'seat_event_label_unique', properties: ['event', 'label'] })
@Check({ name: 'seat_price_positive', expression: 'price > 0' })
export class Seat {
  @PrimaryKey({ type: 'uuid' })
  id: string = randomUUID();

  @ManyToOne(() => Event, { deleteRule: 'cascade' })
  event: Event;

  @Property({ type: 'text' })
  label: string;

  /** Current price in KRW (won); a reservation snapshots it at hold time. */
  @Property({ type: 'integer' })
  price: number;
}
