import { LockMode, UniqueConstraintViolationException } from '@mikro-orm/core';
import type { EntityManager, MikroORM } from '@mikro-orm/postgresql';
import type { Logger } from 'pino';
import { Reservation, ReservationStatus } from '../booking/reservation.entity';
import { Seat } from '../booking/seat.entity';
import type { Clock } from '../clock';
import type { Failpoints } from '../failpoints';
import { isGatewayError, type GatewayPayment, type PaymentGateway } from '../gateway/payment-gateway';
import { AppError, notFound } from '../graphql/errors';
import { Payment, PaymentDecision } from './payment.entity';
import type { PaymentEventLog } from './payment-event-log';
import { verifyPayment } from './payment-verification';
import { Refund, RefundReason } from './refund.entity';
import type { RefundService } from './refund.service';

export type SettlementSource = 'CLIENT_CONFIRM' | 'WEBHOOK' | 'RECONCILIATION';

export type SettlementOutcome =
  | { kind: 'CONFIRMED'; payment: Payment; reservation: Reservation }
  | { kind: 'REFUNDED'; payment: Payment; reservation: Reservation; refund: Refund };

/**
 * `settle(gatewayPaymentId)`: the one idempotent operation behind client confirmation, webhooks and
 * reconciliation (DESIGN §3).
 *
 * 1. Read the payment from the gateway, with no transaction open.
 * 2. In one short transaction, lock the reservation and seat, decide with the pure rules, and write the
 *    decision; a refund decision writes the refund row and queues its attempt in that same transaction.
 * 3. After commit, attempt the cancel at once; a failure leaves the refund PENDING for the queue.
 * Settling the same payment again returns the recorded decision and never sends a second cancel.
 */
export class PaymentSettlementService {
  constructor(
    private readonly orm: MikroORM,
    private readonly gateway: PaymentGateway,
    private readonly refunds: RefundService,
    private readonly events: PaymentEventLog,
    private readonly clock: Clock,
    private readonly failpoints: Failpoints,
    private readonly logger: Logger,
  ) {}

  /**
   * Settles one gateway payment. `fallbackReservationId` names the reservation the payment was
   * submitted for; it is used only when the payment's order id is none of ours (then the money is
   * refunded as MERCHANT_UID_MISMATCH). Returns null for a payment that is not ours and not submitted
   * for any reservation (a forged or foreign notification): nothing to do.
   */
  async settle(
    em: EntityManager,
    gatewayPaymentId: string,
    options: { source: SettlementSource; fallbackReservationId?: string },
  ): Promise<SettlementOutcome | null> {
    const recorded = await this.findRecordedOutcome(em.fork(), gatewayPaymentId);
    if (recorded) return recorded;

    const payment = await this.readGatewayPayment(em, gatewayPaymentId, options);
    this.failpoints.hit('after-gateway-read');

    const target =
      (await em.fork().findOne(Reservation, { merchantUid: payment.merchantUid })) ??
      (options.fallbackReservationId ? await em.fork().findOne(Reservation, options.fallbackReservationId) : null);
    await this.events.record(em, {
      kind: 'GATEWAY_READ',
      outcome: payment.status,
      gatewayPaymentId,
      reservationId: target?.id ?? null,
      details: {
        source: options.source,
        merchantUid: payment.merchantUid,
        amount: payment.amount,
        currency: payment.currency,
        cancelledAmount: payment.cancelledAmount,
      },
    });
    if (!target) {
      await this.events.record(em, {
        kind: 'DECISION',
        outcome: 'IGNORED',
        gatewayPaymentId,
        message: `order id ${payment.merchantUid} is not one of ours`,
        details: { source: options.source, status: payment.status },
      });
      return null;
    }
    if (payment.status !== 'PAID') {
      await this.events.record(em, {
        kind: 'DECISION',
        outcome: 'NOT_PAID',
        gatewayPaymentId,
        reservationId: target.id,
        message: `payment is ${payment.status}`,
        details: { source: options.source },
      });
      throw new AppError('PAYMENT_NOT_COMPLETED', `Payment ${gatewayPaymentId} is not completed (status ${payment.status})`);
    }

    let outcome: SettlementOutcome;
    try {
      outcome = await this.decide(em.fork(), payment, target.id, options.source);
    } catch (error) {
      if (error instanceof AppError) throw error;
      if (error instanceof UniqueConstraintViolationException) {
        // Another path decided this payment at the same moment (only possible across two reservations).
        const raced = await this.findRecordedOutcome(em.fork(), gatewayPaymentId);
        if (raced) return raced;
      }
      return this.recoverFromDecisionFailure(em, payment, target.id, error);
    }
    this.failpoints.hit('after-decision-commit');

    if (outcome.kind === 'REFUNDED') {
      const refund = await this.refunds.attempt(outcome.refund.id);
      if (refund) outcome = { ...outcome, refund };
    }
    return outcome;
  }

