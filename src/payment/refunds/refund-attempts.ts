import { LockMode } from '@mikro-orm/core';
import type { MikroORM } from '@mikro-orm/postgresql';
import type { Logger } from 'pino';
import type { Clock } from '../../clock';
import { transactionalWithRetry } from '../../db/transaction-retry';
import type { Failpoints } from '../../failpoints';
import { gatewayBalance, isGatewayError, type GatewayPayment, type PaymentGateway } from '../../gateway/payment-gateway';
import type { PaymentEventLog } from '../event-log/payment-event-log';
import { Refund, RefundStatus } from './refund.entity';
import { refundBackoffMs, refundJobKey, scheduleRefundAttempt } from './refund-queue';
import type { RefundPolicy } from './refund.service';

type AttemptResult =
  | { kind: 'SUCCEEDED'; cancellationId: string | null; note: string }
  /** Retrying may help (PortOne unreachable, outcome unknown, credentials refused for now). */
  | { kind: 'RETRY'; error: string; errorKind: string }
  /** Retrying as-is will not help: an operator (or the buyer's refund account) must act. */
  | { kind: 'STUCK'; error: string; errorKind: string };

/** Gateway failures worth another attempt later; everything else is a refusal an operator must see. */
const TRANSIENT = new Set(['UNAVAILABLE', 'OUTCOME_UNKNOWN', 'MISCONFIGURED', 'INTERNAL']);

/**
 * Requests one attempt makes at worst (V1; V2 makes fewer): the read, the cancel and, after a refusal, the
 * read-back, each after a token fetch (PortOne hands out its current token with what life it has left)
 * and each refused once with 401 and sent again after another token fetch.
 */
const WORST_CASE_REQUESTS_PER_ATTEMPT = 12;

/**
 * The longest one attempt can take, plus slack for the database. One request lasts at most the response
 * timeout, from waiting for a pooled socket to the body's last byte (`fetchTextWithin`). An attempt's lease
 * is at least this long, so no second attempt starts while the first may still be cancelling
 * (test/service/refund-attempt-lease measures both the requests and how long one may last).
 */
export function refundAttemptLeaseMs(portone: { responseTimeoutMs: number }): number {
  return WORST_CASE_REQUESTS_PER_ATTEMPT * portone.responseTimeoutMs + 5000;
}

/** What one attempt owns while its lease lasts; the attempt number fences every write it makes. */
export interface AttemptClaim {
  id: string;
  gatewayPaymentId: string;
  reason: Refund['reason'];
  attempt: number;
  reservationId: string;
  refundAccount: Refund['refundAccount'];
}

/** The claim of the attempt that holds the refund's lease now. */
function claimOf(refund: Refund): AttemptClaim {
  return {
    id: refund.id,
    gatewayPaymentId: refund.gatewayPaymentId,
    reason: refund.reason,
    attempt: refund.attempts,
    reservationId: refund.reservation.id,
    refundAccount: refund.refundAccount,
  };
}

export function markSucceeded(refund: Refund, now: Date, cancellationId: string | null): void {
  refund.status = RefundStatus.SUCCEEDED;
  refund.succeededAt = now;
  refund.nextAttemptAt = null;
  refund.attemptLeaseUntil = null;
  refund.lastError = null;
  refund.gatewayCancellationId = cancellationId ?? refund.gatewayCancellationId;
}

/**
 * One attempt at PortOne: claim (lease + attempt number), cancel with no transaction open, record.
 *
 * Every attempt but a decision's first reads the payment back before cancelling: that resolves an
 * earlier attempt whose outcome was unknown and gives the balance for the cancel's guard, so a payment
 * is never cancelled twice or for more than was paid (I3). Success is a zero balance read back, never a
 * status string.
 */
export class RefundAttempts {
  constructor(
    private readonly orm: MikroORM,
    private readonly gateway: PaymentGateway,
    private readonly events: PaymentEventLog,
    private readonly policy: RefundPolicy,
    private readonly clock: Clock,
    private readonly failpoints: Failpoints,
    private readonly logger: Logger,
  ) {}

  async attempt(refundId: string): Promise<Refund | null> {
    const claim = await this.claim(refundId);
    if (!claim) return this.orm.em.fork().findOne(Refund, refundId);
    return this.recordAttempt(claim, await this.tryCancel(claim));
  }

  /**
   * The first attempt of a refund its decision created already claimed (attempt 1, leased), with the
   * payment that decision read: no claim transaction and no second read on the path of a refunded confirm.
   */
  async attemptClaimed(refund: Refund, payment: GatewayPayment): Promise<Refund> {
    const claim = claimOf(refund);
    const result = await this.tryCancel(claim, payment);
    const now = this.clock.now();
    if (result.kind === 'SUCCEEDED' && (await this.recordSuccessAtOnce(claim, result, now))) {
      markSucceeded(refund, now, result.cancellationId); // what the row now says, without reading it back
      return refund;
    }
    return this.recordInTransaction(claim, result);
  }

  private async tryCancel(claim: AttemptClaim, readJustNow?: GatewayPayment): Promise<AttemptResult> {
    try {
      return await this.cancelAtGateway(claim, readJustNow);
    } catch (error) {
      if (isGatewayError(error)) return { kind: TRANSIENT.has(error.kind) ? 'RETRY' : 'STUCK', error: error.message, errorKind: error.kind };
      this.logger.error({ err: error, refundId: claim.id }, 'unexpected error during a refund attempt');
      return { kind: 'RETRY', error: error instanceof Error ? error.message : String(error), errorKind: 'INTERNAL' };
    }
  }

