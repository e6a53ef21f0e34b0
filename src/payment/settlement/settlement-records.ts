import type { EntityManager } from '@mikro-orm/postgresql';
import { Event } from '../../booking/event.entity';
import { Reservation, ReservationStatus } from '../../booking/reservation.entity';
import { Seat } from '../../booking/seat.entity';
import type { GatewayPayment } from '../../gateway/payment-gateway';
import { Refund } from '../refunds/refund.entity';
import { Payment, PaymentDecision } from './payment.entity';
import type { PaymentEventEntry } from '../event-log/payment-event-log';
import type { Decided } from './settlement-outcome';

export interface LockedForDecision {
  /** Detached copies read by the locking statement: for deciding, and for the answer. */
  reservation: Reservation;
  /** With its event: the request's loaders are primed with both. */
  seat: Seat;
  /** The reservation as a managed entity, for a path that changes it through the unit of work. */
  manage(): Reservation;
}

type Row = Record<string, unknown>;
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

function eventOf(row: Row): Event {
  return detached(Event, { id: row.id as string, title: row.title as string, startsAt: new Date(row.starts_at as string), createdAt: new Date(row.created_at as string) });
}

function seatOf(row: Row, event: Event): Seat {
  return detached(Seat, { id: row.id as string, event, label: row.label as string, price: row.price as number });
}

