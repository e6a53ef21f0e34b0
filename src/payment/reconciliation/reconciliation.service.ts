import type { EntityManager, MikroORM } from '@mikro-orm/postgresql';
import type { Logger } from 'pino';
import { Reservation, ReservationStatus } from '../../booking/reservation.entity';
import type { Clock } from '../../clock';
import { gatewayBalance, isGatewayError, type GatewayPayment, type PaymentGateway, type PaymentListQuery } from '../../gateway/payment-gateway';
import { isDecided } from '../settlement/settlement-outcome';
import type { PaymentEventLog } from '../event-log/payment-event-log';
import { paymentState, type VerificationPolicy } from '../settlement/payment-verification';
import type { PaymentSettlementService } from '../settlement/payment-settlement.service';
import { RefundStatus } from '../refunds/refund.entity';
import { scheduleRefundAttempt } from '../refunds/refund-queue';
import { releaseStaleJobLocks, scheduleSettlement } from '../settlement/settlement-queue';
import { SweepCursor } from './sweep-cursor.entity';
import type { ReconciliationPolicy, ReconciliationReport } from './reconciliation-policy';
import { VirtualAccount } from './virtual-account.entity';
import { rememberVirtualAccount } from './virtual-accounts';

export type { ReconciliationPolicy, ReconciliationReport } from './reconciliation-policy';

/** V1 answers at most 90 days per listing call. */
const MAX_WINDOW_MS = 89 * 86_400_000;
const CURSOR_HOLD_LIMIT_MS = 86_400_000;
/**
 * A backstop for the crowd walk below, which has no run budget: more pages than this in two seconds
 * (10⁷ payments at the largest page size) means the listing does not end, not a crowd. The cursor stays.
 */
const MAX_PAGES_PER_CROWD = 10_000;
const SWEPT_LISTINGS: Array<PaymentListQuery['status']> = ['paid', 'cancelled', 'ready'];

type DecidedRow = { gateway_payment_id: string; decision: string; amount: string; reservation_status: string; refund_status: string | null };

/**
 * The safety net that needs no client and no webhook. Each run:
 * - sweeps PortOne's payment listings (paid, cancelled, issued virtual accounts) from a stored cursor and
 *   settles every payment of ours whose recorded state is missing or disagrees (undecided, cancelled
 *   outside this server, a refund PortOne shows done): the cost follows payments, not abandoned holds;
 * - reads by order id the reservations a client reported paying for, with backoff;
 * - expires holds past their end and grace, and revokes their unpaid virtual accounts;
 * - puts overdue refund attempts and jobs of dead processes back on the queue.
 */
export class ReconciliationService {
  constructor(
    private readonly orm: MikroORM,
    private readonly gateway: PaymentGateway,
    private readonly settlement: PaymentSettlementService,
    private readonly events: PaymentEventLog,
    private readonly policy: ReconciliationPolicy,
    private readonly verification: VerificationPolicy,
    private readonly clock: Clock,
    private readonly logger: Logger,
  ) {}

  async run(): Promise<ReconciliationReport> {
    const report: ReconciliationReport = {
      listed: 0,
      settled: 0,
      reportedChecked: 0,
      expired: 0,
      virtualAccountsRevoked: 0,
      refundsRequeued: 0,
      jobsUnlocked: 0,
      errors: 0,
    };
    for (const listing of SWEPT_LISTINGS) await this.sweep(listing, report);
    await this.checkReported(report);
    report.expired = await this.expireHolds();
    await this.revokeVirtualAccounts(report);
    report.refundsRequeued = await this.requeueOverdueRefunds();
    report.jobsUnlocked = await releaseStaleJobLocks(this.orm.em.fork(), this.policy.staleJobLockMs);
    if (Object.values(report).some((n) => n > 0)) this.logger.info({ reconciliation: report }, 'reconciliation run');
    return report;
  }

