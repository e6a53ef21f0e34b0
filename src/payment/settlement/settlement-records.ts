import type { EntityManager } from '@mikro-orm/postgresql';
import { Event } from '../../booking/event.entity';
import { Reservation, ReservationStatus } from '../../booking/reservation.entity';
import { Seat } from '../../booking/seat.entity';
import type { GatewayPayment } from '../../gateway/payment-gateway';
import { Refund } from '../refunds/refund.entity';
import { Payment, PaymentDecision } from './payment.entity';
import type { PaymentEventEntry } from '../event-log/payment-event-log';
import type { Decided } from './settlement-outcome';
import { paymentOf, reservationOf, reservationWithSeatOf, type Row } from './settlement-rows';

/** The reservation a buyer named, read before PortOne was asked. */
export interface NamedReservation {
  reservation: Reservation;
  seat: Seat;
  /** A decision for the submitted payment existed when this was read. */
  paymentDecided: boolean;
}

export interface LockedForDecision {
  /** Detached copies read by the locking statement: for deciding, and for the answer. */
  reservation: Reservation;
  /** With its event: the request's loaders are primed with both. */
  seat: Seat;
  /** The reservation as a managed entity, for a path that changes it through the unit of work. */
  manage(): Reservation;
}

/**
 * What settle reads and writes in PostgreSQL. The statements on a confirm's path are written by hand
 * (the buyer's reservation read, one statement that locks, compares and writes a kept payment, the
 * locking read and the decision insert of the transaction) because a ticket opening runs thousands of
 * them a minute. Their rows come back as detached copies; a refund decision asks for the reservation as a
 * managed entity (`manage()`), so the rest of its unit of work is ordinary MikroORM and one flush.
 */
export class SettlementRecords {
  /**
   * The reservation a buyer names, with its seat and event, and whether this payment was decided before:
   * one statement, read before PortOne is asked (so unlocked: a decision made on it is written only if
   * the row is still as read, see `recordConfirmation`).
   */
  async namedReservation(em: EntityManager, reservationId: string, gatewayPaymentId: string): Promise<NamedReservation | null> {
    const rows: Array<{ reservation: Row; seat: Row; event: Row; decided: boolean }> = await em.execute(
      `select to_jsonb(r) as reservation, to_jsonb(s) as seat, to_jsonb(e) as event,
              exists (select 1 from payment p where p.gateway_payment_id = ?) as decided
         from reservation r
         join seat s on s.id = r.seat_id
         join event e on e.id = s.event_id
        where r.id = ?`,
      [gatewayPaymentId, reservationId],
    );
    return rows.length === 0 ? null : { ...reservationWithSeatOf(rows[0]), paymentDecided: rows[0].decided };
  }

  /**
   * Locks the seat, then the reservation (the one lock order of the whole server, src/db/transaction-retry.ts)
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
    return {
      ...reservationWithSeatOf(row),
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
   * A kept payment in one statement: the decision row, the reservation CONFIRMED, and its audit entry,
   * written only if the reservation is still as it was read when the rules said "confirm" (the same
   * status and version; what else the rules read never changes: the price snapshot, the order id, the
   * event's start). The statement takes the locks a decision takes, in the same order (the seat in a
   * materialized CTE, then the reservation; PostgreSQL re-checks the locked row's newest version) and
   * compares the row itself, so it is safe with or without a transaction around it: the client's
   * confirmation sends it alone, on a row read before PortOne was asked. Null when nothing was written:
   * the row changed, or this payment was decided meanwhile (a webhook and the buyer's confirm at once;
   * the unique gateway id, I5).
   */
  async recordConfirmation(
    em: EntityManager,
    payment: GatewayPayment,
    asRead: Reservation,
    decision: { decidedBy: string; at: Date; event: PaymentEventEntry },
  ): Promise<{ payment: Payment; reservation: Reservation } | null> {
    const rows: Array<{ payment: Row; reservation: Row }> = await em.execute(
      `with locked_seat as materialized (
         select s.id from seat s where s.id = (select seat_id from reservation where id = ?) for update
       ), still_as_read as (
         select r.id from reservation r
           join locked_seat ls on ls.id = r.seat_id
          where r.id = ? and r.status = ?::reservation_status and r.version = ?
            for update of r
       ), decided as (
         insert into payment (id, gateway_payment_id, reservation_id, merchant_uid, amount, currency, decision, refund_reason, decided_by, decided_at)
         select gen_random_uuid(), ?, id, ?, ?, ?, 'CONFIRMED', null, ?, ? from still_as_read
         on conflict (gateway_payment_id) do nothing
         returning *
       ), confirmed as (
         update reservation set status = 'CONFIRMED', confirmed_at = ?, report_check_at = null, updated_at = ?, version = version + 1
          where id = (select reservation_id from decided)
          returning *
       ), logged as (
         insert into payment_event (at, reservation_id, gateway_payment_id, kind, outcome, message, details)
         select ?, reservation_id, gateway_payment_id, ?, ?, ?, ?::jsonb from decided
       )
       select to_jsonb(decided) as payment, (select to_jsonb(confirmed) from confirmed) as reservation from decided`,
      [
        asRead.id,
        asRead.id,
        asRead.status,
        asRead.version,
        payment.gatewayPaymentId,
        payment.merchantUid,
        payment.amount,
        payment.currency,
        decision.decidedBy,
        decision.at,
        decision.at,
        decision.at,
        new Date(), // the log's own time, as PaymentEventLog writes it: when it was written, on this machine
        decision.event.kind,
        decision.event.outcome,
        decision.event.message ?? null,
        JSON.stringify(decision.event.details ?? null),
      ],
    );
    if (rows.length === 0) return null;
    const confirmed = reservationOf(rows[0].reservation, asRead.seat);
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
