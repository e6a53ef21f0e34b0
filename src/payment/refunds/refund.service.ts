import { LockMode } from '@mikro-orm/core';
import type { EntityManager, MikroORM } from '@mikro-orm/postgresql';
import type { Logger } from 'pino';
import { Reservation, ReservationStatus } from '../../booking/reservation.entity';
import { isUuid } from '../../booking/event.service';
import type { Clock } from '../../clock';
import { transactionalWithRetry } from '../../db/transaction-retry';
import type { Failpoints } from '../../failpoints';
import { gatewayBalance, type GatewayPayment, type PaymentGateway } from '../../gateway/payment-gateway';
import { badUserInput, forbidden, notFound } from '../../errors';
import { instantIdCursor, pageFromCursor, pageRequest, type Page, type PageArgs } from '../../graphql/pagination';
import { Payment, PaymentDecision } from '../settlement/payment.entity';
import type { PaymentEventLog } from '../event-log/payment-event-log';
import { Refund, RefundReason, RefundStatus } from './refund.entity';
import { markSucceeded, RefundAttempts } from './refund-attempts';
import { scheduleRefundAttempt } from './refund-queue';

export interface RefundPolicy {
  /** Transient failures are retried this long after the refund was decided (or an admin retried it). */
  retryWindowMs: number;
  backoffBaseMs: number;
  backoffMaxMs: number;
  /** How long one attempt may own a refund before another worker may try: longer than the slowest attempt. */
  attemptLeaseMs: number;
}

/**
 * Refund decisions and what people do with refunds: a refund row is created inside the decision that
 * needs it, a buyer cancels a booking, an admin retries, a buyer gives a refund account, the sweep marks
 * one done. Each attempt at PortOne is RefundAttempts' (fenced, leased, retried until SUCCEEDED or
 * NEEDS_ATTENTION).
 */
export class RefundService {
  private readonly attempts: RefundAttempts;

  constructor(
    private readonly orm: MikroORM,
    gateway: PaymentGateway,
    private readonly events: PaymentEventLog,
    private readonly policy: RefundPolicy,
    private readonly clock: Clock,
    failpoints: Failpoints,
    logger: Logger,
  ) {
    this.attempts = new RefundAttempts(orm, gateway, events, policy, clock, failpoints, logger);
  }

  /**
   * Creates a refund and (when there is money to give back) its queued attempt inside the caller's
   * decision transaction. `claimFirstAttempt`: the caller attempts at once after commit (attemptClaimed),
   * so the row starts leased to that attempt and the queued job is only the backup, due when the lease
   * ends (a crash in between).
   */
  async createInTransaction(
    tx: EntityManager,
    params: { reservation: Reservation; gatewayPaymentId: string; amount: number; currency?: string; reason: RefundReason },
    options: { claimFirstAttempt?: boolean } = {},
  ): Promise<Refund> {
    const now = this.clock.now();
    const nothingToGiveBack = params.amount <= 0;
    const leaseUntil = new Date(now.getTime() + this.policy.attemptLeaseMs);
    const claimed = !nothingToGiveBack && options.claimFirstAttempt === true;
    const backupAt = claimed ? new Date(leaseUntil.getTime() + 100) : new Date(now.getTime() + this.policy.backoffBaseMs);
    const refund = tx.create(Refund, {
      gatewayPaymentId: params.gatewayPaymentId,
      reservation: params.reservation,
      amount: Math.max(0, params.amount),
      currency: params.currency ?? 'KRW',
      reason: params.reason,
      giveUpAt: new Date(now.getTime() + this.policy.retryWindowMs),
      createdAt: now,
      updatedAt: now,
      ...(claimed ? { attempts: 1, attemptLeaseUntil: leaseUntil } : {}),
      // A 0-won payment: the decision stands, and there is nothing to cancel at PortOne.
      ...(nothingToGiveBack ? { status: RefundStatus.SUCCEEDED, succeededAt: now } : { nextAttemptAt: backupAt }),
    });
    // The queued job is the durable path; whoever attempts at once after commit leaves it nothing to do.
    if (!nothingToGiveBack) await scheduleRefundAttempt(tx, refund.id, backupAt);
    return refund;
  }

