import { LockMode, UniqueConstraintViolationException } from '@mikro-orm/core';
import type { EntityManager, MikroORM } from '@mikro-orm/postgresql';
import type { Logger } from 'pino';
import { Reservation, ReservationStatus } from '../../booking/reservation.entity';
import { Seat } from '../../booking/seat.entity';
import type { Clock } from '../../clock';
import { isConnectionFailure, transactionalWithRetry } from '../../db/transaction-retry';
import type { Failpoints } from '../../failpoints';
import { gatewayBalance, isGatewayError, type GatewayPayment, type PaymentGateway } from '../../gateway/payment-gateway';
import { AppError, notFound } from '../../errors';
import { Payment, PaymentDecision } from './payment.entity';
import type { PaymentEventLog } from '../event-log/payment-event-log';
import { paymentState, verifyPayment } from './payment-verification';
import { Refund, RefundReason, RefundStatus } from '../refunds/refund.entity';
import type { RefundService } from '../refunds/refund.service';
import { VirtualAccount } from '../reconciliation/virtual-account.entity';

export type SettlementSource = 'CLIENT_CONFIRM' | 'WEBHOOK' | 'RECONCILIATION';

export type SettlementOutcome =
  | { kind: 'CONFIRMED'; payment: Payment; reservation: Reservation }
  | { kind: 'REFUNDED'; payment: Payment; reservation: Reservation; refund: Refund };

export interface SettlementPolicy {
  /** Accept test-channel payments as paid (PORTONE_ALLOW_SANDBOX). */
  allowSandbox: boolean;
  /** How long after its end a hold still keeps the seat from other buyers (a payment made just before may be settling). */
  holdGraceMs: number;
  /** V2: our store. A payment that names another store is somebody else's: never confirmed, never cancelled. */
  storeId?: string;
}

