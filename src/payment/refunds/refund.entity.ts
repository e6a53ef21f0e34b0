import { randomUUID } from 'node:crypto';
import { Check, DecimalType, Entity, Enum, Index, ManyToOne, type Opt, PrimaryKey, Property } from '@mikro-orm/core';
import { Reservation } from '../../booking/reservation.entity';

export enum RefundStatus {
  PENDING = 'PENDING',
  SUCCEEDED = 'SUCCEEDED',
  NEEDS_ATTENTION = 'NEEDS_ATTENTION',
}

export enum RefundReason {
  AMOUNT_MISMATCH = 'AMOUNT_MISMATCH',
  MERCHANT_UID_MISMATCH = 'MERCHANT_UID_MISMATCH',
  CURRENCY_MISMATCH = 'CURRENCY_MISMATCH',
  SEAT_UNAVAILABLE = 'SEAT_UNAVAILABLE',
  RESERVATION_CANCELLED = 'RESERVATION_CANCELLED',
  /** A second payment for a reservation another payment already confirmed. */
  DUPLICATE_PAYMENT = 'DUPLICATE_PAYMENT',
  INTERNAL_ERROR = 'INTERNAL_ERROR',
  BUYER_CANCELLED = 'BUYER_CANCELLED',
  /** Cancelled at PortOne by someone else (merchant console, PG, chargeback) after the booking was confirmed. */
  CANCELLED_AT_GATEWAY = 'CANCELLED_AT_GATEWAY',
}

/**
 * The durable intent to give a payment's money back (the outbox): written in the same transaction as
 * the decision, before any cancel is sent, and driven to SUCCEEDED or NEEDS_ATTENTION by attempts.
 * One refund per gateway payment (a full refund), enforced by the unique gateway id.
 */
@Entity({ tableName: 'refund' })
@Index({ name: 'refund_status_idx', properties: ['status', 'createdAt'] })
@Index({ name: 'refund_created_at_id_idx', properties: ['createdAt', 'id'] })
@Check({ name: 'refund_amount_not_negative', expression: 'amount >= 0' })
export class Refund {
  @PrimaryKey({ type: 'uuid' })
  id: string = randomUUID();

  @Property({ type: 'text', unique: 'refund_gateway_payment_id_unique' })
  gatewayPaymentId: string;

  @ManyToOne(() => Reservation, { index: 'refund_reservation_idx' })
  reservation: Reservation;

  /**
   * What to give back, exactly, in `currency` (everything still paid when the decision was made; a 0-won
   * payment has nothing to give back). The attempt cancels the balance it reads back, never more.
   */
  @Property({ type: new DecimalType('number'), precision: 20, scale: 4 })
  amount: number;

  @Property({ type: 'text' })
  currency: Opt<string> = 'KRW';

  @Enum({ items: () => RefundReason, nativeEnumName: 'refund_reason' })
  reason: RefundReason;

  @Enum({ items: () => RefundStatus, nativeEnumName: 'refund_status' })
  status: Opt<RefundStatus> = RefundStatus.PENDING;

  @Property({ type: 'integer' })
  attempts: Opt<number> = 0;

  /**
   * Retries of transient failures (PortOne unreachable, unknown outcome, credentials refused) stop here and
   * the refund becomes NEEDS_ATTENTION; an admin's retryRefund opens a new window.
   */
  @Property({ type: 'timestamptz' })
  giveUpAt: Date;

  /** Where a virtual-account refund goes (PortOne needs it); given by the buyer or an admin. */
  @Property({ type: 'jsonb', nullable: true })
  refundAccount: Opt<{ bank: string; holder: string; account: string }> | null = null;

  /** Set while one worker is attempting the cancel, so two never send it at once. */
  @Property({ type: 'timestamptz', nullable: true })
  attemptLeaseUntil: Opt<Date> | null = null;

  @Property({ type: 'timestamptz', nullable: true })
  nextAttemptAt: Opt<Date> | null = null;

  @Property({ type: 'text', nullable: true })
  lastError: Opt<string> | null = null;

  @Property({ type: 'text', nullable: true })
  gatewayCancellationId: Opt<string> | null = null;

  @Property({ type: 'timestamptz', nullable: true })
  succeededAt: Opt<Date> | null = null;

  @Property({ type: 'timestamptz' })
  createdAt: Opt<Date> = new Date();

  @Property({ type: 'timestamptz', onUpdate: () => new Date() })
  updatedAt: Opt<Date> = new Date();
}

/** A refund's facts as views read them: the entity, or the same fields as plain data (bookingStatuses reads rows). */
export type RefundFacts = Pick<
  Refund,
  'id' | 'gatewayPaymentId' | 'amount' | 'currency' | 'reason' | 'status' | 'attempts' | 'nextAttemptAt' | 'lastError' | 'createdAt' | 'succeededAt'
> & { reservation: { id: string } };
