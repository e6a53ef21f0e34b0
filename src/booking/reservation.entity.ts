import { randomUUID } from 'node:crypto';
import { Check, Entity, Enum, Index, ManyToOne, type Opt, PrimaryKey, Property, Unique } from '@mikro-orm/core';
import { Seat } from './seat.entity';

export enum ReservationStatus {
  HELD = 'HELD',
  CONFIRMED = 'CONFIRMED',
  EXPIRED = 'EXPIRED',
  CANCELLED = 'CANCELLED',
}

/**
 * A buyer's claim on one seat. The seat's price is snapshotted at hold time: verification compares
 * what PortOne says was paid against this snapshot, never against anything the client sends.
 *
 * The partial unique index `reservation_seat_active_unique` (see the migration) is what makes a seat
 * exclusive: at most one HELD or CONFIRMED reservation per seat, enforced by PostgreSQL.
 */
@Entity({ tableName: 'reservation' })
@Index({ name: 'reservation_buyer_idx', properties: ['buyerId', 'createdAt'] })
@Index({ name: 'reservation_status_expires_idx', properties: ['status', 'expiresAt'] })
@Check({ name: 'reservation_amount_positive', expression: 'amount > 0' })
@Unique({
  name: 'reservation_seat_active_unique',
  expression:
    `create unique index "reservation_seat_active_unique" on "reservation" ("seat_id") where "status" in ('HELD', 'CONFIRMED')`,
})
export class Reservation {
  @PrimaryKey({ type: 'uuid' })
  id: string = randomUUID();

  @ManyToOne(() => Seat)
  seat: Seat;

  /** The JWT `sub` of the buyer who holds the seat. */
  @Property({ type: 'text' })
  buyerId: string;

  @Enum({ items: () => ReservationStatus, nativeEnumName: 'reservation_status' })
  status: ReservationStatus = ReservationStatus.HELD;

  /** Price snapshot in KRW (won) at hold time. */
  @Property({ type: 'integer' })
  amount: number;

  /** Server-generated order id sent to PortOne as merchant_uid. */
  @Property({ type: 'text' })
  @Unique({ name: 'reservation_merchant_uid_unique' })
  merchantUid: string;

  @Property({ type: 'timestamptz' })
  expiresAt: Date;

  @Property({ type: 'timestamptz', nullable: true })
  confirmedAt: Date | null = null;

  @Property({ type: 'timestamptz', nullable: true })
  cancelledAt: Date | null = null;

  /**
   * When a client or a webhook last told us a payment was made for this reservation. Reconciliation
   * treats a reported but undecided payment as urgent, without waiting for the hold to end.
   */
  @Property({ type: 'timestamptz', nullable: true })
  paymentReportedAt: Opt<Date> | null = null;

  /** When reconciliation last asked PortOne about this reservation. */
  @Property({ type: 'timestamptz', nullable: true })
  reconciledAt: Opt<Date> | null = null;

  @Property({ type: 'timestamptz' })
  createdAt: Date = new Date();

  @Property({ type: 'timestamptz', onUpdate: () => new Date() })
  updatedAt: Date = new Date();

  @Property({ type: 'integer', version: true })
  version: Opt<number> = 1;
}