  /**
   * Reads one listing from the cursor to now. Each window is read in a single page: a page-numbered walk
   * over a listing that changes underneath (a payment cancelled mid-walk leaves the `paid` listing and
   * shifts the rest back) can skip a payment, so a window that does not fit in one page is split in two,
   * oldest half first, down to one second. The cursor follows every window read to its end.
   */
  private async sweep(listing: PaymentListQuery['status'], report: ReconciliationReport): Promise<void> {
    const em = this.orm.em.fork();
    const now = this.clock.now().getTime();
    const cursor = await em.findOne(SweepCursor, { listing });
    const start = cursor ? cursor.sweptUntil.getTime() - this.policy.sweepOverlapMs : await this.firstSweepStart(em, now);
    // Windows still to read, oldest last so that pop() takes the oldest.
    const pending: Array<[number, number]> = [];
    for (let to = now; to > start; to = Math.max(start, to - MAX_WINDOW_MS)) pending.push([Math.max(start, to - MAX_WINDOW_MS), to]);
    let calls = 0;
    // Once a payment of a window could not be settled, later windows are still read and settled, but the
    // cursor stays before it, so the next run lists it again (the queued job may settle it first). A
    // payment failing for longer than a day no longer holds the sweep back: the queue keeps it.
    let holdCursor = false;
    while (pending.length > 0 && calls < this.policy.sweepMaxPagesPerRun) {
      const [from, to] = pending.pop()!;
      const payments: GatewayPayment[] = [];
      let page: number | null = 1;
      let split = false;
      // The budget bounds how many windows a run reads, not the pages of one: a window of two seconds or less
      // cannot be split, and stopping inside it would restart it at page 1 every run, never getting past. Its
      // further pages do not count either, or a crowd re-read through the overlap would spend every run's
      // budget and the cursor would never get far past it.
      while (page !== null) {
        let result;
        try {
          if (page === 1) calls += 1;
          result = await this.gateway.listPayments({ status: listing, from: new Date(from), to: new Date(to), page, limit: this.policy.sweepPageSize });
        } catch (error) {
          report.errors += 1;
          this.logger.warn({ err: error, listing, from: new Date(from), to: new Date(to) }, 'reconciliation sweep could not read PortOne; the next run resumes here');
          return;
        }
        payments.push(...result.payments);
        page = result.nextPage;
        if (page !== null && page > MAX_PAGES_PER_CROWD) {
          report.errors += 1;
          this.logger.error({ listing, from: new Date(from), to: new Date(to), page }, 'reconciliation sweep: PortOne listing does not end; the cursor stays before it');
          return;
        }
        if (page !== null && to - from > 2000) {
          const middle = from + Math.floor((to - from) / 2);
          pending.push([middle, to], [from, middle]);
          split = true;
          break;
        }
        // A crowd within two seconds cannot be split further: page through it to its end.
      }
      if (split) continue;
      report.listed += payments.length;
      const failed = await this.settleListed(em, listing, payments, report);
      if (failed > 0 && now - to < CURSOR_HOLD_LIMIT_MS) holdCursor = true;
      if (!holdCursor) await em.upsert(SweepCursor, { listing, sweptUntil: new Date(to), updatedAt: new Date() });
    }
  }

  private async firstSweepStart(em: EntityManager, now: number): Promise<number> {
    const rows: Array<{ oldest: Date | null }> = await em.execute('select min(created_at) as oldest from reservation');
    const oldest = rows[0]?.oldest ? new Date(rows[0].oldest).getTime() : now;
    // A database that predates the sweep starts at most one listing window back: older payments were
    // settled by the reservation-by-reservation reconciliation this one replaced.
    return Math.max(now - MAX_WINDOW_MS, Math.min(oldest, now) - this.policy.sweepLookbackMs);
  }

