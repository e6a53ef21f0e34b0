import type { Reservation } from '../../booking/reservation.entity';
import type { Seat } from '../../booking/seat.entity';
import type { Refund } from '../refunds/refund.entity';
import type { Payment } from './payment.entity';

/** What a fresh decision already read (the seat, with its event): the request's loaders are primed with it. */
export interface DecisionLoads {
  seat: Seat;
}

export type SettlementSource = 'CLIENT_CONFIRM' | 'WEBHOOK' | 'RECONCILIATION';

/**
 * What settling one payment came to. Every expected end is a value; only faults (the database, a
 * misconfigured gateway) are exceptions. The GraphQL edge alone turns the refusals into errors.
 */
export type Settlement =
  /** The payment backs this booking. */
  | { kind: 'CONFIRMED'; payment: Payment; reservation: Reservation; loaded?: DecisionLoads }
  /** The payment is being (or was) given back; `refund` says how far that got. */
  | { kind: 'REFUNDED'; payment: Payment; reservation: Reservation; refund: Refund; loaded?: DecisionLoads }
  /** PortOne does not show it paid (yet): nothing was kept or cancelled. */
  | { kind: 'NOT_PAID'; gatewayPaymentId: string; detail: string }
  /** Made for none of our reservations (or another store): never ours to keep or cancel. */
  | { kind: 'NOT_OURS'; gatewayPaymentId: string }
  /** PortOne has no such payment. */
  | { kind: 'UNKNOWN_PAYMENT'; gatewayPaymentId: string }
  /** PortOne could not be asked; the webhook or the sweep settles it later. */
  | { kind: 'GATEWAY_UNAVAILABLE'; gatewayPaymentId: string };

/** A buyer's confirmation adds the two refusals that concern the reservation they named. */
export type BuyerConfirmation =
  | Settlement
  | { kind: 'RESERVATION_NOT_FOUND'; reservationId: string }
  /** The payment backs another reservation; that one was settled, the named one is untouched. */
  | { kind: 'PAYMENT_ALREADY_USED'; gatewayPaymentId: string };

export type Decided = Extract<Settlement, { kind: 'CONFIRMED' | 'REFUNDED' }>;

export function isDecided<T extends { kind: string }>(outcome: T): outcome is Extract<T, { kind: 'CONFIRMED' | 'REFUNDED' }> {
  return outcome.kind === 'CONFIRMED' || outcome.kind === 'REFUNDED';
}
