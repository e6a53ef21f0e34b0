import { UniqueConstraintViolationException } from '@mikro-orm/core';
import type { EntityManager } from '@mikro-orm/postgresql';
import type { Logger } from 'pino';
import { Reservation, ReservationStatus } from '../../booking/reservation.entity';
import type { Clock } from '../../clock';
import { isConnectionFailure, transactionalWithRetry } from '../../db/transaction-retry';
import type { Failpoints } from '../../failpoints';
import { gatewayBalance, isGatewayError, type GatewayPayment, type PaymentGateway } from '../../gateway/payment-gateway';
import type { PaymentEventLog } from '../event-log/payment-event-log';
import { rememberVirtualAccount } from '../reconciliation/virtual-accounts';
import { RefundReason, RefundStatus } from '../refunds/refund.entity';
import type { RefundService } from '../refunds/refund.service';
import { PaymentDecision } from './payment.entity';
import { paymentState, verifyPayment } from './payment-verification';
import { RecordedPaymentFollowUp } from './recorded-payment-followup';
import { SettlementEvents } from './settlement-events';
import type { BuyerConfirmation, Decided, Settlement, SettlementSource } from './settlement-outcome';
import { SettlementRecords } from './settlement-records';

export type { Settlement, SettlementSource } from './settlement-outcome';

export interface SettlementPolicy {
  /** Accept test-channel payments as paid (PORTONE_ALLOW_SANDBOX). */
  allowSandbox: boolean;
  /** How long after its end a hold still keeps the seat from other buyers (a payment made just before may be settling). */
  holdGraceMs: number;
  /** V2: our store. A payment that names another store is somebody else's: never confirmed, never cancelled. */
  storeId?: string;
}

interface SettleOptions {
  source: SettlementSource;
  /** The reservation a client submitted the payment for: only attributes the audit of a payment that is not ours. */
  reportedForReservationId?: string;
  /** The caller already knows no decision exists for this payment (saves the look). */
  knownUndecided?: boolean;
}

/**
 * `settle(gatewayPaymentId)`: the one idempotent operation behind client confirmation, webhooks and
 * reconciliation (DESIGN §3), in three steps:
 *
 * 1. **read** the payment from PortOne, with no transaction open;
 * 2. **decide** in one short transaction: lock the seat, then the reservation, apply the pure rules,
 *    write the decision (a refund decision writes its refund row and queued attempt in it too);
 * 3. **act** after commit: a refund's first cancel is attempted at once; a failure leaves it to the queue.
 *
 * Settling a decided payment sends no second cancel; finding it cancelled at PortOne since is recorded.
 */
export class PaymentSettlementService {
  private readonly records = new SettlementRecords();
  private readonly events: SettlementEvents;
  private readonly followUps: RecordedPaymentFollowUp;

  constructor(
    private readonly gateway: PaymentGateway,
    private readonly refunds: RefundService,
    eventLog: PaymentEventLog,
    private readonly clock: Clock,
    private readonly failpoints: Failpoints,
    private readonly logger: Logger,
    private readonly policy: SettlementPolicy,
  ) {
    this.events = new SettlementEvents(eventLog);
    this.followUps = new RecordedPaymentFollowUp(this.records, refunds, this.events, clock);
  }

  /** Client confirmation: the buyer's own reservation, and the payment must not back another one (I5). */
  async confirmForBuyer(
    em: EntityManager,
    actor: { userId: string; isAdmin: boolean },
    input: { reservationId: string; paymentId: string; merchantUid: string },
  ): Promise<BuyerConfirmation> {
    const named = await this.records.buyersReservation(em, input.reservationId, input.paymentId);
    if (!named || (named.buyerId !== actor.userId && !actor.isAdmin)) return { kind: 'RESERVATION_NOT_FOUND', reservationId: input.reservationId };
    if (input.merchantUid !== named.merchantUid) {
      // Only a cross-check: decisions use the order id PortOne reports, never the client's.
      this.logger.warn({ reservationId: named.id, claimed: input.merchantUid }, "client sent a merchantUid that is not the reservation's");
    }
    let outcome: Settlement;
    try {
      outcome = await this.settle(em, input.paymentId, { source: 'CLIENT_CONFIRM', reportedForReservationId: named.id, knownUndecided: !named.paymentDecided });
    } catch (fault) {
      await this.markReported(em, named.id);
      throw fault;
    }
    // The buyer says they paid and we could not tell: reconciliation asks PortOne about this order again
    // later, with backoff. Refusals (not ours, not completed) need no second look.
    if (outcome.kind === 'UNKNOWN_PAYMENT' || outcome.kind === 'GATEWAY_UNAVAILABLE') await this.markReported(em, named.id);
    if ((outcome.kind === 'CONFIRMED' || outcome.kind === 'REFUNDED') && outcome.reservation.id !== named.id) {
      return { kind: 'PAYMENT_ALREADY_USED', gatewayPaymentId: input.paymentId };
    }
    return outcome;
  }

