import { UniqueConstraintViolationException } from '@mikro-orm/core';
import type { EntityManager } from '@mikro-orm/postgresql';
import type { Logger } from 'pino';
import type { Clock } from '../../clock';
import { isConnectionFailure, transactionalWithRetry } from '../../db/transaction-retry';
import type { Failpoints } from '../../failpoints';
import { isGatewayError, type GatewayPayment, type PaymentGateway } from '../../gateway/payment-gateway';
import type { PaymentEventLog } from '../event-log/payment-event-log';
import { rememberVirtualAccount } from '../reconciliation/virtual-accounts';
import { RefundStatus } from '../refunds/refund.entity';
import type { RefundService } from '../refunds/refund.service';
import { paymentState } from './payment-verification';
import { RecordedPaymentFollowUp } from './recorded-payment-followup';
import { SettlementEvents } from './settlement-events';
import type { BuyerConfirmation, Settlement, SettlementSource } from './settlement-outcome';
import { SettlementDecision, type DecisionPolicy, type LockedDecision } from './settlement-decision';
import { SettlementRecords, type NamedReservation } from './settlement-records';

export type { Settlement, SettlementSource } from './settlement-outcome';

export interface SettlementPolicy extends DecisionPolicy {
  /** V2: our store. A payment that names another store is somebody else's: never confirmed, never cancelled. */
  storeId?: string;
}

interface SettleOptions {
  source: SettlementSource;
  /** The reservation a client submitted the payment for: only attributes the audit of a payment that is not ours. */
  reportedForReservationId?: string;
  /** The caller already knows no decision exists for this payment (saves the look). */
  knownUndecided?: boolean;
  /** The reservation the client named, as read before PortOne was asked: confirmed without a lock of its own if the rules and the row still agree. */
  named?: NamedReservation;
}

/**
 * `settle(gatewayPaymentId)`: the one idempotent operation behind client confirmation, webhooks and
 * reconciliation (DESIGN §3), in three steps:
 *
 * 1. **read** the payment from PortOne, with no transaction open;
 * 2. **decide** in one short transaction: lock the seat, then the reservation, apply the pure rules,
 *    write the decision (a refund decision writes its refund row and queued attempt in it too). The
 *    common case, a buyer confirming their own hold, is one statement instead (`confirmAsRead`);
 * 3. **act** after commit: a refund's first cancel is attempted at once; a failure leaves it to the queue.
 *
 * Settling a decided payment sends no second cancel; finding it cancelled at PortOne since is recorded.
 */
export class PaymentSettlementService {
  private readonly records = new SettlementRecords();
  private readonly events: SettlementEvents;
  private readonly followUps: RecordedPaymentFollowUp;
  private readonly decision: SettlementDecision;

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
    this.decision = new SettlementDecision(this.records, refunds, this.events, clock, failpoints, logger, policy);
  }

  /** Client confirmation: the buyer's own reservation, and the payment must not back another one (I5). */
  async confirmForBuyer(
    em: EntityManager,
    actor: { userId: string; isAdmin: boolean },
    input: { reservationId: string; paymentId: string; merchantUid: string },
  ): Promise<BuyerConfirmation> {
    const named = await this.records.namedReservation(em, input.reservationId, input.paymentId);
    if (!named || (named.reservation.buyerId !== actor.userId && !actor.isAdmin)) return { kind: 'RESERVATION_NOT_FOUND', reservationId: input.reservationId };
    const { reservation } = named;
    if (input.merchantUid !== reservation.merchantUid) {
      // Only a cross-check: decisions use the order id PortOne reports, never the client's.
      this.logger.warn({ reservationId: reservation.id, claimed: input.merchantUid }, "client sent a merchantUid that is not the reservation's");
    }
    let outcome: Settlement;
    try {
      outcome = await this.settle(em, input.paymentId, { source: 'CLIENT_CONFIRM', reportedForReservationId: reservation.id, knownUndecided: !named.paymentDecided, named });
    } catch (fault) {
      await this.markReported(em, reservation.id);
      throw fault;
    }
    // The buyer says they paid and we could not tell: reconciliation asks PortOne about this order again
    // later, with backoff. Refusals (not ours, not completed) need no second look.
    if (outcome.kind === 'UNKNOWN_PAYMENT' || outcome.kind === 'GATEWAY_UNAVAILABLE') await this.markReported(em, reservation.id);
    if ((outcome.kind === 'CONFIRMED' || outcome.kind === 'REFUNDED') && outcome.reservation.id !== reservation.id) {
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
    let decided: LockedDecision;
    try {
      decided =
        (options.named && (await this.decision.confirmAsRead(em, payment, options.named, options.source))) ??
        (await transactionalWithRetry(em, (tx) => this.decision.underLock(tx, payment, options.source)));
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
    const decided = await transactionalWithRetry(em, (tx) => this.decision.internalErrorUnderLock(tx, payment, failure));
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
