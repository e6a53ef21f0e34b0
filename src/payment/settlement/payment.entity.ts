import { randomUUID } from 'node:crypto';
import { DecimalType, Entity, Enum, ManyToOne, type Opt, PrimaryKey, Property, Unique } from '@mikro-orm/core';
import { Reservation } from '../../booking/reservation.entity';
import { RefundReason } from '../refunds/refund.entity';

export enum PaymentDecision {
  CONFIRMED = 'CONFIRMED',
  REFUND = 'REFUND',
}

/**
 * Our one decision about one gateway payment. The unique gateway id is invariant I5: a payment is bound
 * to at most one reservation, and deciding twice is impossible.
 */
@Entity({ tableName: 'payment' })
@Unique({
  name: 'payment_confirmed_per_reservation_unique',
  expression: `create unique index "payment_confirmed_per_reservation_unique" on "payment" ("reservation_id") where "decision" = 'CONFIRMED'`,
})
export class Payment {
  @PrimaryKey({ type: 'uuid' })
  id: string = randomUUID();

  @Property({ type: 'text' })
  @Unique({ name: 'payment_gateway_payment_id_unique' })
  gatewayPaymentId: string;

  @ManyToOne(() => Reservation, { index: 'payment_reservation_idx' })
  reservation: Reservation;

  /** As the gateway reported it, which may differ from the reservation's (then it is refunded). */
  @Property({ type: 'text' })
  merchantUid: string;

  /** Paid amount exactly as the gateway reported it, in `currency` (USD 10.40 stays 10.4). */
  @Property({ type: new DecimalType('number'), precision: 20, scale: 4 })
  amount: number;

  @Property({ type: 'text' })
  currency: string;

  @Enum({ items: () => PaymentDecision, nativeEnumName: 'payment_decision' })
  decision: PaymentDecision;

  @Enum({ items: () => RefundReason, nativeEnumName: 'refund_reason', nullable: true })
  refundReason: RefundReason | null = null;

  /** Which path decided first: CLIENT_CONFIRM, WEBHOOK or RECONCILIATION. */
  @Property({ type: 'text' })
  decidedBy: string;

  @Property({ type: 'timestamptz' })
  decidedAt: Opt<Date> = new Date();
}
