import { Field, ID, InputType, Int, ObjectType, createUnionType, registerEnumType } from 'type-graphql';
import { IsUUID, Length, Matches } from 'class-validator';
import { ReservationView } from '../../booking/booking.types';
import type { PaymentEvent } from '../event-log/payment-event.entity';
import { type RefundFacts, RefundReason, RefundStatus } from '../refunds/refund.entity';

registerEnumType(RefundStatus, {
  name: 'RefundStatus',
  description: 'PENDING while the cancel at PortOne is being attempted or retried; NEEDS_ATTENTION after the retry budget.',
});
registerEnumType(RefundReason, { name: 'RefundReason', description: 'Why the server gave the money back.' });

@ObjectType('Refund', { description: 'Money the server gives back at PortOne for a payment it could not keep (or a booking the buyer cancelled). Read `status` and `pollAfterSeconds` to follow it.' })
export class RefundView {
  @Field(() => ID, { description: 'Stable id of the refund; admins pass it to retryRefund.' })
  id: string;

  @Field(() => Int, {
    description: 'Won given back (KRW). A refund in another currency (CURRENCY_MISMATCH) is rounded here; exactAmount is exact.',
  })
  amount: number;

  @Field({ description: 'The exact amount given back, as a decimal string in `currency` (e.g. "10.4").' })
  exactAmount: string;

  @Field({ description: 'Currency of the payment being refunded (KRW unless the payment was made in another one).' })
  currency: string;

  @Field(() => RefundReason, { description: 'Why the money is given back.' })
  reason: RefundReason;

  @Field(() => RefundStatus, {
    description:
      'A refund starts PENDING and the server finishes it on its own (no client call needed). To show it ' +
      'finishing, read `reservation(id) { refund { status pollAfterSeconds } }` again after pollAfterSeconds ' +
      'until the status is SUCCEEDED (final) or NEEDS_ATTENTION (an operator takes over).',
  })
  status: RefundStatus;

  @Field(() => Int, {
    nullable: true,
    description:
      'While PENDING: seconds to wait before reading this refund again (just after the next attempt at PortOne). ' +
      'Null once SUCCEEDED or NEEDS_ATTENTION: nothing will change without an operator.',
  })
  pollAfterSeconds: number | null;

  @Field(() => Int, { description: 'Cancel attempts made at PortOne so far.' })
  attempts: number;

  @Field({ description: 'PortOne payment id (imp_uid) being refunded.' })
  paymentId: string;

  @Field(() => String, { nullable: true, description: 'The last failure as PortOne put it: admins only (null for buyers and partners).' })
  lastError: string | null;

  @Field(() => Date, { nullable: true, description: 'When the server will next try the cancel at PortOne while PENDING; null otherwise.' })
  nextAttemptAt: Date | null;

  @Field(() => Date, { description: 'When the server decided to refund.' })
  createdAt: Date;

  @Field(() => Date, { nullable: true, description: 'When PortOne confirmed the cancel; null until SUCCEEDED.' })
  succeededAt: Date | null;

  reservationId: string;

  /** Operators see PortOne's raw error; buyers and partners see the reason and its message only. */
  static from(refund: RefundFacts, audience: { forOperator: boolean }): RefundView {
    return Object.assign(new RefundView(), {
      id: refund.id,
      amount: Math.round(refund.amount),
      exactAmount: String(refund.amount),
      currency: refund.currency,
      reason: refund.reason,
      status: refund.status,
      pollAfterSeconds: refund.status === RefundStatus.PENDING ? pollAfterSeconds(refund.nextAttemptAt, Date.now()) : null,
      attempts: refund.attempts,
      paymentId: refund.gatewayPaymentId,
      lastError: audience.forOperator ? refund.lastError : null,
      nextAttemptAt: refund.nextAttemptAt,
      createdAt: refund.createdAt,
      succeededAt: refund.succeededAt,
      reservationId: refund.reservation.id,
    });
  }
}

/** One second after the next attempt is due, between 1 and 60 (an attempt already due: 2, time to run it). */
export function pollAfterSeconds(nextAttemptAt: Date | null, nowMs: number): number {
  if (nextAttemptAt === null || nextAttemptAt.getTime() <= nowMs) return 2;
  return Math.min(60, Math.max(1, Math.ceil((nextAttemptAt.getTime() - nowMs) / 1000) + 1));
}

@ObjectType({ description: 'confirmPayment outcome: the payment matched the hold and the booking is CONFIRMED.' })
export class PaymentConfirmed {
  readonly kind = 'PaymentConfirmed';

