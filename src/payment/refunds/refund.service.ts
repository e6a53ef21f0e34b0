import { LockMode } from '@mikro-orm/core';
import type { EntityManager, MikroORM } from '@mikro-orm/postgresql';
import type { Logger } from 'pino';
import { Reservation, ReservationStatus } from '../../booking/reservation.entity';
import { isUuid } from '../../booking/event.service';
import type { Clock } from '../../clock';
import { transactionalWithRetry } from '../../db/transaction-retry';
import type { Failpoints } from '../../failpoints';
import { gatewayBalance, isGatewayError, type GatewayPayment, type PaymentGateway } from '../../gateway/payment-gateway';
import { badUserInput, forbidden, notFound } from '../../errors';
import { instantIdCursor, pageFromCursor, pageRequest, type Page, type PageArgs } from '../../graphql/pagination';
import { Payment, PaymentDecision } from '../settlement/payment.entity';
import type { PaymentEventLog } from '../event-log/payment-event-log';
import { Refund, RefundReason, RefundStatus } from './refund.entity';
import { refundBackoffMs, scheduleRefundAttempt } from './refund-queue';

export interface RefundPolicy {
  /** Transient failures are retried this long after the refund was decided (or an admin retried it). */
  retryWindowMs: number;
  backoffBaseMs: number;
  backoffMaxMs: number;
  /** How long one attempt may own a refund before another worker may try: longer than the slowest attempt. */
  attemptLeaseMs: number;
}

type AttemptResult =
  | { kind: 'SUCCEEDED'; cancellationId: string | null; note: string }
  /** Retrying may help (PortOne unreachable, outcome unknown, credentials refused for now). */
  | { kind: 'RETRY'; error: string; errorKind: string }
  /** Retrying as-is will not help: an operator (or the buyer's refund account) must act. */
  | { kind: 'STUCK'; error: string; errorKind: string };

/** Gateway failures worth another attempt later; everything else is a refusal an operator must see. */
const TRANSIENT = new Set(['UNAVAILABLE', 'OUTCOME_UNKNOWN', 'MISCONFIGURED', 'INTERNAL']);

/**
 * Drives refunds from PENDING to SUCCEEDED (or NEEDS_ATTENTION when retrying cannot help or the retry
 * window has passed).
 *
 * Every attempt first reads the payment back from the gateway: that resolves an earlier attempt whose
 * outcome was unknown and gives the balance for the cancel's guard, so a payment is never cancelled twice
 * or for more than was paid (I3). Success is decided on the balance read back, never on a status string.
 * No transaction is open while the gateway is called; a lease on the refund row, and the attempt number
 * that fences every write, keep two attempts from acting on one refund.
 */
export class RefundService {
  constructor(
    private readonly orm: MikroORM,
    private readonly gateway: PaymentGateway,
    private readonly events: PaymentEventLog,
    private readonly policy: RefundPolicy,
    private readonly clock: Clock,
    private readonly failpoints: Failpoints,
    private readonly logger: Logger,
  ) {}

  /** Creates a refund and (when there is money to give back) its first queued attempt inside the caller's decision transaction. */
  async createInTransaction(
    tx: EntityManager,
    params: { reservation: Reservation; gatewayPaymentId: string; amount: number; currency?: string; reason: RefundReason },
  ): Promise<Refund> {
    const now = this.clock.now();
    const nothingToGiveBack = params.amount <= 0;
    const refund = tx.create(Refund, {
      gatewayPaymentId: params.gatewayPaymentId,
      reservation: params.reservation,
      amount: Math.max(0, params.amount),
      currency: params.currency ?? 'KRW',
      reason: params.reason,
      giveUpAt: new Date(now.getTime() + this.policy.retryWindowMs),
      createdAt: now,
      updatedAt: now,
      // A 0-won payment: the decision stands, and there is nothing to cancel at PortOne.
      ...(nothingToGiveBack ? { status: RefundStatus.SUCCEEDED, succeededAt: now } : {}),
    });
    await tx.flush();
    if (nothingToGiveBack) return refund;
    // The queued job is the durable path; the caller also attempts at once after commit, and the job
    // then finds nothing left to do.
    const backupAt = new Date(now.getTime() + this.policy.backoffBaseMs);
    refund.nextAttemptAt = backupAt;
    await scheduleRefundAttempt(tx, refund.id, backupAt);
    return refund;
  }

