import { Logger as WorkerLogger, run, runMigrations, type Runner, type Task } from 'graphile-worker';
import type { MikroORM } from '@mikro-orm/postgresql';
import type { Logger } from 'pino';
import { AppError } from '../graphql/errors';
import type { PaymentSettlementService, SettlementSource } from './payment-settlement.service';
import type { ReconciliationService } from './reconciliation.service';
import { REFUND_ATTEMPT_TASK, scheduleRefundAttempt } from './refund-queue';
import { RECONCILE_TASK, releaseStaleJobLocks, scheduleReconciliation, SETTLE_PAYMENT_TASK } from './settlement-queue';
import { RefundStatus } from './refund.entity';
import type { RefundService } from './refund.service';

function workerLogger(logger: Logger): WorkerLogger {
  return new WorkerLogger((scope) => (level, message, meta) => {
    const method = level === 'error' ? 'error' : level === 'warning' ? 'warn' : 'debug';
    logger[method]({ worker: scope, ...(meta ?? {}) }, message);
  });
}

/** Installs or upgrades graphile-worker's own tables (schema `graphile_worker`); idempotent. */
export async function migrateJobQueue(connectionString: string, logger: Logger): Promise<void> {
  await runMigrations({ connectionString, logger: workerLogger(logger) });
}

/**
 * The PostgreSQL job queue's workers. Jobs are picked with SKIP LOCKED, so any number of processes can
 * run this against one database; each job runs in exactly one of them.
 */
export async function startPaymentWorker(options: {
  connectionString: string;
  orm: MikroORM;
  refunds: RefundService;
  settlement: PaymentSettlementService;
  reconciliation: ReconciliationService;
  reconcileIntervalMs: number;
  logger: Logger;
  concurrency?: number;
  pollIntervalMs?: number;
  /** See releaseStaleJobLocks; checked every reconcile interval by every process. */
  staleJobLockMs: number;
}): Promise<{ runner: Runner; stop(): Promise<void> }> {
  const { orm, refunds, settlement, reconciliation, logger } = options;
  const refundAttempt: Task = async (payload) => {
    const { refundId } = payload as { refundId?: string };
    if (typeof refundId !== 'string') throw new Error(`${REFUND_ATTEMPT_TASK}: payload without refundId`);
    const refund = await refunds.attempt(refundId);
    if (refund?.status === RefundStatus.PENDING && refund.attemptLeaseUntil) {
      // Another worker holds the attempt, or held it and died: look again when its lease runs out.
      const lookAgainAt = new Date(refund.attemptLeaseUntil.getTime() + 100);
      await orm.em.fork().transactional((tx) => scheduleRefundAttempt(tx, refundId, lookAgainAt));
    }
  };

  const settlePayment: Task = async (payload) => {
    const { gatewayPaymentId, source } = payload as { gatewayPaymentId: string; source: SettlementSource };
    try {
      await settlement.settle(orm.em.fork(), gatewayPaymentId, { source });
    } catch (error) {
      // Nothing to settle (not paid yet, or unknown to PortOne: a forged notification). A later
      // notification or reconciliation picks up a payment that completes afterwards.
      if (error instanceof AppError && ['PAYMENT_NOT_COMPLETED', 'NOT_FOUND', 'PAYMENT_NOT_OURS'].includes(error.code)) {
        logger.info({ gatewayPaymentId, source, code: error.code }, 'queued settlement had nothing to settle');
        return;
      }
      throw error;
    }
  };

  const reconcile: Task = async () => {
    try {
      await reconciliation.run();
    } finally {
      await scheduleReconciliation(orm.em.fork(), new Date(Date.now() + options.reconcileIntervalMs), 'replace');
    }
  };

  const runner = await run({
    connectionString: options.connectionString,
    concurrency: options.concurrency ?? 4,
    pollInterval: options.pollIntervalMs ?? 1000,
    noHandleSignals: true,
    logger: workerLogger(logger),
    taskList: { [REFUND_ATTEMPT_TASK]: refundAttempt, [SETTLE_PAYMENT_TASK]: settlePayment, [RECONCILE_TASK]: reconcile },
  });
  // Independent of the reconcile job on purpose: that job itself may be the one a dead process holds.
  const unlockTimer = setInterval(() => {
    releaseStaleJobLocks(orm.em.fork(), options.staleJobLockMs)
      .then((released) => released > 0 && logger.warn({ workers: released }, 'released jobs held by dead workers'))
      .catch((error) => logger.warn({ err: error }, 'could not check for jobs held by dead workers'));
  }, Math.max(1000, Math.min(options.reconcileIntervalMs, options.staleJobLockMs)));
  unlockTimer.unref();
  return {
    runner,
    async stop() {
      clearInterval(unlockTimer);
      await runner.stop();
    },
  };
}
