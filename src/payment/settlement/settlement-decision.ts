import type { EntityManager } from '@mikro-orm/postgresql';
import type { Logger } from 'pino';
import { Reservation, ReservationStatus } from '../../booking/reservation.entity';
import type { Seat } from '../../booking/seat.entity';
import type { Clock } from '../../clock';
import { isConnectionFailure } from '../../db/transaction-retry';
import type { Failpoints } from '../../failpoints';
import { gatewayBalance, type GatewayPayment } from '../../gateway/payment-gateway';
import { RefundReason } from '../refunds/refund.entity';
import type { RefundService } from '../refunds/refund.service';
import { PaymentDecision } from './payment.entity';
import { verifyPayment, type ReservationFacts, type VerificationPolicy } from './payment-verification';
import type { SettlementEvents } from './settlement-events';
import type { Decided, SettlementSource } from './settlement-outcome';
import type { NamedReservation, SettlementRecords } from './settlement-records';

export interface DecisionPolicy extends VerificationPolicy {
  /** How long after its end a hold still keeps the seat from other buyers (a payment made just before may be settling). */
  holdGraceMs: number;
}

export type LockedDecision = Decided | 'NO_RESERVATION' | 'DECIDED_MEANWHILE';
type Refunded = Extract<Decided, { kind: 'REFUNDED' }>;

function factsOf(reservation: Reservation, seat: Seat, seatTakenByOther: boolean): ReservationFacts {
  return {
    status: reservation.status,
    amount: reservation.amount,
    merchantUid: reservation.merchantUid,
    expiresAt: reservation.expiresAt,
    eventStartsAt: seat.event.startsAt,
    seatTakenByOther,
  };
}

/**
 * Step 2 of settle: a paid payment decided against its reservation and the decision written, atomically.
 * Nothing here calls PortOne. A kept payment is written by one statement (`recordConfirmation`); a
 * refund writes its decision, its refund row (the outbox, leased to the attempt that follows commit), its
 * queued backup job and the audit row in one transaction.
 */
export class SettlementDecision {
  constructor(
    private readonly records: SettlementRecords,
    private readonly refunds: RefundService,
    private readonly events: SettlementEvents,
    private readonly clock: Clock,
    private readonly failpoints: Failpoints,
    private readonly logger: Logger,
    private readonly policy: DecisionPolicy,
  ) {}

  /**
   * The buyer's own hold, in one statement and no transaction of its own: the rules applied to the
   * reservation read before PortOne was asked, the confirmation written only if the row is still as read
   * (the statement locks the seat, then the reservation, as `underLock` does, and compares the row). A
   * held reservation is alone on its seat (the seat's unique index), so there is no other booking to
   * look at. Null, and `underLock` decides from scratch, for anything else: another verdict, the row
   * changed or the payment decided meanwhile, or a statement that failed (unless the connection did: then
   * whether it committed is unknown, and that is thrown).
   *
   * Why not the locking transaction for everyone: on a ticket opening this is nearly every confirm, and
   * BEGIN, the locking read and COMMIT were three of its five round trips.
   */
  async confirmAsRead(em: EntityManager, payment: GatewayPayment, named: NamedReservation, source: SettlementSource): Promise<Decided | null> {
    const { reservation, seat } = named;
    if (reservation.status !== ReservationStatus.HELD || reservation.merchantUid !== payment.merchantUid) return null;
    const now = this.clock.now();
    if (verifyPayment(factsOf(reservation, seat, false), payment, now, this.policy).kind !== 'CONFIRM') return null;
    const entry = this.events.confirmedEntry(payment, reservation, source);
    this.failpoints.hit('before-decision-commit');
    let confirmed: Awaited<ReturnType<SettlementRecords['recordConfirmation']>>;
    try {
      confirmed = await this.records.recordConfirmation(em, payment, reservation, { decidedBy: source, at: now, event: entry });
    } catch (error) {
      if (isConnectionFailure(error)) throw error;
      this.logger.warn({ err: error, gatewayPaymentId: payment.gatewayPaymentId }, 'confirming the hold as read failed; deciding again under lock');
      return null;
    }
    if (!confirmed) return null;
    this.events.written(entry);
    return { kind: 'CONFIRMED', ...confirmed, loaded: { seat } };
  }