  /** One cancel attempt; safe to call any number of times from anywhere. Returns the refund afterwards. */
  async attempt(refundId: string): Promise<Refund | null> {
    const claim = await this.claim(refundId);
    if (!claim) return this.orm.em.fork().findOne(Refund, refundId);

    let result: AttemptResult;
    try {
      result = await this.cancelAtGateway(claim);
    } catch (error) {
      if (isGatewayError(error)) {
        result = { kind: TRANSIENT.has(error.kind) ? 'RETRY' : 'STUCK', error: error.message, errorKind: error.kind };
      } else {
        this.logger.error({ err: error, refundId }, 'unexpected error during a refund attempt');
        result = { kind: 'RETRY', error: error instanceof Error ? error.message : String(error), errorKind: 'INTERNAL' };
      }
    }
    return this.recordAttempt(claim, result);
  }

  /**
   * Admin: put a refund back into the retry loop with a fresh window and attempt it now. An attempt
   * already in flight is left alone (its lease fences a second cancel). A partial cancel made outside
   * this server is settled by cancelling the rest, and the booking it leaves ends in the same transaction (I2).
   */
  async retry(em: EntityManager, refundId: string): Promise<Refund> {
    if (!isUuid(refundId)) throw badUserInput('id', 'must be a UUID');
    const inFlight = await transactionalWithRetry(em, async (tx) => {
      const refund = await tx.findOne(Refund, refundId, { lockMode: LockMode.PESSIMISTIC_WRITE });
      if (!refund) throw notFound('Refund', refundId);
      if (refund.status === RefundStatus.SUCCEEDED) return false;
      const now = this.clock.now();
      if (refund.status === RefundStatus.PENDING && refund.attemptLeaseUntil && refund.attemptLeaseUntil.getTime() > now.getTime()) return true;
      if (refund.reason === RefundReason.CANCELLED_AT_GATEWAY) await this.endBookingForRefund(tx, refund, now);
      refund.status = RefundStatus.PENDING;
      refund.giveUpAt = new Date(now.getTime() + this.policy.retryWindowMs);
      refund.attemptLeaseUntil = null;
      this.events.add(tx, {
        kind: 'REFUND_STATUS',
        outcome: 'RETRY_REQUESTED',
        refundId,
        reservationId: refund.reservation.id,
        gatewayPaymentId: refund.gatewayPaymentId,
        message: 'an admin asked for another attempt',
      });
      return false;
    });
    const after = inFlight ? null : await this.attempt(refundId);
    return after ?? (await em.fork().findOneOrFail(Refund, refundId));
  }

  /**
   * The buyer (owner of the reservation) or an admin gives the bank account a virtual-account refund
   * needs; a refund waiting for it goes back to PENDING and is attempted now.
   */
  async provideRefundAccount(
    em: EntityManager,
    actor: { userId: string; isAdmin: boolean },
    input: { refundId: string; bank: string; holder: string; account: string },
  ): Promise<Refund> {
    if (!isUuid(input.refundId)) throw badUserInput('input.refundId', 'must be a UUID');
    await transactionalWithRetry(em, async (tx) => {
      const refund = await tx.findOne(Refund, input.refundId, { lockMode: LockMode.PESSIMISTIC_WRITE, populate: ['reservation'] });
      if (!refund) throw notFound('Refund', input.refundId);
      if (refund.reservation.buyerId !== actor.userId && !actor.isAdmin) throw forbidden('This refund belongs to another buyer');
      if (refund.status === RefundStatus.SUCCEEDED) return;
      refund.refundAccount = { bank: input.bank, holder: input.holder, account: input.account };
      if (refund.status === RefundStatus.NEEDS_ATTENTION && refund.reason !== RefundReason.CANCELLED_AT_GATEWAY) {
        refund.status = RefundStatus.PENDING;
        refund.giveUpAt = new Date(this.clock.now().getTime() + this.policy.retryWindowMs);
      }
      this.events.add(tx, {
        kind: 'REFUND_STATUS',
        outcome: 'REFUND_ACCOUNT_GIVEN',
        refundId: refund.id,
        reservationId: refund.reservation.id,
        gatewayPaymentId: refund.gatewayPaymentId,
        message: `refund account given by ${actor.isAdmin ? 'an admin' : 'the buyer'}`,
      });
    });
    return (await this.attempt(input.refundId)) ?? (await em.fork().findOneOrFail(Refund, input.refundId));
  }

