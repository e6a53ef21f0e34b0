import { LockMode } from '@mikro-orm/core';
import type { EntityManager, MikroORM } from '@mikro-orm/postgresql';
import type { Logger } from 'pino';
import { Reservation, ReservationStatus } from '../booking/reservation.entity';
import type { Clock } from '../clock';
import type { Failpoints } from '../failpoints';
import { GatewayError, isGatewayError, type PaymentGateway } from '../gateway/payment-gateway';
import { isUuid } from '../booking/event.service';
import { badUserInput, notFound } from '../graphql/errors';
import { instantIdCursor, pageFromCursor, pageRequest, type Page, type PageArgs } from '../graphql/pagination';
import { Payment, PaymentDecision } from './payment.entity';
import type { PaymentEventLog } from './payment-event-log';
import { Refund, RefundReason, RefundStatus } from './refund.entity';
import { refundBackoffMs, scheduleRefundAttempt } from './refund-queue';

export interface RefundPolicy {
  maxAttempts: number;
  backoffBaseMs: number;
  backoffMaxMs: number;
  /** How long one attempt may own a refund before another worker may try (covers a crashed worker). */
  attemptLeaseMs: number;
}

type AttemptResult =
  | { kind: 'SUCCEEDED'; cancellationId: string | null; note: string }
  | { kind: 'FAILED'; error: string; errorKind: string };