  /** One query tells which listed payments of ours are undecided or recorded differently from what PortOne shows. */
  /** Returns how many payments it could not settle now. */
  private async settleListed(
    em: EntityManager,
    listing: PaymentListQuery['status'],
    payments: GatewayPayment[],
    report: ReconciliationReport,
  ): Promise<number> {
    if (payments.length === 0) return 0;
    const ours: Array<{ id: string; merchant_uid: string }> = await em.execute(
      'select id, merchant_uid from reservation where merchant_uid = any(array[?]::text[])',
      [payments.map((p) => p.merchantUid)],
    );
    const reservationOf = new Map(ours.map((r) => [r.merchant_uid, r.id]));
    const candidates = payments.filter((p) => reservationOf.has(p.merchantUid));
    if (candidates.length === 0) return 0;
    const decided: DecidedRow[] = await em.execute(
      `select p.gateway_payment_id, p.decision, p.amount, r.status as reservation_status, f.status as refund_status
         from payment p join reservation r on r.id = p.reservation_id
         left join refund f on f.gateway_payment_id = p.gateway_payment_id
        where p.gateway_payment_id = any(array[?]::text[])`,
      [candidates.map((p) => p.gatewayPaymentId)],
    );
    const decisionOf = new Map(decided.map((d) => [d.gateway_payment_id, d]));
    let failed = 0;

    for (const payment of candidates) {
      if (listing === 'ready') {
        if (payment.isVirtualAccount && payment.status === 'READY') await rememberVirtualAccount(em, payment.gatewayPaymentId, reservationOf.get(payment.merchantUid)!, this.clock.now());
        continue;
      }
      if (!this.disagrees(payment, decisionOf.get(payment.gatewayPaymentId))) continue;
      if (!(await this.settleQuietly(payment.gatewayPaymentId, report))) failed += 1;
    }
    return failed;
  }

  /** Whether what PortOne shows differs from what we recorded, so that settling it would change something. */
  private disagrees(payment: GatewayPayment, decided: DecidedRow | undefined): boolean {
    const balance = gatewayBalance(payment);
    if (!decided) return paymentState(payment, this.verification).paid;
    if (decided.decision === 'CONFIRMED' && decided.reservation_status === ReservationStatus.CONFIRMED) {
      return balance < Number(decided.amount); // cancelled, fully or partly, outside this server
    }
    if (decided.refund_status === RefundStatus.PENDING || decided.refund_status === RefundStatus.NEEDS_ATTENTION) return balance <= 0;
    return false;
  }

  /** Settles one payment; false when it could not be settled now (then it is queued to try again). */
  private async settleQuietly(gatewayPaymentId: string, report: ReconciliationReport): Promise<boolean> {
    try {
      const outcome = await this.settlement.settle(this.orm.em.fork(), gatewayPaymentId, { source: 'RECONCILIATION' });
      if (outcome.kind === 'GATEWAY_UNAVAILABLE') throw new Error(`PortOne could not be reached to settle ${gatewayPaymentId}`);
      if (isDecided(outcome)) report.settled += 1;
      return true;
    } catch (error) {
      report.errors += 1;
      this.logger.warn({ err: error, gatewayPaymentId }, 'reconciliation could not settle a payment now; queued to try again');
      // Two ways back to it: the queue (with its own backoff), and the sweep's cursor held before it.
      await scheduleSettlement(this.orm.em.fork(), gatewayPaymentId, 'RECONCILIATION', new Date(Date.now() + this.policy.intervalMs)).catch(
        (queueError) => this.logger.error({ err: queueError, gatewayPaymentId }, 'could not queue a settlement; the next sweep lists it again'),
      );
      return false;
    }
  }

  /** Reservations a client reported paying for that we could not settle then: read by order id, backing off. */
  private async checkReported(report: ReconciliationReport): Promise<void> {
    const em = this.orm.em.fork();
    const now = this.clock.now();
    const due = await em.find(Reservation, { reportCheckAt: { $lte: now } }, { orderBy: { reportCheckAt: 'asc' }, limit: this.policy.batchSize });
    for (const reservation of due) {
      report.reportedChecked += 1;
      try {
        const payments = await this.gateway.findPaymentsByMerchantUid(reservation.merchantUid);
        const decidedRows: Array<{ gateway_payment_id: string }> = payments.length
          ? await em.execute('select gateway_payment_id from payment where gateway_payment_id = any(array[?]::text[])', [payments.map((p) => p.gatewayPaymentId)])
          : [];
        const decided = new Set(decidedRows.map((d) => d.gateway_payment_id));
        for (const payment of payments) {
          if (!decided.has(payment.gatewayPaymentId) && paymentState(payment, this.verification).paid) {
            await this.settleQuietly(payment.gatewayPaymentId, report);
          }
        }
      } catch (error) {
        report.errors += 1;
        this.logger.warn({ err: error, reservationId: reservation.id }, 'could not read a reported payment; backing off');
      }
      const checks = reservation.reportChecks + 1;
      const reportedAt = reservation.paymentReportedAt?.getTime() ?? now.getTime();
      const next = now.getTime() + Math.min(this.policy.reportBackoffMaxMs, this.policy.reportBackoffBaseMs * 2 ** (checks - 1));
      await em.nativeUpdate(
        Reservation,
        { id: reservation.id },
        { reportChecks: checks, reportCheckAt: next - reportedAt > this.policy.reportGiveUpMs ? null : new Date(next) },
      );
    }
  }