  /**
   * PortOne shows the payment fully cancelled (the sweep or a webhook saw it): a refund still PENDING or
   * NEEDS_ATTENTION is done; nothing is sent.
   */
  async markDoneAtGateway(refundId: string, payment: GatewayPayment): Promise<void> {
    if (gatewayBalance(payment) > 0) return;
    await transactionalWithRetry(this.orm.em, async (tx) => {
      const refund = await tx.findOne(Refund, refundId, { lockMode: LockMode.PESSIMISTIC_WRITE });
      if (!refund || refund.status === RefundStatus.SUCCEEDED) return;
      const now = this.clock.now();
      if (refund.reason === RefundReason.CANCELLED_AT_GATEWAY) await this.endBookingForRefund(tx, refund, now);
      const previous = refund.status;
      this.succeed(refund, now, payment.cancellations[payment.cancellations.length - 1]?.cancellationId ?? null);
      this.events.add(tx, {
        kind: 'REFUND_STATUS',
        outcome: 'SUCCEEDED',
        refundId: refund.id,
        reservationId: refund.reservation.id,
        gatewayPaymentId: refund.gatewayPaymentId,
        message: `PortOne shows the payment fully cancelled; the ${previous} refund is done`,
      });
    });
  }

  /** One page of refunds, newest first, optionally of one status: keyset pagination on (createdAt, id), both descending. */
  async list(em: EntityManager, status: RefundStatus | null, args: PageArgs): Promise<Page<Refund>> {
    const cursorKind = instantIdCursor('refund');
    const page = pageRequest(cursorKind, args);
    const cursor = await em.findByCursor(Refund, status ? { status } : {}, {
      first: page.first,
      after: page.after ? { createdAt: new Date(page.after[0]), id: page.after[1] } : undefined,
      orderBy: { createdAt: 'desc', id: 'desc' },
      includeCount: false,
    });
    return pageFromCursor(cursor, cursorKind, (refund) => [refund.createdAt.toISOString(), refund.id]);
  }

  /**
   * The buyer cancels a CONFIRMED booking: in one transaction the reservation leaves CONFIRMED and the
   * refund is recorded (I2), then the cancel is attempted after commit.
   */
  async cancelConfirmed(em: EntityManager, reservationId: string): Promise<Reservation> {
    const refundId = await transactionalWithRetry(em, async (tx) => {
      const reservation = await tx.findOneOrFail(Reservation, reservationId, {
        lockMode: LockMode.PESSIMISTIC_WRITE,
        refresh: true,
      });
      if (reservation.status !== ReservationStatus.CONFIRMED) {
        throw badUserInput('input.reservationId', `a ${reservation.status} reservation cannot be cancelled with a refund`);
      }
      await tx.populate(reservation, ['seat.event']);
      const now = this.clock.now();
      if (reservation.seat.event.startsAt.getTime() <= now.getTime()) {
        throw badUserInput('input.reservationId', 'the event has already started; the booking can no longer be cancelled');
      }
      const payment = await tx.findOne(Payment, { reservation, decision: PaymentDecision.CONFIRMED });
      if (!payment) throw new Error(`Confirmed reservation ${reservation.id} has no confirmed payment`);
      const partial = await tx.findOne(Refund, { gatewayPaymentId: payment.gatewayPaymentId });
      reservation.status = ReservationStatus.CANCELLED;
      reservation.cancelledAt = now;
      // An operator's partial cancel already has the payment's one refund row: it becomes the buyer's.
      const refund =
        partial ??
        (await this.createInTransaction(tx, {
          reservation,
          gatewayPaymentId: payment.gatewayPaymentId,
          amount: payment.amount,
          currency: payment.currency,
          reason: RefundReason.BUYER_CANCELLED,
        }));
      if (partial && partial.status !== RefundStatus.SUCCEEDED) {
        partial.status = RefundStatus.PENDING;
        partial.giveUpAt = new Date(now.getTime() + this.policy.retryWindowMs);
        await scheduleRefundAttempt(tx, partial.id, now);
      }
      this.events.add(tx, {
        kind: 'DECISION',
        outcome: 'REFUND',
        reservationId: reservation.id,
        gatewayPaymentId: payment.gatewayPaymentId,
        refundId: refund.id,
        message: 'the buyer cancelled the booking',
        details: { reason: RefundReason.BUYER_CANCELLED, amount: payment.amount },
      });
      return refund.id;
    });
    await this.attempt(refundId);
    return em.fork().findOneOrFail(Reservation, reservationId);
  }