  /** The decision already recorded for a payment, with its current refund state. */
  async findRecordedOutcome(em: EntityManager, gatewayPaymentId: string): Promise<SettlementOutcome | null> {
    const payment = await em.findOne(Payment, { gatewayPaymentId }, { populate: ['reservation'] });
    if (!payment) return null;
    const refund = await em.findOne(Refund, { gatewayPaymentId });
    if (refund) return { kind: 'REFUNDED', payment, reservation: payment.reservation, refund };
    return { kind: 'CONFIRMED', payment, reservation: payment.reservation };
  }

  private async readGatewayPayment(
    em: EntityManager,
    gatewayPaymentId: string,
    options: { source: SettlementSource; fallbackReservationId?: string },
  ): Promise<GatewayPayment> {
    try {
      return await this.gateway.getPayment(gatewayPaymentId);
    } catch (error) {
      if (!isGatewayError(error)) throw error;
      await this.events.record(em, {
        kind: 'GATEWAY_READ',
        outcome: error.kind,
        gatewayPaymentId,
        reservationId: options.fallbackReservationId ?? null,
        message: error.message,
        details: { source: options.source },
      });
      if (error.kind === 'NOT_FOUND') throw new AppError('NOT_FOUND', `PortOne has no payment ${gatewayPaymentId}`);
      if (error.kind === 'MISCONFIGURED') throw error;
      throw new AppError('GATEWAY_UNAVAILABLE', 'PortOne could not be reached to verify the payment; it will be settled automatically', {
        retryable: true,
      });
    }
  }

