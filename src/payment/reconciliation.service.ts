import type { EntityManager, MikroORM } from '@mikro-orm/postgresql';
import type { Logger } from 'pino';
import { Reservation, ReservationStatus } from '../booking/reservation.entity';
import type { Clock } from '../clock';
import type { PaymentGateway } from '../gateway/payment-gateway';
import { AppError } from '../graphql/errors';
import { Payment } from './payment.entity';
import type { PaymentEventLog } from './payment-event-log';
import type { PaymentSettlementService } from './payment-settlement.service';
import { Refund, RefundStatus } from './refund.entity';
import { scheduleRefundAttempt } from './refund-queue';

export interface ReconciliationPolicy {
  intervalMs: number;
  /** How long after a hold ends before we ask PortOne about it (lets in-flight confirmations finish). */
  graceMs: number;
  /** How long after the hold ended an unpaid reservation is still re-checked for a late payment. */
  lateWindowMs: number;
  /** How often such a reservation is re-checked. */
  recheckEveryMs: number;
  batchSize: number;
}

export interface ReconciliationReport {
  checked: number;
  settled: number;
  expired: number;
  refundsRequeued: number;
  errors: number;
}

/**
 * The safety net that needs no client and no webhook: asks PortOne about every reservation that was held
 * but never settled, settles what it finds, expires stale holds, and puts back on the queue any PENDING
 * refund whose attempt is overdue (its job was lost, say with a killed process).
 */
export class ReconciliationService {
  constructor(
    private readonly orm: MikroORM,
    private readonly gateway: PaymentGateway,
    private readonly settlement: PaymentSettlementService,
    private readonly events: PaymentEventLog,
    private readonly policy: ReconciliationPolicy,
    private readonly clock: Clock,
    private readonly logger: Logger,
  ) {}

  async run(): Promise<ReconciliationReport> {
    const report: ReconciliationReport = { checked: 0, settled: 0, expired: 0, refundsRequeued: 0, errors: 0 };
    for (const reservation of await this.candidates(this.orm.em.fork())) {
      report.checked += 1;
      try {
        const outcome = await this.reconcileReservation(reservation);
        report.settled += outcome.settled;
        report.expired += outcome.expired ? 1 : 0;
      } catch (error) {
        report.errors += 1;
        this.logger.warn({ err: error, reservationId: reservation.id }, 'reconciliation could not finish a reservation; next run tries again');
      }
    }
    report.refundsRequeued = await this.requeueOverdueRefunds();
    if (report.checked > 0 || report.refundsRequeued > 0) this.logger.info({ reconciliation: report }, 'reconciliation run');
    return report;
  }

  private async candidates(em: EntityManager): Promise<Reservation[]> {
    const now = this.clock.now().getTime();
    const settledIds = em.getKnex()('payment').select('reservation_id');
    const qb = em
      .createQueryBuilder(Reservation, 'r')
      .select('*')
      .where({ id: { $nin: settledIds } })
      .andWhere({
        $or: [
          // Held past its end (and the grace): never settled.
          { status: ReservationStatus.HELD, expiresAt: { $lt: new Date(now - this.policy.graceMs) } },
          // A payment was reported but not decided (the process died mid-flight, say).
          {
            paymentReportedAt: { $ne: null, $lt: new Date(now - this.policy.graceMs / 4) },
            expiresAt: { $gt: new Date(now - this.policy.lateWindowMs) },
          },
          // Expired or cancelled without payment: look again now and then for a late payment.
          {
            status: { $in: [ReservationStatus.EXPIRED, ReservationStatus.CANCELLED] },
            expiresAt: { $gt: new Date(now - this.policy.lateWindowMs) },
            $or: [{ reconciledAt: null }, { reconciledAt: { $lt: new Date(now - this.policy.recheckEveryMs) } }],
          },
        ],
      })
      .orderBy({ paymentReportedAt: 'asc nulls last', expiresAt: 'asc' })
      .limit(this.policy.batchSize);
    return qb.getResultList();
  }

  private async reconcileReservation(reservation: Reservation): Promise<{ settled: number; expired: boolean }> {
    const em = this.orm.em.fork();
    const payments = await this.gateway.findPaymentsByMerchantUid(reservation.merchantUid);
    let settled = 0;
    for (const payment of payments.filter((p) => p.status === 'PAID' || p.cancelledAmount > 0)) {
      const decided = await em.count(Payment, { gatewayPaymentId: payment.gatewayPaymentId });
      if (decided > 0) continue;
      try {
        await this.settlement.settle(em, payment.gatewayPaymentId, { source: 'RECONCILIATION' });
        settled += 1;
      } catch (error) {
        if (error instanceof AppError && error.code === 'PAYMENT_NOT_COMPLETED') continue;
        throw error;
      }
    }
    const now = this.clock.now();
    let expired = false;
    await em.fork().transactional(async (tx) => {
      const fresh = await tx.findOneOrFail(Reservation, reservation.id, { refresh: true });
      fresh.reconciledAt = now;
      if (fresh.status === ReservationStatus.HELD && fresh.expiresAt.getTime() <= now.getTime() - this.policy.graceMs) {
        fresh.status = ReservationStatus.EXPIRED;
        expired = true;
      }
    });
    if (settled > 0 || expired) {
      await this.events.record(em, {
        kind: 'RECONCILIATION',
        outcome: expired ? 'EXPIRED' : 'SETTLED',
        reservationId: reservation.id,
        message: `${payments.length} payment record(s) at PortOne, ${settled} settled now`,
      });
    }
    return { settled, expired };
  }

  private async requeueOverdueRefunds(): Promise<number> {
    const em = this.orm.em.fork();
    const overdueBefore = new Date(this.clock.now().getTime() - this.policy.graceMs);
    const overdue = await em.find(
      Refund,
      { status: RefundStatus.PENDING, $or: [{ nextAttemptAt: null }, { nextAttemptAt: { $lt: overdueBefore } }] },
      { limit: this.policy.batchSize },
    );
    for (const refund of overdue) {
      await em.transactional((tx) => scheduleRefundAttempt(tx, refund.id, this.clock.now()));
      this.logger.warn({ refundId: refund.id, nextAttemptAt: refund.nextAttemptAt }, 'overdue refund put back on the queue');
    }
    return overdue.length;
  }
}