  /** A CONFIRMED booking whose payment is being (or was) cancelled outside our decision ends with it (I2). */
  private async endBookingForRefund(tx: EntityManager, refund: Refund, now: Date): Promise<void> {
    const reservation = await tx.findOneOrFail(Reservation, refund.reservation.id, { lockMode: LockMode.PESSIMISTIC_WRITE, refresh: true });
    const backing = await tx.findOne(Payment, { gatewayPaymentId: refund.gatewayPaymentId, decision: PaymentDecision.CONFIRMED });
    if (reservation.status === ReservationStatus.CONFIRMED && backing?.reservation.id === reservation.id) {
      reservation.status = ReservationStatus.CANCELLED;
      reservation.cancelledAt = now;
    }
  }

  private async claim(refundId: string) {
    return transactionalWithRetry(this.orm.em, async (tx) => {
      const refund = await tx.findOne(Refund, refundId, { lockMode: LockMode.PESSIMISTIC_WRITE });
      if (!refund || refund.status !== RefundStatus.PENDING) return null;
      const now = this.clock.now();
      if (refund.attemptLeaseUntil && refund.attemptLeaseUntil.getTime() > now.getTime()) return null;
      refund.attempts += 1;
      refund.attemptLeaseUntil = new Date(now.getTime() + this.policy.attemptLeaseMs);
      return {
        id: refund.id,
        gatewayPaymentId: refund.gatewayPaymentId,
        reason: refund.reason,
        attempt: refund.attempts,
        reservationId: refund.reservation.id,
        refundAccount: refund.refundAccount,
      };
    });
  }

  private async cancelAtGateway(claim: {
    id: string;
    gatewayPaymentId: string;
    reason: RefundReason;
    refundAccount: Refund['refundAccount'];
  }): Promise<AttemptResult> {
    const current = await this.gateway.getPayment(claim.gatewayPaymentId);
    const balance = gatewayBalance(current);
    if (balance <= 0) {
      const last = current.cancellations[current.cancellations.length - 1];
      return { kind: 'SUCCEEDED', cancellationId: last?.cancellationId ?? null, note: 'PortOne shows nothing left to cancel' };
    }
    if (current.status === 'READY' || current.status === 'FAILED') {
      return { kind: 'STUCK', errorKind: 'NOT_PAID', error: `payment is ${current.status} at PortOne; nothing can be cancelled` };
    }
    if (current.isVirtualAccount && !claim.refundAccount) {
      return {
        kind: 'STUCK',
        errorKind: 'REFUND_ACCOUNT_NEEDED',
        error: 'a virtual-account payment is refunded to a bank account: the buyer (provideRefundAccount) or an admin must give one',
      };
    }
    // Everything still paid, with the balance as the guard: PortOne refuses if it changed meanwhile (I3).
    try {
      const after = await this.gateway.cancelPayment({
        gatewayPaymentId: claim.gatewayPaymentId,
        amount: balance,
        expectedCancellableAmount: balance,
        reason: `booking refund: ${claim.reason}`,
        refundAccount: claim.refundAccount,
        // One key per refund, the same on every retry (V2 Idempotency-Key; V1 ignores it).
        idempotencyKey: `refund:${claim.id}`,
        currency: current.currency,
      });
      this.failpoints.hit('after-cancel-sent');
      if (gatewayBalance(after) > 0) {
        // Accepted but not done (some PGs cancel asynchronously): the next attempt reads it back.
        return { kind: 'RETRY', errorKind: 'CANCEL_PENDING', error: `PortOne accepted the cancel but ${gatewayBalance(after)} is still paid` };
      }
      const last = after.cancellations[after.cancellations.length - 1];
      return { kind: 'SUCCEEDED', cancellationId: last?.cancellationId ?? null, note: `cancelled ${balance} ${current.currency}` };
    } catch (error) {
      if (!isGatewayError(error, 'ALREADY_CANCELLED')) throw error;
      // Its word alone is not enough: success is a zero balance read back.
      const readBack = await this.gateway.getPayment(claim.gatewayPaymentId);
      if (gatewayBalance(readBack) <= 0) return { kind: 'SUCCEEDED', cancellationId: null, note: 'PortOne says it was already cancelled' };
      return { kind: 'RETRY', errorKind: 'ALREADY_CANCELLED', error: `PortOne says already cancelled but ${gatewayBalance(readBack)} is still paid` };
    }
  }