  private async decide(em: EntityManager, payment: GatewayPayment, reservationId: string, source: SettlementSource): Promise<SettlementOutcome> {
    return em.transactional(async (tx) => {
      const reservation = await tx.findOneOrFail(Reservation, reservationId, { lockMode: LockMode.PESSIMISTIC_WRITE, refresh: true });
      // Under the reservation lock every path for this payment is serialised: look again.
      const existing = await this.findRecordedOutcome(tx, payment.gatewayPaymentId);
      if (existing) return existing;

      const seat = await tx.findOneOrFail(Seat, reservation.seat.id, { lockMode: LockMode.PESSIMISTIC_WRITE, populate: ['event'] });
      const now = this.clock.now();
      const others = await tx.find(Reservation, {
        seat,
        id: { $ne: reservation.id },
        status: { $in: [ReservationStatus.HELD, ReservationStatus.CONFIRMED] },
      });
      const occupying = others.filter((o) => o.status === ReservationStatus.CONFIRMED || o.expiresAt.getTime() > now.getTime());
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
      );
      if (verdict.kind === 'NOT_PAID') throw new AppError('PAYMENT_NOT_COMPLETED', `Payment ${payment.gatewayPaymentId} is not completed`);

      if (verdict.kind === 'CONFIRM') {
        const record = this.recordDecision(tx, payment, reservation, { decision: PaymentDecision.CONFIRMED, reason: null, decidedBy: source });
        // Stale holds of others on this seat end now, so the seat's uniqueness guard sees only us.
        for (const other of others) other.status = ReservationStatus.EXPIRED;
        reservation.status = ReservationStatus.CONFIRMED;
        reservation.confirmedAt = now;
        this.events.add(tx, {
          kind: 'DECISION',
          outcome: 'CONFIRMED',
          reservationId: reservation.id,
          gatewayPaymentId: payment.gatewayPaymentId,
          details: { source, amount: payment.amount },
        });
        this.failpoints.hit('before-decision-commit');
        await tx.flush();
        return { kind: 'CONFIRMED', payment: record, reservation };
      }

      const { record, refund } = await this.recordRefundDecision(tx, payment, reservation, {
        reason: verdict.reason,
        decidedBy: source,
        eventKind: 'DECISION',
        message: verdict.detail,
      });
      this.failpoints.hit('before-decision-commit');
      await tx.flush();
      return { kind: 'REFUNDED', payment: record, reservation, refund };
    });
  }

  /**
   * The decision could not be written, yet the money was taken. If the database still answers, record
   * an INTERNAL_ERROR refund through the normal durable path (unless the decision did commit after all).
   * If it does not, cancel at the gateway right away and fail loudly; reconciliation records the
   * cancelled payment once the database is back.
   */
  private async recoverFromDecisionFailure(
    em: EntityManager,
    payment: GatewayPayment,
    reservationId: string,
    failure: unknown,
  ): Promise<SettlementOutcome> {
    this.logger.error({ err: failure, gatewayPaymentId: payment.gatewayPaymentId, reservationId }, 'payment decision failed after the money was taken');
    let outcome: Extract<SettlementOutcome, { kind: 'REFUNDED' }>;
    try {
      const recorded = await this.findRecordedOutcome(em.fork(), payment.gatewayPaymentId);
      if (recorded) return recorded;
      outcome = await em.fork().transactional(async (tx) => {
        const reservation = await tx.findOneOrFail(Reservation, reservationId, { lockMode: LockMode.PESSIMISTIC_WRITE });
        const { record, refund } = await this.recordRefundDecision(tx, payment, reservation, {
          reason: RefundReason.INTERNAL_ERROR,
          decidedBy: 'RECOVERY',
          eventKind: 'DECISION_FAILED',
          message: failure instanceof Error ? failure.message : String(failure),
        });
        return { kind: 'REFUNDED' as const, payment: record, reservation, refund };
      });
    } catch (recordFailure) {
      await this.compensateUnrecorded(payment, recordFailure);
      throw recordFailure;
    }
    const refund = await this.refunds.attempt(outcome.refund.id);
    return refund ? { ...outcome, refund } : outcome;
  }

  private recordDecision(
    tx: EntityManager,
    payment: GatewayPayment,
    reservation: Reservation,
    decision: { decision: PaymentDecision; reason: RefundReason | null; decidedBy: string },
  ): Payment {
    return tx.create(Payment, {
      gatewayPaymentId: payment.gatewayPaymentId,
      reservation,
      merchantUid: payment.merchantUid,
      amount: payment.amount,
      currency: payment.currency,
      decision: decision.decision,
      refundReason: decision.reason,
      decidedBy: decision.decidedBy,
      decidedAt: this.clock.now(),
    });
  }

  /** The decision to give the money back: decision row, refund row (the outbox) and its queued attempt, one transaction. */
  private async recordRefundDecision(
    tx: EntityManager,
    payment: GatewayPayment,
    reservation: Reservation,
    decision: { reason: RefundReason; decidedBy: string; eventKind: 'DECISION' | 'DECISION_FAILED'; message: string },
  ): Promise<{ record: Payment; refund: Refund }> {
    const record = this.recordDecision(tx, payment, reservation, {
      decision: PaymentDecision.REFUND,
      reason: decision.reason,
      decidedBy: decision.decidedBy,
    });
    const refund = await this.refunds.createInTransaction(tx, {
      reservation,
      gatewayPaymentId: payment.gatewayPaymentId,
      amount: payment.amount - payment.cancelledAmount,
      reason: decision.reason,
    });
    this.events.add(tx, {
      kind: decision.eventKind,
      outcome: 'REFUND',
      reservationId: reservation.id,
      gatewayPaymentId: payment.gatewayPaymentId,
      refundId: refund.id,
      message: decision.message,
      details: { source: decision.decidedBy, reason: decision.reason, amount: payment.amount },
    });
    return { record, refund };
  }

  private async compensateUnrecorded(payment: GatewayPayment, cause: unknown): Promise<void> {
    const balance = payment.amount - payment.cancelledAmount;
    this.logger.error(
      { err: cause, gatewayPaymentId: payment.gatewayPaymentId, amount: balance },
      'database unusable after a payment: cancelling at the gateway without a record; reconciliation will record it',
    );
    try {
      await this.gateway.cancelPayment({
        gatewayPaymentId: payment.gatewayPaymentId,
        amount: balance,
        expectedCancellableAmount: balance,
        reason: `booking refund: ${RefundReason.INTERNAL_ERROR}`,
      });
    } catch (error) {
      this.logger.error({ err: error, gatewayPaymentId: payment.gatewayPaymentId }, 'compensating cancel failed; reconciliation will retry');
    }
  }

  /** Client confirmation: the buyer's own reservation, and the payment must not back another one (I5). */
  async confirmForBuyer(
    em: EntityManager,
    actor: { userId: string; isAdmin: boolean },
    input: { reservationId: string; paymentId: string; merchantUid: string },
  ): Promise<SettlementOutcome> {
    const reservation = await em.findOne(Reservation, input.reservationId);
    if (!reservation || (reservation.buyerId !== actor.userId && !actor.isAdmin)) {
      throw notFound('Reservation', input.reservationId);
    }
    if (input.merchantUid !== reservation.merchantUid) {
      // Only a cross-check: decisions use the order id PortOne reports, never the client's.
      this.logger.warn({ reservationId: reservation.id, claimed: input.merchantUid }, 'client sent a merchantUid that is not the reservation\'s');
    }
    // Durable before anything else: should we die mid-flight, reconciliation looks here first.
    await em.fork().nativeUpdate(Reservation, { id: reservation.id }, { paymentReportedAt: this.clock.now() });
    const outcome = await this.settle(em, input.paymentId, { source: 'CLIENT_CONFIRM', fallbackReservationId: reservation.id });
    if (!outcome) throw notFound('Reservation', input.reservationId);
    if (outcome.reservation.id !== reservation.id) {
      throw new AppError('PAYMENT_ALREADY_USED', `Payment ${input.paymentId} already belongs to another booking`);
    }
    return outcome;
  }
}