/**
 * Drives refunds from PENDING to SUCCEEDED (or NEEDS_ATTENTION after the retry budget).
 *
 * Every attempt first reads the payment back from the gateway: that resolves an earlier attempt whose
 * outcome was unknown (timeout, lost response) and gives the balance for the cancel's guard, so a
 * payment is never cancelled twice or for more than was paid (I3). No transaction is open while the
 * gateway is called; a short lease on the refund row keeps two workers from attempting at once.
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

  /** Creates a PENDING refund and its first queued attempt inside the caller's decision transaction. */
  async createInTransaction(
    tx: EntityManager,
    params: { reservation: Reservation; gatewayPaymentId: string; amount: number; reason: RefundReason },
  ): Promise<Refund> {
    const now = this.clock.now();
    const refund = tx.create(Refund, {
      gatewayPaymentId: params.gatewayPaymentId,
      reservation: params.reservation,
      amount: params.amount,
      reason: params.reason,
      attemptBudget: this.policy.maxAttempts,
      createdAt: now,
      updatedAt: now,
    });
    await tx.flush();
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
        result = { kind: 'FAILED', error: error.message, errorKind: error.kind };
      } else {
        this.logger.error({ err: error, refundId }, 'unexpected error during a refund attempt');
        result = { kind: 'FAILED', error: error instanceof Error ? error.message : String(error), errorKind: 'INTERNAL' };
      }
    }
    return this.recordAttempt(claim, result);
  }

  /** Admin: put a refund back into the retry loop with a fresh budget and attempt it now. */
  async retry(em: EntityManager, refundId: string): Promise<Refund> {
    if (!isUuid(refundId)) throw badUserInput('id', 'must be a UUID');
    await em.transactional(async (tx) => {
      const refund = await tx.findOne(Refund, refundId, { lockMode: LockMode.PESSIMISTIC_WRITE });
      if (!refund) throw notFound('Refund', refundId);
      if (refund.status === RefundStatus.SUCCEEDED) return;
      refund.status = RefundStatus.PENDING;
      refund.attemptBudget = refund.attempts + this.policy.maxAttempts;
      refund.attemptLeaseUntil = null;
      this.events.add(tx, {
        kind: 'REFUND_STATUS',
        outcome: 'RETRY_REQUESTED',
        refundId,
        reservationId: refund.reservation.id,
        gatewayPaymentId: refund.gatewayPaymentId,
        message: 'an admin asked for another attempt',
      });
    });
    const after = await this.attempt(refundId);
    return after ?? (await em.fork().findOneOrFail(Refund, refundId));
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
    const refundId = await em.transactional(async (tx) => {
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
      reservation.status = ReservationStatus.CANCELLED;
      reservation.cancelledAt = now;
      const refund = await this.createInTransaction(tx, {
        reservation,
        gatewayPaymentId: payment.gatewayPaymentId,
        amount: payment.amount,
        reason: RefundReason.BUYER_CANCELLED,
      });
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

  private async claim(refundId: string) {
    return this.orm.em.fork().transactional(async (tx) => {
      const refund = await tx.findOne(Refund, refundId, { lockMode: LockMode.PESSIMISTIC_WRITE });
      if (!refund || refund.status !== RefundStatus.PENDING) return null;
      const now = this.clock.now();
      if (refund.attemptLeaseUntil && refund.attemptLeaseUntil.getTime() > now.getTime()) return null;
      refund.attempts += 1;
      refund.attemptLeaseUntil = new Date(now.getTime() + this.policy.attemptLeaseMs);
      return {
        id: refund.id,
        gatewayPaymentId: refund.gatewayPaymentId,
        amount: refund.amount,
        reason: refund.reason,
        attempt: refund.attempts,
        reservationId: refund.reservation.id,
      };
    });
  }

  private async cancelAtGateway(claim: { gatewayPaymentId: string; amount: number; reason: RefundReason }): Promise<AttemptResult> {
    const current = await this.gateway.getPayment(claim.gatewayPaymentId);
    const balance = current.amount - current.cancelledAmount;
    if (current.status === 'CANCELLED' || balance <= 0) {
      const last = current.cancellations[current.cancellations.length - 1];
      return { kind: 'SUCCEEDED', cancellationId: last?.cancellationId ?? null, note: 'already cancelled at the gateway' };
    }
    if (current.status !== 'PAID') {
      throw new GatewayError('REJECTED', `payment is ${current.status} at the gateway; nothing can be cancelled yet`);
    }
    // Never more than what is left, and never more than what we decided to give back.
    const amount = Math.min(balance, claim.amount);
    try {
      const after = await this.gateway.cancelPayment({
        gatewayPaymentId: claim.gatewayPaymentId,
        amount,
        expectedCancellableAmount: balance,
        reason: `booking refund: ${claim.reason}`,
      });
      this.failpoints.hit('after-cancel-sent');
      const last = after.cancellations[after.cancellations.length - 1];
      return { kind: 'SUCCEEDED', cancellationId: last?.cancellationId ?? null, note: `cancelled ${amount}` };
    } catch (error) {
      if (isGatewayError(error, 'ALREADY_CANCELLED')) {
        return { kind: 'SUCCEEDED', cancellationId: null, note: 'the gateway says it was already cancelled' };
      }
      throw error;
    }
  }

  private async recordAttempt(
    claim: { id: string; gatewayPaymentId: string; attempt: number; reservationId: string },
    result: AttemptResult,
  ): Promise<Refund> {
    return this.orm.em.fork().transactional(async (tx) => {
      const refund = await tx.findOneOrFail(Refund, claim.id, { lockMode: LockMode.PESSIMISTIC_WRITE });
      const now = this.clock.now();
      refund.attemptLeaseUntil = null;
      const base = { refundId: refund.id, reservationId: claim.reservationId, gatewayPaymentId: claim.gatewayPaymentId };
      if (result.kind === 'SUCCEEDED') {
        refund.status = RefundStatus.SUCCEEDED;
        refund.succeededAt = now;
        refund.nextAttemptAt = null;
        refund.lastError = null;
        refund.gatewayCancellationId = result.cancellationId;
        this.events.add(tx, { ...base, kind: 'CANCEL_ATTEMPT', outcome: 'SUCCEEDED', message: result.note, details: { attempt: claim.attempt } });
        return refund;
      }
      refund.lastError = `${result.errorKind}: ${result.error}`;
      this.events.add(tx, {
        ...base,
        kind: 'CANCEL_ATTEMPT',
        outcome: result.errorKind,
        message: result.error,
        details: { attempt: claim.attempt },
      });
      if (refund.attempts >= refund.attemptBudget) {
        refund.status = RefundStatus.NEEDS_ATTENTION;
        refund.nextAttemptAt = null;
        this.events.add(tx, { ...base, kind: 'REFUND_STATUS', outcome: 'NEEDS_ATTENTION', message: `gave up after ${refund.attempts} attempts` });
        this.logger.error({ refundId: refund.id, gatewayPaymentId: claim.gatewayPaymentId }, 'refund needs attention');
        return refund;
      }
      const delay = refundBackoffMs(refund.attempts, this.policy.backoffBaseMs, this.policy.backoffMaxMs);
      refund.nextAttemptAt = new Date(now.getTime() + delay);
      await scheduleRefundAttempt(tx, refund.id, refund.nextAttemptAt);
      return refund;
    });
  }
}