  private async recordAttempt(
    claim: { id: string; gatewayPaymentId: string; attempt: number; reservationId: string },
    result: AttemptResult,
  ): Promise<Refund> {
    return transactionalWithRetry(this.orm.em, async (tx) => {
      const refund = await tx.findOneOrFail(Refund, claim.id, { lockMode: LockMode.PESSIMISTIC_WRITE });
      const now = this.clock.now();
      const base = { refundId: refund.id, reservationId: claim.reservationId, gatewayPaymentId: claim.gatewayPaymentId };
      const outcome = result.kind === 'SUCCEEDED' ? 'SUCCEEDED' : result.errorKind;
      const message = result.kind === 'SUCCEEDED' ? result.note : result.error;
      if (refund.attempts !== claim.attempt || refund.status !== RefundStatus.PENDING) {
        // A newer attempt, an admin or the sweep acted meanwhile: this late answer is history, not state.
        this.events.add(tx, { ...base, kind: 'CANCEL_ATTEMPT', outcome: `STALE_${outcome}`, message, details: { attempt: claim.attempt } });
        if (result.kind === 'SUCCEEDED' && refund.status !== RefundStatus.SUCCEEDED) await scheduleRefundAttempt(tx, refund.id, now);
        return refund;
      }
      refund.attemptLeaseUntil = null;
      this.events.add(tx, { ...base, kind: 'CANCEL_ATTEMPT', outcome, message, details: { attempt: claim.attempt } });
      if (result.kind === 'SUCCEEDED') {
        this.succeed(refund, now, result.cancellationId);
        return refund;
      }
      refund.lastError = `${result.errorKind}: ${result.error}`;
      if (result.kind === 'STUCK' || now.getTime() >= refund.giveUpAt.getTime()) {
        refund.status = RefundStatus.NEEDS_ATTENTION;
        refund.nextAttemptAt = null;
        const why = result.kind === 'STUCK' ? result.error : `still failing ${Math.round(this.policy.retryWindowMs / 60_000)} minutes after it was decided`;
        this.events.add(tx, { ...base, kind: 'REFUND_STATUS', outcome: 'NEEDS_ATTENTION', message: why });
        this.logger.error({ refundId: refund.id, gatewayPaymentId: claim.gatewayPaymentId, why }, 'refund needs attention');
        return refund;
      }
      const delay = refundBackoffMs(refund.attempts, this.policy.backoffBaseMs, this.policy.backoffMaxMs);
      refund.nextAttemptAt = new Date(Math.min(now.getTime() + delay, Math.max(now.getTime(), refund.giveUpAt.getTime())));
      await scheduleRefundAttempt(tx, refund.id, refund.nextAttemptAt);
      return refund;
    });
  }

  private succeed(refund: Refund, now: Date, cancellationId: string | null): void {
    refund.status = RefundStatus.SUCCEEDED;
    refund.succeededAt = now;
    refund.nextAttemptAt = null;
    refund.attemptLeaseUntil = null;
    refund.lastError = null;
    refund.gatewayCancellationId = cancellationId ?? refund.gatewayCancellationId;
  }
}