function reservationOf(row: Row, seat: Seat): Reservation {
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

function paymentOf(row: Row, reservation: Reservation): Payment {
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

/**
 * What settle reads and writes in PostgreSQL. The statements on a confirm's path are written by hand
 * (one locking read, one insert that also detects a concurrent decision) because a ticket opening runs
 * thousands of them a minute; the rows come back as managed entities, so the rest of the unit of work is
 * ordinary MikroORM and one flush.
 */
export class SettlementRecords {
  /** The reservation a buyer names, and whether this payment was decided before (one statement). */
  async buyersReservation(
    em: EntityManager,
    reservationId: string,
    gatewayPaymentId: string,
  ): Promise<{ id: string; buyerId: string; merchantUid: string; paymentDecided: boolean } | null> {
    const rows: Array<{ id: string; buyer_id: string; merchant_uid: string; decided: boolean }> = await em.execute(
      `select r.id, r.buyer_id, r.merchant_uid, exists (select 1 from payment p where p.gateway_payment_id = ?) as decided
         from reservation r where r.id = ?`,
      [gatewayPaymentId, reservationId],
    );
    const row = rows[0];
    return row ? { id: row.id, buyerId: row.buyer_id, merchantUid: row.merchant_uid, paymentDecided: row.decided } : null;
  }

  /**
   * Locks the seat, then the reservation (the one lock order of the whole server, the same as holdSeat)
   * in one statement: the materialized CTE takes the seat's lock before the outer query can lock the
   * reservation, and the reservation comes back as its latest committed version.
   */
  async lockForDecision(tx: EntityManager, by: { merchantUid: string } | { reservationId: string }): Promise<LockedForDecision | null> {
    const [column, value] = 'merchantUid' in by ? ['merchant_uid', by.merchantUid] : ['id', by.reservationId];
    const rows: Array<{ reservation: Row; seat: Row; event: Row }> =
      await tx.execute(
        `with locked_seat as materialized (
           select s.* from seat s where s.id = (select seat_id from reservation where ${column} = ?) for update
         )
         select to_jsonb(r) as reservation, to_jsonb(ls) as seat, to_jsonb(e) as event
           from reservation r
           join locked_seat ls on ls.id = r.seat_id
           join event e on e.id = ls.event_id
          where r.${column} = ?
            for update of r`,
        [value, value],
      );
    if (rows.length === 0) return null;
    const [row] = rows;
    const seat = seatOf(row.seat, eventOf(row.event));
    return {
      reservation: reservationOf(row.reservation, seat),
      seat,
      manage: () => {
        tx.map(Event, row.event);
        tx.map(Seat, row.seat);
        return tx.map(Reservation, row.reservation);
      },
    };
  }

  /** Other reservations occupying the seat (HELD or CONFIRMED): only a reservation no longer HELD can meet one. */
  async othersOnSeat(tx: EntityManager, reservation: Reservation): Promise<Reservation[]> {
    return tx.find(Reservation, {
      seat: reservation.seat.id,
      id: { $ne: reservation.id },
      status: { $in: [ReservationStatus.HELD, ReservationStatus.CONFIRMED] },
    });
  }

  /**
   * The decision row, inserted first in its transaction: null when this payment was decided meanwhile
   * (a webhook and the buyer's confirm at once). Nothing else was written then, and the caller reads the
   * recorded decision instead (I5: one decision per payment, enforced by the unique gateway id).
   */
  async insertDecision(
    tx: EntityManager,
    payment: GatewayPayment,
    reservation: Reservation,
    decision: { decision: PaymentDecision; reason: Payment['refundReason']; decidedBy: string; at: Date },
  ): Promise<Payment | null> {
    const rows: Array<Record<string, unknown>> = await tx.execute(
      `insert into payment (id, gateway_payment_id, reservation_id, merchant_uid, amount, currency, decision, refund_reason, decided_by, decided_at)
       values (gen_random_uuid(), ?, ?, ?, ?, ?, ?, ?, ?, ?)
       on conflict (gateway_payment_id) do nothing
       returning *`,
      [payment.gatewayPaymentId, reservation.id, payment.merchantUid, payment.amount, payment.currency, decision.decision, decision.reason, decision.decidedBy, decision.at],
    );
    return rows.length === 0 ? null : tx.map(Payment, rows[0]);
  }

  /**
   * A kept payment in one statement: the decision row (unless this payment was decided meanwhile: then
   * null, and nothing was written), the reservation CONFIRMED, and its audit entry. One round trip
   * instead of a flush of three on the path every confirm takes.
   */
  async recordConfirmation(
    tx: EntityManager,
    payment: GatewayPayment,
    reservation: Reservation,
    decision: { decidedBy: string; at: Date; event: PaymentEventEntry },
  ): Promise<{ payment: Payment; reservation: Reservation } | null> {
    const rows: Array<{ payment: Row; reservation: Row }> = await tx.execute(
      `with decided as (
         insert into payment (id, gateway_payment_id, reservation_id, merchant_uid, amount, currency, decision, refund_reason, decided_by, decided_at)
         values (gen_random_uuid(), ?, ?, ?, ?, ?, 'CONFIRMED', null, ?, ?)
         on conflict (gateway_payment_id) do nothing
         returning *
       ), confirmed as (
         update reservation set status = 'CONFIRMED', confirmed_at = ?, report_check_at = null, updated_at = ?, version = version + 1
          where id = ? and exists (select 1 from decided)
          returning *
       ), logged as (
         insert into payment_event (at, reservation_id, gateway_payment_id, kind, outcome, message, details)
         select ?, reservation_id, gateway_payment_id, ?, ?, ?, ?::jsonb from decided
       )
       select to_jsonb(decided) as payment, (select to_jsonb(confirmed) from confirmed) as reservation from decided`,
      [
        payment.gatewayPaymentId,
        reservation.id,
        payment.merchantUid,
        payment.amount,
        payment.currency,
        decision.decidedBy,
        decision.at,
        decision.at,
        decision.at,
        reservation.id,
        new Date(), // the log's own time, as PaymentEventLog writes it: when it was written, on this machine
        decision.event.kind,
        decision.event.outcome,
        decision.event.message ?? null,
        JSON.stringify(decision.event.details ?? null),
      ],
    );
    if (rows.length === 0) return null;
    const confirmed = reservationOf(rows[0].reservation, reservation.seat);
    return { payment: paymentOf(rows[0].payment, confirmed), reservation: confirmed };
  }

  /**
   * The decision already recorded for a payment, with its current refund state. A payment that backs a
   * CONFIRMED booking reads as confirmed even when an operator's partial cancel needs attention.
   */
  async recordedOutcome(em: EntityManager, gatewayPaymentId: string): Promise<Decided | null> {
    const payment = await em.findOne(Payment, { gatewayPaymentId }, { populate: ['reservation'] });
    if (!payment) return null;
    const backsBooking = payment.decision === PaymentDecision.CONFIRMED && payment.reservation.status === ReservationStatus.CONFIRMED;
    const refund = backsBooking ? null : await em.findOne(Refund, { gatewayPaymentId });
    if (refund) return { kind: 'REFUNDED', payment, reservation: payment.reservation, refund };
    return { kind: 'CONFIRMED', payment, reservation: payment.reservation };
  }

  async reservationByMerchantUid(em: EntityManager, merchantUid: string): Promise<Reservation | null> {
    return em.fork().findOne(Reservation, { merchantUid });
  }

  /** Schedules reconciliation's look at a reported order (first soon, then backing off); only on the failure path. */
  async markReported(em: EntityManager, reservationId: string, at: Date): Promise<void> {
    await em
      .fork()
      .nativeUpdate(
        Reservation,
        { id: reservationId, status: { $in: [ReservationStatus.HELD, ReservationStatus.EXPIRED] } },
        { paymentReportedAt: at, reportCheckAt: at, reportChecks: 0 },
      );
  }
}