  /** Holds past their end and grace: the seat is free again. A late payment is still settled by the sweep. */
  private async expireHolds(): Promise<number> {
    const cutoff = new Date(this.clock.now().getTime() - this.policy.graceMs);
    return this.orm.em.fork().nativeUpdate(Reservation, { status: ReservationStatus.HELD, expiresAt: { $lt: cutoff } }, { status: ReservationStatus.EXPIRED });
  }

  /** An unpaid virtual account of a booking that will not happen any more must not take a deposit. */
  private async revokeVirtualAccounts(report: ReconciliationReport): Promise<void> {
    const em = this.orm.em.fork();
    const cutoff = new Date(this.clock.now().getTime() - this.policy.graceMs);
    const open: Array<{ gateway_payment_id: string; reservation_id: string }> = await em.execute(
      `select va.gateway_payment_id, va.reservation_id from virtual_account va join reservation r on r.id = va.reservation_id
        where va.closed_at is null and (r.status <> 'HELD' or r.expires_at < ?)
          and not exists (select 1 from payment p where p.gateway_payment_id = va.gateway_payment_id)
        order by va.issued_at limit ?`,
      [cutoff, this.policy.batchSize],
    );
    for (const account of open) {
      let closedBecause: string;
      try {
        await this.gateway.revokeVirtualAccount(account.gateway_payment_id);
        closedBecause = 'revoked';
        report.virtualAccountsRevoked += 1;
      } catch (error) {
        if (!isGatewayError(error) || !['REJECTED', 'NOT_FOUND'].includes(error.kind)) {
          report.errors += 1;
          this.logger.warn({ err: error, gatewayPaymentId: account.gateway_payment_id }, 'could not revoke a virtual account; next run tries again');
          continue;
        }
        // Not revocable any more: most likely paid meanwhile, which settlement decides.
        closedBecause = `not revocable: ${error.message}`;
        await this.settleQuietly(account.gateway_payment_id, report);
      }
      await em.nativeUpdate(VirtualAccount, { gatewayPaymentId: account.gateway_payment_id }, { closedAt: this.clock.now(), closedBecause });
      await this.events.record(em, {
        kind: 'VIRTUAL_ACCOUNT',
        outcome: closedBecause === 'revoked' ? 'REVOKED' : 'NOT_REVOKED',
        reservationId: account.reservation_id,
        gatewayPaymentId: account.gateway_payment_id,
        message: closedBecause === 'revoked' ? 'the hold ended unpaid: the virtual account was revoked at PortOne' : closedBecause,
      });
    }
  }

  private async requeueOverdueRefunds(): Promise<number> {
    const em = this.orm.em.fork();
    const overdueBefore = new Date(this.clock.now().getTime() - this.policy.graceMs);
    const overdue: Array<{ id: string }> = await em.execute(
      `select id from refund where status = ? and (next_attempt_at is null or next_attempt_at < ?) limit ?`,
      [RefundStatus.PENDING, overdueBefore, this.policy.batchSize],
    );
    for (const refund of overdue) {
      await em.transactional((tx) => scheduleRefundAttempt(tx, refund.id, this.clock.now()));
      this.logger.warn({ refundId: refund.id }, 'overdue refund put back on the queue');
    }
    return overdue.length;
  }
}