  /** One cancel attempt; safe to call any number of times from anywhere. Returns the refund afterwards. */
  attempt(refundId: string): Promise<Refund | null> {
    return this.attempts.attempt(refundId);
  }

  /** The first attempt of a refund created with `claimFirstAttempt`, right after its decision committed. */
  attemptClaimed(refund: Refund, payment: GatewayPayment): Promise<Refund> {
    return this.attempts.attemptClaimed(refund, payment);
  }

  /**
   * Admin: put a refund back into the retry loop with a fresh window and attempt it now. An attempt
   * already in flight is left alone (its lease fences a second cancel). A partial cancel made outside
   * this server is settled by cancelling the rest, and the booking it leaves ends in the same transaction (I2).
   */
  async retry(em: EntityManager, refundId: string): Promise<Refund> {
    if (!isUuid(refundId)) throw badUserInput('id', 'must be a UUID');
    const inFlight = await transactionalWithRetry(em, async (tx) => {
      const locked = await this.lockInOrder(tx, refundId);
      if (!locked) throw notFound('Refund', refundId);
      const { refund, booking } = locked;
      if (refund.status === RefundStatus.SUCCEEDED) return false;
      const now = this.clock.now();
      if (refund.status === RefundStatus.PENDING && refund.attemptLeaseUntil && refund.attemptLeaseUntil.getTime() > now.getTime()) return true;
      if (booking) await this.endBookingForRefund(tx, refund, booking, now);
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
      const locked = await this.lockInOrder(tx, refundId);
      if (!locked || locked.refund.status === RefundStatus.SUCCEEDED) return;
      const { refund, booking } = locked;
      const now = this.clock.now();
      if (booking) await this.endBookingForRefund(tx, refund, booking, now);
      const previous = refund.status;
      markSucceeded(refund, now, payment.cancellations[payment.cancellations.length - 1]?.cancellationId ?? null);
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
      // Locked now, before its job is queued below: reservation, refund, job (src/db/transaction-retry.ts).
      const partial = await tx.findOne(Refund, { gatewayPaymentId: payment.gatewayPaymentId }, { lockMode: LockMode.PESSIMISTIC_WRITE });
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

  /**
   * A refund locked in the server's lock order (src/db/transaction-retry.ts): one that may end its booking
   * (CANCELLED_AT_GATEWAY) locks that reservation first, as the external cancel and the buyer's cancel do,
   * and then the refund; the opposite order deadlocked with them. A refund's reason and reservation never
   * change, so they are read unlocked to know which locks to take. Null when there is no such refund.
   */
  private async lockInOrder(tx: EntityManager, refundId: string): Promise<{ refund: Refund; booking: Reservation | null } | null> {
    const [named] = await tx.execute<Array<{ reservation_id: string; reason: RefundReason }>>('select reservation_id, reason from refund where id = ?', [refundId]);
    if (!named) return null;
    const booking =
      named.reason === RefundReason.CANCELLED_AT_GATEWAY
        ? await tx.findOneOrFail(Reservation, named.reservation_id, { lockMode: LockMode.PESSIMISTIC_WRITE, refresh: true })
        : null;
    const refund = await tx.findOneOrFail(Refund, refundId, { lockMode: LockMode.PESSIMISTIC_WRITE });
    return { refund, booking };
  }

  /** A CONFIRMED booking whose payment is being (or was) cancelled outside our decision ends with it (I2); `reservation` is locked. */
  private async endBookingForRefund(tx: EntityManager, refund: Refund, reservation: Reservation, now: Date): Promise<void> {
    const backing = await tx.findOne(Payment, { gatewayPaymentId: refund.gatewayPaymentId, decision: PaymentDecision.CONFIRMED });
    if (reservation.status === ReservationStatus.CONFIRMED && backing?.reservation.id === reservation.id) {
      reservation.status = ReservationStatus.CANCELLED;
      reservation.cancelledAt = now;
    }
  }
}
