import { ReservationStatus } from '../../booking/reservation.entity';
import { gatewayBalance, type GatewayPayment } from '../../gateway/payment-gateway';
import { RefundReason } from '../refunds/refund.entity';

export const EXPECTED_CURRENCY = 'KRW';

/** What the server stored at hold time, and what it knows about the seat right now (under lock). */
export interface ReservationFacts {
  status: ReservationStatus;
  /** Price snapshot in won. */
  amount: number;
  merchantUid: string;
  expiresAt: Date;
  eventStartsAt: Date;
  /** Another reservation currently occupies the seat (CONFIRMED, or HELD and still within its hold and grace). */
  seatTakenByOther: boolean;
}

export interface VerificationPolicy {
  /** Accept test-channel payments as paid (never in production: channel keys are public). */
  allowSandbox: boolean;
}

export type Verdict =
  | { kind: 'NOT_PAID'; detail: string }
  | { kind: 'CONFIRM' }
  | { kind: 'REFUND'; reason: RefundReason; detail: string };

/**
 * Whether a gateway record is money we hold: decided on the balance read back, never on the status string
 * alone (PortOne V1 does not say what status a partially cancelled payment has). A test-channel payment
 * moved no money and is not a payment unless the policy allows it.
 */
export function paymentState(payment: GatewayPayment, policy: VerificationPolicy): { paid: true } | { paid: false; detail: string } {
  if (payment.sandbox && !policy.allowSandbox) return { paid: false, detail: 'made through a test channel (sandbox): no money moved' };
  if (payment.status === 'READY' || payment.status === 'FAILED') return { paid: false, detail: `payment is ${payment.status}` };
  const balance = gatewayBalance(payment);
  if (payment.status === 'CANCELLED' && (balance <= 0 || payment.paidAt === null)) {
    // Fully cancelled, or never paid at all (a revoked virtual account is "cancelled" with paid_at 0).
    return { paid: false, detail: 'payment is cancelled' };
  }
  // PAID (whatever is left of it, even 0 won), or CANCELLED with money still paid (a partial cancel).
  return { paid: true };
}

/**
 * The verification rules (DESIGN §3), pure: only what the server read from the gateway is compared
 * with what the server stored at hold time. Only an exact match of amount, order id and currency, with
 * nothing cancelled yet, on a reservation that can still take it, confirms.
 *
 * Order matters: a payment that is not ours to keep for a reason of its own (wrong order, currency or
 * amount) is reported with that reason even when the reservation is gone as well.
 */
export function verifyPayment(reservation: ReservationFacts, payment: GatewayPayment, now: Date, policy: VerificationPolicy): Verdict {
  const state = paymentState(payment, policy);
  if (!state.paid) return { kind: 'NOT_PAID', detail: state.detail };
  if (payment.merchantUid !== reservation.merchantUid) {
    return refund(RefundReason.MERCHANT_UID_MISMATCH, `paid for order ${payment.merchantUid}, not ${reservation.merchantUid}`);
  }
  if (payment.currency !== EXPECTED_CURRENCY) {
    return refund(RefundReason.CURRENCY_MISMATCH, `paid in ${payment.currency}, expected ${EXPECTED_CURRENCY}`);
  }
  if (payment.amount !== reservation.amount || payment.cancelledAmount !== 0 || payment.status !== 'PAID') {
    return refund(
      RefundReason.AMOUNT_MISMATCH,
      `paid ${payment.amount} (cancelled ${payment.cancelledAmount}), price is ${reservation.amount}`,
    );
  }
  switch (reservation.status) {
    case ReservationStatus.CANCELLED:
      return refund(RefundReason.RESERVATION_CANCELLED, 'the reservation was cancelled before the payment arrived');
    case ReservationStatus.CONFIRMED:
      return refund(RefundReason.DUPLICATE_PAYMENT, 'the reservation is already confirmed by another payment');
    case ReservationStatus.HELD:
    case ReservationStatus.EXPIRED:
      break;
  }
  if (reservation.eventStartsAt.getTime() <= now.getTime()) {
    return refund(RefundReason.SEAT_UNAVAILABLE, 'the event has already started');
  }
  // A late payment (hold expired) is still welcome while nobody else took the seat.
  if (reservation.seatTakenByOther) {
    return refund(RefundReason.SEAT_UNAVAILABLE, 'the hold expired and the seat was taken by someone else');
  }
  return { kind: 'CONFIRM' };
}

function refund(reason: RefundReason, detail: string): Verdict {
  return { kind: 'REFUND', reason, detail };
}