  @Field(() => ReservationView, { description: 'The reservation, now CONFIRMED.' })
  reservation: ReservationView;

  @Field({ description: 'PortOne payment id (imp_uid).' })
  paymentId: string;

  @Field(() => Int, { description: 'Won paid, as PortOne reported it.' })
  amount: number;
}

@ObjectType({ description: 'confirmPayment outcome: the payment could not be kept, so the server is cancelling it at PortOne (see refund.status). The reservation is not CONFIRMED.' })
export class PaymentRefunded {
  readonly kind = 'PaymentRefunded';

  @Field(() => ReservationView, { description: 'The reservation the payment was for; not CONFIRMED.' })
  reservation: ReservationView;

  @Field(() => RefundView, { description: 'The refund under way: PENDING at first, SUCCEEDED once PortOne confirms the cancel.' })
  refund: RefundView;

  @Field(() => RefundReason, { description: 'Why the payment was refunded (same as refund.reason).' })
  reason: RefundReason;

  @Field({ description: 'For the buyer: Korean by default, English with Accept-Language: en.' })
  message: string;
}

export const ConfirmPaymentResult = createUnionType({
  name: 'ConfirmPaymentResult',
  description:
    'What became of a payment: PaymentConfirmed (booked) or PaymentRefunded (the server is giving the money back). ' +
    'Select both members; Apollo Client needs schema/possible-types.json for fragments on them.',
  types: () => [PaymentConfirmed, PaymentRefunded] as const,
  resolveType: (value) => (value instanceof PaymentRefunded ? PaymentRefunded : PaymentConfirmed),
});

@InputType({ description: 'Identifiers only: the server reads the amount and status from PortOne itself.' })
export class ConfirmPaymentInput {
  @Field(() => ID, { description: 'Reservation.id the buyer paid for.' })
  @IsUUID('all', { message: 'reservationId must be a UUID' })
  reservationId: string;

  @Field({ description: 'PortOne payment id: imp_uid (V1).' })
  @Length(1, 100)
  paymentId: string;

  @Field({ description: 'The reservation merchantUid the payment was made for (a cross-check only).' })
  @Length(1, 100)
  merchantUid: string;
}

@InputType({ description: 'Where to send the refund of a virtual-account payment (PortOne needs a bank account for those).' })
export class ProvideRefundAccountInput {
  @Field(() => ID, { description: 'Refund.id.' })
  @IsUUID('all', { message: 'refundId must be a UUID' })
  refundId: string;

  @Field({ description: 'Bank code as PortOne lists them (e.g. "004" for KB Kookmin Bank).' })
  @Matches(/^[0-9A-Za-z]{2,10}$/, { message: 'bank must be a PortOne bank code (2-10 letters or digits)' })
  bank: string;

  @Field({ description: 'Account holder name.' })
  @Length(1, 50)
  holder: string;

  @Field({ description: 'Account number, digits and hyphens.' })
  @Matches(/^[0-9][0-9-]{4,29}$/, { message: 'account must be 5-30 digits or hyphens' })
  account: string;
}

@ObjectType('PaymentEvent', { description: 'One entry of a reservation\'s append-only payment log (admin only): gateway reads, decisions, cancel attempts, webhooks.' })
export class PaymentEventView {
  @Field(() => ID, { description: 'Stable id of the entry.' })
  id: string;

  @Field(() => Date, { description: 'When it happened.' })
  at: Date;

  @Field({ description: 'What happened: GATEWAY_READ, DECISION, CANCEL_ATTEMPT, WEBHOOK, and so on.' })
  kind: string;

  @Field({ description: 'How it ended, as recorded (for example CONFIRMED, REFUND, SUCCEEDED, FAILED, QUEUED).' })
  outcome: string;

  @Field(() => String, { nullable: true, description: 'PortOne payment id involved, if any.' })
  paymentId: string | null;

  @Field(() => ID, { nullable: true, description: 'Refund involved, if any.' })
  refundId: string | null;

  @Field(() => String, { nullable: true, description: 'Details for the operator (PortOne messages, amounts); never shown to buyers.' })
  message: string | null;

  static from(event: PaymentEvent): PaymentEventView {
    return Object.assign(new PaymentEventView(), {
      id: String(event.id),
      at: event.at,
      kind: event.kind,
      outcome: event.outcome,
      paymentId: event.gatewayPaymentId,
      refundId: event.refundId,
      message: event.message,
    });
  }
}