  /**
   * Inside one transaction: lock the seat, then the reservation, apply the rules, write the decision.
   * A kept payment is the locking read and one writing statement (more only when stale holds of others
   * must end first).
   */
  async underLock(tx: EntityManager, payment: GatewayPayment, source: SettlementSource): Promise<LockedDecision> {
    const locked = await this.records.lockForDecision(tx, { merchantUid: payment.merchantUid });
    if (!locked) return 'NO_RESERVATION';
    const { reservation, seat } = locked;
    const now = this.clock.now();
    // The seat's unique index keeps a HELD reservation alone on its seat: only a late payment (the hold
    // ended) can meet another buyer's hold or booking.
    const others = reservation.status === ReservationStatus.HELD ? [] : await this.records.othersOnSeat(tx, reservation);
    const occupying = others.filter((o) => o.status === ReservationStatus.CONFIRMED || o.expiresAt.getTime() + this.policy.holdGraceMs > now.getTime());
    const verdict = verifyPayment(factsOf(reservation, seat, occupying.length > 0), payment, now, this.policy);
    // paymentState said paid a moment ago; the rules agree unless they were changed to disagree.
    if (verdict.kind === 'NOT_PAID') throw new Error(`verification found payment ${payment.gatewayPaymentId} not paid after it read as paid`);
    if (verdict.kind !== 'CONFIRM') {
      const managed = locked.manage();
      const record = await this.records.insertDecision(tx, payment, managed, {
        decision: PaymentDecision.REFUND,
        reason: verdict.reason,
        decidedBy: source,
        at: now,
      });
      if (!record) return 'DECIDED_MEANWHILE';
      managed.reportCheckAt = null;
      const refund = await this.recordRefund(tx, payment, managed, { reason: verdict.reason, decidedBy: source, eventKind: 'DECISION', message: verdict.detail });
      this.failpoints.hit('before-decision-commit');
      await tx.flush();
      return { kind: 'REFUNDED', payment: record, reservation: managed, refund, loaded: { seat } };
    }
    // Stale holds of others on this seat end first, in their own statement: one UPDATE that also
    // confirms ours could meet the seat's uniqueness guard before the stale row is changed.
    const stale = others.map((o) => o.id);
    if (stale.length > 0) await tx.nativeUpdate(Reservation, { id: { $in: stale }, status: ReservationStatus.HELD }, { status: ReservationStatus.EXPIRED });
    const entry = this.events.confirmedEntry(payment, reservation, source);
    const confirmed = await this.records.recordConfirmation(tx, payment, reservation, { decidedBy: source, at: now, event: entry });
    if (!confirmed) return 'DECIDED_MEANWHILE';
    this.failpoints.hit('before-decision-commit');
    this.events.written(entry);
    return { kind: 'CONFIRMED', ...confirmed, loaded: { seat } };
  }

  /** After a decision failed with nothing committed: an INTERNAL_ERROR refund, in its own transaction. Null if decided meanwhile. */
  async internalErrorUnderLock(tx: EntityManager, payment: GatewayPayment, failure: unknown): Promise<Refunded | null> {
    const locked = await this.records.lockForDecision(tx, { merchantUid: payment.merchantUid });
    if (!locked) throw failure;
    const reservation = locked.manage();
    const record = await this.records.insertDecision(tx, payment, reservation, {
      decision: PaymentDecision.REFUND,
      reason: RefundReason.INTERNAL_ERROR,
      decidedBy: 'RECOVERY',
      at: this.clock.now(),
    });
    if (!record) return null;
    reservation.reportCheckAt = null;
    const refund = await this.recordRefund(tx, payment, reservation, {
      reason: RefundReason.INTERNAL_ERROR,
      decidedBy: 'RECOVERY',
      eventKind: 'DECISION_FAILED',
      message: failure instanceof Error ? failure.message : String(failure),
    });
    await tx.flush();
    return { kind: 'REFUNDED', payment: record, reservation, refund };
  }

  /** The refund row (the outbox, leased to the attempt that follows commit), its queued backup and the audit entry. */
  private async recordRefund(
    tx: EntityManager,
    payment: GatewayPayment,
    reservation: Reservation,
    decision: { reason: RefundReason; decidedBy: string; eventKind: 'DECISION' | 'DECISION_FAILED'; message: string },
  ) {
    const refund = await this.refunds.createInTransaction(
      tx,
      { reservation, gatewayPaymentId: payment.gatewayPaymentId, amount: gatewayBalance(payment), currency: payment.currency, reason: decision.reason },
      { claimFirstAttempt: true },
    );
    this.events.refundDecided(tx, payment, reservation, refund, decision);
    return refund;
  }
}