  async settle(em: EntityManager, gatewayPaymentId: string, options: SettleOptions): Promise<Settlement> {
    const recorded = options.knownUndecided ? null : await this.records.recordedOutcome(em.fork(), gatewayPaymentId);
    // A client repeating its confirmation of a refund gets the recorded decision without another PortOne
    // read (the refund's own attempts read it). A kept booking is read again by every path: PortOne may
    // show it cancelled outside this server since, and then the booking must not read as paid.
    if (recorded?.kind === 'REFUNDED' && options.source === 'CLIENT_CONFIRM') return recorded;

    const read = await this.read(em, gatewayPaymentId, options);
    if (!read.ok) return read.outcome;
    const { payment } = read;
    this.failpoints.hit('after-gateway-read');
    if (recorded) return this.followUps.followUp(em, recorded, payment, options.source);

    // A V2 payment id is unique per store only: under another store the same id is another shop's order.
    if (payment.storeId !== undefined && payment.storeId !== this.policy.storeId) return this.notOurs(em, payment, options, true);
    const state = paymentState(payment, this.policy);
    if (!state.paid) return this.notPaid(em, payment, options, state.detail);
    return this.decideAndAct(em, payment, options);
  }

  /** Step 1. PortOne's answer, or why there is none; a misconfigured gateway is a fault. */
  private async read(
    em: EntityManager,
    gatewayPaymentId: string,
    options: SettleOptions,
  ): Promise<{ ok: true; payment: GatewayPayment } | { ok: false; outcome: Settlement }> {
    try {
      return { ok: true, payment: await this.gateway.getPayment(gatewayPaymentId) };
    } catch (error) {
      if (!isGatewayError(error)) throw error;
      await this.events.gatewayReadFailed(em, gatewayPaymentId, options.reportedForReservationId ?? null, options.source, error);
      if (error.kind === 'NOT_FOUND') return { ok: false, outcome: { kind: 'UNKNOWN_PAYMENT', gatewayPaymentId } };
      if (error.kind === 'MISCONFIGURED') throw error;
      return { ok: false, outcome: { kind: 'GATEWAY_UNAVAILABLE', gatewayPaymentId } };
    }
  }

  /** Steps 2 and 3 for a paid payment. */
  private async decideAndAct(em: EntityManager, payment: GatewayPayment, options: SettleOptions): Promise<Settlement> {
    let decided: Decided | 'NO_RESERVATION' | 'DECIDED_MEANWHILE';
    try {
      decided = await transactionalWithRetry(em, (tx) => this.decide(tx, payment, options.source));
      this.failpoints.hit('after-decision-commit');
    } catch (error) {
      if (isConnectionFailure(error)) {
        // The COMMIT may have landed: acting as if it had not (a compensating cancel) could refund a kept
        // booking (I2). The webhook and the sweep settle this payment once the database answers.
        this.logger.error({ err: error, gatewayPaymentId: payment.gatewayPaymentId }, 'decision outcome unknown (database connection lost); left to the sweep');
        throw error;
      }
      if (error instanceof UniqueConstraintViolationException) {
        const raced = await this.records.recordedOutcome(em.fork(), payment.gatewayPaymentId);
        if (raced) return raced;
      }
      return this.recoverFromDecisionFailure(em, payment, error);
    }
    if (decided === 'NO_RESERVATION') return this.notOurs(em, payment, options, false);
    if (decided === 'DECIDED_MEANWHILE') return (await this.records.recordedOutcome(em.fork(), payment.gatewayPaymentId)) ?? this.raceLost(payment);
    // Step 3: the refund row was created leased to this attempt, with the payment just read.
    if (decided.kind === 'REFUNDED' && decided.refund.status === RefundStatus.PENDING) {
      return { ...decided, refund: await this.refunds.attemptClaimed(decided.refund, payment) };
    }
    return decided;
  }

