import { Field, ID, InputType, Int, ObjectType, createUnionType, registerEnumType } from 'type-graphql';
import { IsUUID, Length } from 'class-validator';
import { ReservationView } from '../booking/booking.types';
import type { PaymentEvent } from './payment-event.entity';
import { type Refund, RefundReason, RefundStatus } from './refund.entity';

registerEnumType(RefundStatus, {
  name: 'RefundStatus',
  description: 'PENDING while the cancel at PortOne is being attempted or retried; NEEDS_ATTENTION after the retry budget.',
});
registerEnumType(RefundReason, { name: 'RefundReason', description: 'Why the server gave the money back.' });

@ObjectType('Refund')
export class RefundView {
  @Field(() => ID)
  id: string;

  @Field(() => Int, { description: 'Won given back.' })
  amount: number;

  @Field(() => RefundReason)
  reason: RefundReason;

  @Field(() => RefundStatus)
  status: RefundStatus;

  @Field(() => Int, { description: 'Cancel attempts made at PortOne so far.' })
  attempts: number;

  @Field({ description: 'PortOne payment id (imp_uid) being refunded.' })
  paymentId: string;

  @Field(() => String, { nullable: true, description: 'The last failure, for operators.' })
  lastError: string | null;

  @Field(() => Date, { nullable: true })
  nextAttemptAt: Date | null;

  @Field(() => Date)
  createdAt: Date;

  @Field(() => Date, { nullable: true })
  succeededAt: Date | null;

  reservationId: string;

  static from(refund: Refund): RefundView {
    return Object.assign(new RefundView(), {
      id: refund.id,
      amount: refund.amount,
      reason: refund.reason,
      status: refund.status,
      attempts: refund.attempts,
      paymentId: refund.gatewayPaymentId,
      lastError: refund.lastError,
      nextAttemptAt: refund.nextAttemptAt,
      createdAt: refund.createdAt,
      succeededAt: refund.succeededAt,
      reservationId: refund.reservation.id,
    });
  }
}

@ObjectType()
export class PaymentConfirmed {
  readonly kind = 'PaymentConfirmed';

  @Field(() => ReservationView)
  reservation: ReservationView;

  @Field({ description: 'PortOne payment id (imp_uid).' })
  paymentId: string;

  @Field(() => Int, { description: 'Won paid, as PortOne reported it.' })
  amount: number;
}

@ObjectType()
export class PaymentRefunded {
  readonly kind = 'PaymentRefunded';

  @Field(() => ReservationView)
  reservation: ReservationView;

  @Field(() => RefundView)
  refund: RefundView;

  @Field(() => RefundReason)
  reason: RefundReason;

  @Field({ description: 'For the buyer: Korean by default, English with Accept-Language: en.' })
  message: string;
}

export const ConfirmPaymentResult = createUnionType({
  name: 'ConfirmPaymentResult',
  types: () => [PaymentConfirmed, PaymentRefunded] as const,
  resolveType: (value) => (value instanceof PaymentRefunded ? PaymentRefunded : PaymentConfirmed),
});

@InputType()
export class ConfirmPaymentInput {
  @Field(() => ID)
  @IsUUID('all', { message: 'reservationId must be a UUID' })
  reservationId: string;

  @Field({ description: 'PortOne payment id: imp_uid (V1).' })
  @Length(1, 100)
  paymentId: string;

  @Field({ description: 'The reservation merchantUid the payment was made for (a cross-check only).' })
  @Length(1, 100)
  merchantUid: string;
}

@ObjectType('PaymentEvent')
export class PaymentEventView {
  @Field(() => ID)
  id: string;

  @Field(() => Date)
  at: Date;

  @Field()
  kind: string;

  @Field()
  outcome: string;

  @Field(() => String, { nullable: true })
  paymentId: string | null;

  @Field(() => ID, { nullable: true })
  refundId: string | null;

  @Field(() => String, { nullable: true })
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
