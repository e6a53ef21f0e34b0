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
   * When a client said it paid but we could not settle it then (PortOne did not know the payment yet, or
   * could not be reached). Reconciliation reads this reservation's payments by order id, with backoff.
   */
  @Property({ type: 'timestamptz', nullable: true })
  paymentReportedAt: Opt<Date> | null = null;

  /** The next time reconciliation asks PortOne about a reported payment (null: nothing to ask). */
  @Property({ type: 'timestamptz', nullable: true, index: 'reservation_report_check_idx' })
  reportCheckAt: Opt<Date> | null = null;

  @Property({ type: 'integer' })
  reportChecks: Opt<number> = 0;

  @Property({ type: 'timestamptz' })
  createdAt: Date = new Date();

  @Property({ type: 'timestamptz', onUpdate: () => new Date() })
  updatedAt: Date = new Date();

  @Property({ type: 'integer', version: true })
  version: Opt<number> = 1;
}