  /**
   * Step 2, inside one transaction. A kept payment is two statements: the locking read, and one that
   * writes the decision, confirms the reservation and adds the audit row. A refund writes the decision,
   * its refund row, its queued job and the audit row.
   */
  private async decide(tx: EntityManager, payment: GatewayPayment, source: SettlementSource): Promise<Decided | 'NO_RESERVATION' | 'DECIDED_MEANWHILE'> {
    const locked = await this.records.lockForDecision(tx, { merchantUid: payment.merchantUid });
    if (!locked) return 'NO_RESERVATION';
    const { reservation, seat } = locked;
    const now = this.clock.now();
    // The seat's unique index keeps a HELD reservation alone on its seat: only a late payment (the hold
    // ended) can meet another buyer's hold or booking.
    const others = reservation.status === ReservationStatus.HELD ? [] : await this.records.othersOnSeat(tx, reservation);
    const occupying = others.filter((o) => o.status === ReservationStatus.CONFIRMED || o.expiresAt.getTime() + this.policy.holdGraceMs > now.getTime());
    const verdict = verifyPayment(
      {
        status: reservation.status,
        amount: reservation.amount,
        merchantUid: reservation.merchantUid,
        expiresAt: reservation.expiresAt,
        eventStartsAt: seat.event.startsAt,
        seatTakenByOther: occupying.length > 0,
      },
      payment,
      now,
      this.policy,
    );
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

  private async notOurs(em: EntityManager, payment: GatewayPayment, options: SettleOptions, otherStore: boolean): Promise<Settlement> {
    await this.events.notOurs(em, payment, options.reportedForReservationId ?? null, options.source, otherStore);
    return { kind: 'NOT_OURS', gatewayPaymentId: payment.gatewayPaymentId };
  }

  /** Not (yet) paid: audit it, and remember an issued virtual account so it can be revoked when the hold ends. */
  private async notPaid(em: EntityManager, payment: GatewayPayment, options: SettleOptions, detail: string): Promise<Settlement> {
    const target = await this.records.reservationByMerchantUid(em, payment.merchantUid);
    if (!target) return this.notOurs(em, payment, options, false);
    await this.events.notPaid(em, payment, target.id, options.source, detail);
    if (payment.isVirtualAccount && payment.status === 'READY') {
      await rememberVirtualAccount(em.fork(), payment.gatewayPaymentId, target.id, this.clock.now());
    }
    return { kind: 'NOT_PAID', gatewayPaymentId: payment.gatewayPaymentId, detail };
  }

  /**
   * The decision could not be written, yet the money was taken, and the database said so (nothing
   * committed). Record an INTERNAL_ERROR refund through the normal durable path. If even that cannot be
   * written, fail: nothing is cancelled without a record, and the sweep settles the payment once the
   * database is usable again.
   */
  private async recoverFromDecisionFailure(em: EntityManager, payment: GatewayPayment, failure: unknown): Promise<Settlement> {
    this.logger.error({ err: failure, gatewayPaymentId: payment.gatewayPaymentId }, 'payment decision failed after the money was taken');
    const recorded = await this.records.recordedOutcome(em.fork(), payment.gatewayPaymentId);
    if (recorded) return recorded;
    const decided = await transactionalWithRetry(em, async (tx) => {
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
      return { kind: 'REFUNDED' as const, payment: record, reservation, refund };
    });
    if (!decided) return (await this.records.recordedOutcome(em.fork(), payment.gatewayPaymentId)) ?? this.raceLost(payment);
    if (decided.refund.status !== RefundStatus.PENDING) return decided;
    return { ...decided, refund: await this.refunds.attemptClaimed(decided.refund, payment) };
  }

  private raceLost(payment: GatewayPayment): never {
    throw new Error(`payment ${payment.gatewayPaymentId} was decided by another path, yet no decision can be read`);
  }

  private async markReported(em: EntityManager, reservationId: string): Promise<void> {
    await this.records
      .markReported(em, reservationId, this.clock.now())
      .catch((error) => this.logger.warn({ err: error, reservationId }, 'could not mark a reported payment'));
  }
}