/**
 * `settle(gatewayPaymentId)`: the one idempotent operation behind client confirmation, webhooks and
 * reconciliation (DESIGN §3).
 *
 * 1. Read the payment from the gateway, with no transaction open.
 * 2. In one short transaction, lock the seat and then the reservation (the one lock order of the whole
 *    server), decide with the pure rules, and write the decision; a refund decision writes the refund row
 *    and queues its attempt in that same transaction.
 * 3. After commit, attempt the cancel at once; a failure leaves the refund PENDING for the queue.
 * Settling a payment that is already decided sends no second cancel; a webhook or reconciliation that
 * finds it cancelled at the gateway since then records that (the booking is no longer paid for).
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
    private readonly policy: SettlementPolicy,
  ) {}

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
    let outcome: SettlementOutcome;
    try {
      outcome = await this.settle(em, input.paymentId, { source: 'CLIENT_CONFIRM', reportedForReservationId: reservation.id });
    } catch (error) {
      // The buyer says they paid and we could not tell: reconciliation asks PortOne about this order again
      // later, with backoff. Refusals (not ours, not completed, already used) need no second look.
      if (error instanceof AppError ? ['NOT_FOUND', 'GATEWAY_UNAVAILABLE'].includes(error.code) : true) {
        await this.markReported(reservation.id).catch((markError) =>
          this.logger.warn({ err: markError, reservationId: reservation.id }, 'could not mark a reported payment'),
        );
      }
      throw error;
    }
    if (outcome.reservation.id !== reservation.id) {
      throw new AppError('PAYMENT_ALREADY_USED', `Payment ${input.paymentId} already belongs to another booking`);
    }
    return outcome;
  }

  /**
   * Settles one gateway payment. `reportedForReservationId` names the reservation a client submitted the
   * payment for; it is only used to attribute the audit event of a payment that is not ours.
   * Throws AppError PAYMENT_NOT_OURS, PAYMENT_NOT_COMPLETED, NOT_FOUND or GATEWAY_UNAVAILABLE when there is
   * nothing to settle (yet).
   */
  async settle(
    em: EntityManager,
    gatewayPaymentId: string,
    options: { source: SettlementSource; reportedForReservationId?: string },
  ): Promise<SettlementOutcome> {
    const recorded = await this.findRecordedOutcome(em.fork(), gatewayPaymentId);
    // A client repeating its confirmation of a refund gets the recorded decision without another PortOne
    // read (the refund's own attempts read it). A kept booking is read again by every path: PortOne may
    // show it cancelled outside this server since, and then the booking must not read as paid.
    if (recorded?.kind === 'REFUNDED' && options.source === 'CLIENT_CONFIRM') return recorded;

    const payment = await this.readGatewayPayment(em, gatewayPaymentId, options);
    this.failpoints.hit('after-gateway-read');
    if (recorded) return this.followUpRecorded(em, recorded, payment, options.source);

    // A V2 payment id is unique per store only: under another store the same id is another shop's order.
    const otherStore = payment.storeId !== undefined && payment.storeId !== this.policy.storeId;
    const target = otherStore ? null : await em.fork().findOne(Reservation, { merchantUid: payment.merchantUid });
    await this.events.record(em, {
      kind: 'GATEWAY_READ',
      outcome: payment.status,
      gatewayPaymentId,
      reservationId: target?.id ?? options.reportedForReservationId ?? null,
      details: {
        source: options.source,
        merchantUid: payment.merchantUid,
        amount: payment.amount,
        currency: payment.currency,
        cancelledAmount: payment.cancelledAmount,
        sandbox: payment.sandbox,
      },
    });
    if (!target) {
      // Not one of our orders (another shop on the same PortOne account, say): never ours to keep or cancel.
      await this.events.record(em, {
        kind: 'DECISION',
        outcome: 'NOT_OURS',
        gatewayPaymentId,
        reservationId: options.reportedForReservationId ?? null,
        message: otherStore
          ? `payment of store ${payment.storeId}, not ours; nothing confirmed, nothing cancelled`
          : `order id ${payment.merchantUid} is none of our reservations'; nothing confirmed, nothing cancelled`,
        details: { source: options.source, status: payment.status, amount: payment.amount, ...(otherStore ? { storeId: payment.storeId } : {}) },
      });
      throw new AppError('PAYMENT_NOT_OURS', `Payment ${gatewayPaymentId} was not made for any of our bookings; nothing was changed`);
    }
    const state = paymentState(payment, this.policy);
    if (!state.paid) {
      await this.recordNotPaid(em, payment, target, options.source, state.detail);
      throw new AppError('PAYMENT_NOT_COMPLETED', `Payment ${gatewayPaymentId} is not completed (${state.detail})`);
    }

    let outcome: SettlementOutcome;
    try {
      outcome = await this.decide(em, payment, target.id, options.source);
      this.failpoints.hit('after-decision-commit');
    } catch (error) {
      if (error instanceof AppError) throw error;
      if (isConnectionFailure(error)) {
        // The COMMIT may have landed: acting as if it had not (a compensating cancel) could refund a kept
        // booking (I2). The webhook and the sweep settle this payment once the database answers.
        this.logger.error({ err: error, gatewayPaymentId, reservationId: target.id }, 'decision outcome unknown (database connection lost); left to the sweep');
        throw error;
      }
      if (error instanceof UniqueConstraintViolationException) {
        // Another path decided this payment at the same moment (only possible across two reservations).
        const raced = await this.findRecordedOutcome(em.fork(), gatewayPaymentId);
        if (raced) return raced;
      }
      return this.recoverFromDecisionFailure(em, payment, target.id, error);
    }

    if (outcome.kind === 'REFUNDED' && outcome.refund.status === RefundStatus.PENDING) {
      const refund = await this.refunds.attempt(outcome.refund.id);
      if (refund) outcome = { ...outcome, refund };
    }
    return outcome;
  }

  /**
   * The decision already recorded for a payment, with its current refund state. A payment that backs a
   * CONFIRMED booking reads as confirmed even when an operator's partial cancel needs attention.
   */
  async findRecordedOutcome(em: EntityManager, gatewayPaymentId: string): Promise<SettlementOutcome | null> {
    const payment = await em.findOne(Payment, { gatewayPaymentId }, { populate: ['reservation'] });
    if (!payment) return null;
    const backsBooking = payment.decision === PaymentDecision.CONFIRMED && payment.reservation.status === ReservationStatus.CONFIRMED;
    const refund = backsBooking ? null : await em.findOne(Refund, { gatewayPaymentId });
    if (refund) return { kind: 'REFUNDED', payment, reservation: payment.reservation, refund };
    return { kind: 'CONFIRMED', payment, reservation: payment.reservation };
  }

  private async readGatewayPayment(
    em: EntityManager,
    gatewayPaymentId: string,
    options: { source: SettlementSource; reportedForReservationId?: string },
  ): Promise<GatewayPayment> {
    try {
      return await this.gateway.getPayment(gatewayPaymentId);
    } catch (error) {
      if (!isGatewayError(error)) throw error;
      await this.events.record(em, {
        kind: 'GATEWAY_READ',
        outcome: error.kind,
        gatewayPaymentId,
        reservationId: options.reportedForReservationId ?? null,
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
    return transactionalWithRetry(em, async (tx) => {
      const { seat, reservation } = await this.lockSeatAndReservation(tx, reservationId);
      // Under the locks every path for this payment is serialised: look again.
      const existing = await this.findRecordedOutcome(tx, payment.gatewayPaymentId);
      if (existing) return existing;

      const now = this.clock.now();
      const others = await tx.find(Reservation, {
        seat,
        id: { $ne: reservation.id },
        status: { $in: [ReservationStatus.HELD, ReservationStatus.CONFIRMED] },
      });
      const occupying = others.filter(
        (o) => o.status === ReservationStatus.CONFIRMED || o.expiresAt.getTime() + this.policy.holdGraceMs > now.getTime(),
      );
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
      if (verdict.kind === 'NOT_PAID') throw new AppError('PAYMENT_NOT_COMPLETED', `Payment ${payment.gatewayPaymentId} is not completed`);

      if (verdict.kind === 'CONFIRM') {
        // Stale holds of others on this seat end first, in their own statement: one UPDATE that also
        // confirms ours could meet the seat's uniqueness guard before the stale row is changed.
        const stale = others.map((o) => o.id);
        if (stale.length > 0) {
          await tx.nativeUpdate(Reservation, { id: { $in: stale }, status: ReservationStatus.HELD }, { status: ReservationStatus.EXPIRED });
        }
        const record = this.recordDecision(tx, payment, reservation, { decision: PaymentDecision.CONFIRMED, reason: null, decidedBy: source });
        reservation.status = ReservationStatus.CONFIRMED;
        reservation.confirmedAt = now;
        reservation.reportCheckAt = null;
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

  /** Seat first, then reservation: the same order as holdSeat, so the two never deadlock each other. */
  private async lockSeatAndReservation(tx: EntityManager, reservationId: string): Promise<{ seat: Seat; reservation: Reservation }> {
    const rows: Array<{ seat_id: string }> = await tx.execute('select seat_id from reservation where id = ?', [reservationId]);
    if (rows.length === 0) throw notFound('Reservation', reservationId);
    const seat = await tx.findOneOrFail(Seat, rows[0].seat_id, { lockMode: LockMode.PESSIMISTIC_WRITE, populate: ['event'] });
    const reservation = await tx.findOneOrFail(Reservation, reservationId, { lockMode: LockMode.PESSIMISTIC_WRITE, refresh: true });
    return { seat, reservation };
  }

  /**
   * A decided payment read again (webhook, reconciliation). If PortOne shows it cancelled by someone else
   * since it confirmed a booking, the booking is no longer paid for; a refund PortOne shows done is done.
   */
  private async followUpRecorded(
    em: EntityManager,
    recorded: SettlementOutcome,
    payment: GatewayPayment,
    source: SettlementSource,
  ): Promise<SettlementOutcome> {
    const balance = gatewayBalance(payment);
    if (recorded.kind === 'CONFIRMED' && balance < recorded.payment.amount) {
      await this.recordExternalCancel(em, recorded.payment.id, payment, source);
      return (await this.findRecordedOutcome(em.fork(), payment.gatewayPaymentId)) ?? recorded;
    }
    if (recorded.kind === 'REFUNDED' && recorded.refund.status !== RefundStatus.SUCCEEDED) {
      if (balance <= 0) await this.refunds.markDoneAtGateway(recorded.refund.id, payment);
      else if (recorded.refund.status === RefundStatus.PENDING) await this.refunds.attempt(recorded.refund.id);
      return (await this.findRecordedOutcome(em.fork(), payment.gatewayPaymentId)) ?? recorded;
    }
    return recorded;
  }

  /**
   * PortOne shows the payment behind a CONFIRMED booking (partly) cancelled, and not by us. Fully
   * cancelled: the booking ends (CANCELLED, seat free) with a SUCCEEDED CANCELLED_AT_GATEWAY refund row
   * that says so. Partly cancelled: an operator must decide (a goodwill discount, or a mistake), so the
   * booking stays and the row is NEEDS_ATTENTION with the balance still paid.
   */
  private async recordExternalCancel(em: EntityManager, paymentRowId: string, payment: GatewayPayment, source: SettlementSource): Promise<void> {
    const balance = gatewayBalance(payment);
    await transactionalWithRetry(em, async (tx) => {
      const record = await tx.findOneOrFail(Payment, paymentRowId);
      const { reservation } = await this.lockSeatAndReservation(tx, record.reservation.id);
      if (reservation.status !== ReservationStatus.CONFIRMED || record.decision !== PaymentDecision.CONFIRMED) return;
      const existing = await tx.findOne(Refund, { gatewayPaymentId: payment.gatewayPaymentId });
      // Our own refund (the buyer cancelled) always moves the booking out of CONFIRMED first.
      if (existing && existing.reason !== RefundReason.CANCELLED_AT_GATEWAY) return;
      const full = balance <= 0;
      if (existing && !full) return; // the same partial cancel, already waiting for an operator
      const now = this.clock.now();
      const refund =
        existing ??
        tx.create(Refund, {
          gatewayPaymentId: payment.gatewayPaymentId,
          reservation,
          amount: full ? record.amount : balance,
          currency: payment.currency,
          reason: RefundReason.CANCELLED_AT_GATEWAY,
          giveUpAt: now,
          createdAt: now,
          updatedAt: now,
        });
      if (full) {
        reservation.status = ReservationStatus.CANCELLED;
        reservation.cancelledAt = now;
        refund.status = RefundStatus.SUCCEEDED;
        refund.succeededAt = now;
        refund.amount = record.amount;
        refund.lastError = null;
      } else {
        refund.status = RefundStatus.NEEDS_ATTENTION;
        refund.lastError = `PortOne shows ${payment.cancelledAmount} of ${payment.amount} cancelled outside this server; ${balance} is still paid`;
      }
      refund.nextAttemptAt = null;
      refund.gatewayCancellationId = payment.cancellations[payment.cancellations.length - 1]?.cancellationId ?? null;
      this.events.add(tx, {
        kind: 'EXTERNAL_CANCEL',
        outcome: full ? 'BOOKING_CANCELLED' : 'NEEDS_ATTENTION',
        reservationId: reservation.id,
        gatewayPaymentId: payment.gatewayPaymentId,
        refundId: refund.id,
        message: full
          ? 'PortOne shows the payment fully cancelled outside this server: the booking is cancelled and the seat is free'
          : `PortOne shows ${payment.cancelledAmount} of ${payment.amount} cancelled outside this server; an operator must decide`,
        details: { source, paid: payment.amount, cancelled: payment.cancelledAmount, balance },
      });
      await tx.flush();
    });
  }

  /** Not (yet) paid: audit it, and remember an issued virtual account so it can be revoked when the hold ends. */
  private async recordNotPaid(em: EntityManager, payment: GatewayPayment, target: Reservation, source: SettlementSource, detail: string) {
    await this.events.record(em, {
      kind: 'DECISION',
      outcome: 'NOT_PAID',
      gatewayPaymentId: payment.gatewayPaymentId,
      reservationId: target.id,
      message: detail,
      details: { source },
    });
    if (payment.isVirtualAccount && payment.status === 'READY') {
      await em
        .fork()
        .createQueryBuilder(VirtualAccount)
        .insert({ gatewayPaymentId: payment.gatewayPaymentId, reservation: target.id, issuedAt: this.clock.now() })
        .onConflict('gateway_payment_id')
        .ignore()
        .execute();
    }
  }

  /**
   * The decision could not be written, yet the money was taken, and the database said so (nothing
   * committed). Record an INTERNAL_ERROR refund through the normal durable path. If even that cannot be
   * written, fail: nothing is cancelled without a record, and the sweep settles the payment once the
   * database is usable again.
   */
  private async recoverFromDecisionFailure(
    em: EntityManager,
    payment: GatewayPayment,
    reservationId: string,
    failure: unknown,
  ): Promise<SettlementOutcome> {
    this.logger.error({ err: failure, gatewayPaymentId: payment.gatewayPaymentId, reservationId }, 'payment decision failed after the money was taken');
    const recorded = await this.findRecordedOutcome(em.fork(), payment.gatewayPaymentId);
    if (recorded) return recorded;
    const outcome = await transactionalWithRetry(em, async (tx) => {
      const { reservation } = await this.lockSeatAndReservation(tx, reservationId);
      const { record, refund } = await this.recordRefundDecision(tx, payment, reservation, {
        reason: RefundReason.INTERNAL_ERROR,
        decidedBy: 'RECOVERY',
        eventKind: 'DECISION_FAILED',
        message: failure instanceof Error ? failure.message : String(failure),
      });
      return { kind: 'REFUNDED' as const, payment: record, reservation, refund };
    });
    const refund = outcome.refund.status === RefundStatus.PENDING ? await this.refunds.attempt(outcome.refund.id) : null;
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
    reservation.reportCheckAt = null;
    const refund = await this.refunds.createInTransaction(tx, {
      reservation,
      gatewayPaymentId: payment.gatewayPaymentId,
      amount: gatewayBalance(payment),
      currency: payment.currency,
      reason: decision.reason,
    });
    this.events.add(tx, {
      kind: decision.eventKind,
      outcome: 'REFUND',
      reservationId: reservation.id,
      gatewayPaymentId: payment.gatewayPaymentId,
      refundId: refund.id,
      message: decision.message,
      details: { source: decision.decidedBy, reason: decision.reason, amount: payment.amount, balance: gatewayBalance(payment) },
    });
    return { record, refund };
  }

  /** Schedules reconciliation's look at this order (first soon, then backing off); only on the failure path. */
  private async markReported(reservationId: string): Promise<void> {
    const now = this.clock.now();
    await this.orm.em
      .fork()
      .nativeUpdate(
        Reservation,
        { id: reservationId, status: { $in: [ReservationStatus.HELD, ReservationStatus.EXPIRED] } },
        { paymentReportedAt: now, reportCheckAt: now, reportChecks: 0 },
      );
  }
}