  /**
   * The usual end of an attempt, in one statement: the refund SUCCEEDED (fenced by attempt number and
   * status), its CANCEL_ATTEMPT event, and its backup job dropped. Written in SQL because it sits on the
   * path of every refunded confirm; null when the fence did not match (the general path records that).
   */
  private async recordSuccessAtOnce(claim: AttemptClaim, result: Extract<AttemptResult, { kind: 'SUCCEEDED' }>, now: Date): Promise<boolean> {
    const details = { attempt: claim.attempt };
    const rows: Array<{ id: string }> = await this.orm.em.getConnection().execute(
      `with done as (
         update refund set status = 'SUCCEEDED', succeeded_at = ?, next_attempt_at = null, attempt_lease_until = null,
                last_error = null, gateway_cancellation_id = coalesce(?, gateway_cancellation_id), updated_at = ?
          where id = ? and attempts = ? and status = 'PENDING'
          returning id, reservation_id, gateway_payment_id
       ), logged as (
         insert into payment_event (at, reservation_id, gateway_payment_id, refund_id, kind, outcome, message, details)
         select ?, reservation_id, gateway_payment_id, id, 'CANCEL_ATTEMPT', 'SUCCEEDED', ?, ?::jsonb from done
       )
       select done.id, (graphile_worker.remove_job(?)).id as removed_job_id from done`,
      [now, result.cancellationId, now, claim.id, claim.attempt, new Date(), result.note, JSON.stringify(details), refundJobKey(claim.id)],
    );
    if (rows.length === 0) return false;
    this.events.logOnly({
      kind: 'CANCEL_ATTEMPT',
      outcome: 'SUCCEEDED',
      refundId: claim.id,
      reservationId: claim.reservationId,
      gatewayPaymentId: claim.gatewayPaymentId,
      message: result.note,
      details,
    });
    return true;
  }

  private async claim(refundId: string): Promise<AttemptClaim | null> {
    return transactionalWithRetry(this.orm.em, async (tx) => {
      const refund = await tx.findOne(Refund, refundId, { lockMode: LockMode.PESSIMISTIC_WRITE });
      if (!refund || refund.status !== RefundStatus.PENDING) return null;
      const now = this.clock.now();
      if (refund.attemptLeaseUntil && refund.attemptLeaseUntil.getTime() > now.getTime()) return null;
      refund.attempts += 1;
      refund.attemptLeaseUntil = new Date(now.getTime() + this.policy.attemptLeaseMs);
      return claimOf(refund);
    });
  }

  private async cancelAtGateway(claim: AttemptClaim, readJustNow?: GatewayPayment): Promise<AttemptResult> {
    // The decision's own read, milliseconds old, serves the first attempt: the cancel carries that balance
    // as its guard, so PortOne refuses it if anything changed in between (I3).
    const current = readJustNow ?? (await this.gateway.getPayment(claim.gatewayPaymentId));
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
      if (isGatewayError(error, 'REJECTED')) return this.afterRejectedCancel(claim, balance, error);
      if (!isGatewayError(error, 'ALREADY_CANCELLED')) throw error;
      // Its word alone is not enough: success is a zero balance read back.
      const readBack = await this.gateway.getPayment(claim.gatewayPaymentId);
      if (gatewayBalance(readBack) <= 0) return { kind: 'SUCCEEDED', cancellationId: null, note: 'PortOne says it was already cancelled' };
      return { kind: 'RETRY', errorKind: 'ALREADY_CANCELLED', error: `PortOne says already cancelled but ${gatewayBalance(readBack)} is still paid` };
    }
  }

  /**
   * PortOne refused the cancel. The balance guard refuses exactly when the balance moved since the read
   * the cancel was sized from (someone cancelled part of it meanwhile; the decision's read can be a lock
   * wait old): that is not a refusal an operator must see but a stale read, so the payment is read back.
   * Nothing left is done; a different balance is tried again with that read. Any other refusal stands.
   */
  private async afterRejectedCancel(claim: AttemptClaim, guard: number, rejection: Error): Promise<AttemptResult> {
    const readBack = await this.gateway.getPayment(claim.gatewayPaymentId);
    const left = gatewayBalance(readBack);
    if (left <= 0) {
      const last = readBack.cancellations[readBack.cancellations.length - 1];
      return { kind: 'SUCCEEDED', cancellationId: last?.cancellationId ?? null, note: 'PortOne shows nothing left to cancel' };
    }
    if (left !== guard) {
      return { kind: 'RETRY', errorKind: 'BALANCE_CHANGED', error: `the balance moved from ${guard} to ${left} before our cancel (${rejection.message})` };
    }
    throw rejection;
  }

  private async recordAttempt(claim: AttemptClaim, result: AttemptResult): Promise<Refund> {
    if (result.kind === 'SUCCEEDED' && (await this.recordSuccessAtOnce(claim, result, this.clock.now()))) {
      return this.orm.em.fork().findOneOrFail(Refund, claim.id);
    }
    return this.recordInTransaction(claim, result);
  }

  /** Any other end of an attempt, and a success that lost its fence (a newer attempt or an admin acted). */
  private async recordInTransaction(claim: AttemptClaim, result: AttemptResult): Promise<Refund> {
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
        markSucceeded(refund, now, result.cancellationId);
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
}
