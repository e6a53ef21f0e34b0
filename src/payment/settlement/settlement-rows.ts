import { Event } from '../../booking/event.entity';
import { Reservation, ReservationStatus } from '../../booking/reservation.entity';
import { Seat } from '../../booking/seat.entity';
import { Payment, PaymentDecision } from './payment.entity';

export type Row = Record<string, unknown>;
const dateOrNull = (value: unknown): Date | null => (value === null || value === undefined ? null : new Date(value as string));

/**
 * Entity instances built straight from a row's JSON, outside the unit of work. Merging a row into the
 * identity map (em.map) hydrates and snapshots it for change tracking: on the path every confirm takes,
 * for objects that are only read, that was a measurable share of the CPU.
 */
function detached<T extends object>(entity: new () => T, properties: Partial<T>): T {
  // Own data properties: assigning through the entity prototype's setters would give each copy MikroORM's
  // change-tracking helper, which is what this avoids.
  const descriptors: PropertyDescriptorMap = {};
  for (const [name, value] of Object.entries(properties)) descriptors[name] = { value, writable: true, enumerable: true, configurable: true };
  return Object.create(entity.prototype, descriptors) as T;
}

export function eventOf(row: Row): Event {
  return detached(Event, { id: row.id as string, title: row.title as string, startsAt: new Date(row.starts_at as string), createdAt: new Date(row.created_at as string) });
}

export function seatOf(row: Row, event: Event): Seat {
  return detached(Seat, { id: row.id as string, event, label: row.label as string, price: row.price as number });
}

export function reservationOf(row: Row, seat: Seat): Reservation {
  return detached(Reservation, {
    id: row.id as string,
    seat,
    buyerId: row.buyer_id as string,
    status: row.status as ReservationStatus,
    amount: row.amount as number,
    merchantUid: row.merchant_uid as string,
    expiresAt: new Date(row.expires_at as string),
    confirmedAt: dateOrNull(row.confirmed_at),
    cancelledAt: dateOrNull(row.cancelled_at),
    paymentReportedAt: dateOrNull(row.payment_reported_at),
    reportCheckAt: dateOrNull(row.report_check_at),
    reportChecks: row.report_checks as number,
    createdAt: new Date(row.created_at as string),
    updatedAt: new Date(row.updated_at as string),
    version: row.version as number,
  });
}

export function paymentOf(row: Row, reservation: Reservation): Payment {
  return detached(Payment, {
    id: row.id as string,
    gatewayPaymentId: row.gateway_payment_id as string,
    reservation,
    merchantUid: row.merchant_uid as string,
    amount: Number(row.amount),
    currency: row.currency as string,
    decision: row.decision as PaymentDecision,
    refundReason: (row.refund_reason ?? null) as Payment['refundReason'],
    decidedBy: row.decided_by as string,
    decidedAt: new Date(row.decided_at as string),
  });
}

/** A reservation with its seat and event, from one row of `to_jsonb` columns. */
export function reservationWithSeatOf(row: { reservation: Row; seat: Row; event: Row }): { reservation: Reservation; seat: Seat } {
  const seat = seatOf(row.seat, eventOf(row.event));
  return { reservation: reservationOf(row.reservation, seat), seat };
}
