import { ReservationStatus } from '../booking/reservation.entity';
import type { GatewayPayment } from '../gateway/payment-gateway';
import { RefundReason } from './refund.entity';

export const EXPECTED_CURRENCY = 'KRW';

/** What the server stored at hold time, and what it knows about the seat right now (under lock). */
export interface ReservationFacts {
  status: ReservationStatus;
  /** Price snapshot in won. */
  amount: number;
  merchantUid: string;
  expiresAt: Date;
  eventStartsAt: Date;
  /** Another reservation currently occupies the seat (CONFIRMED, or HELD and not expired). */
  seatTakenByOther: boolean;
}

export type Verdict =
  | { kind: 'NOT_PAID' }
  | { kind: 'CONFIRM' }
  | { kind: 'REFUND'; reason: RefundReason; detail: string };

/**
 * The verification rules (DESIGN §3), pure: only what the server read from the gateway is compared
 * with what the server stored at hold time. Only an exact match of status, amount, order id and
 * currency, on a reservation that can still take it, confirms.
 *
 * Order matters: a payment that is not ours to keep for a reason of its own (wrong order, currency or
 * amount) is reported with that reason even when the reservation is gone as well.
 */
export function verifyPayment(reservation: ReservationFacts, payment: GatewayPayment, now: Date): Verdict {
  if (payment.status !== 'PAID') return { kind: 'NOT_PAID' };
  if (payment.merchantUid !== reservation.merchantUid) {
    return refund(RefundReason.MERCHANT_UID_MISMATCH, `paid for order ${payment.merchantUid}, not ${reservation.merchantUid}`);
  }
  if (payment.currency !== EXPECTED_CURRENCY) {
    return refund(RefundReason.CURRENCY_MISMATCH, `paid in ${payment.currency}, expected ${EXPECTED_CURRENCY}`);
  }
  if (payment.amount !== reservation.amount || payment.cancelledAmount !== 0) {
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
