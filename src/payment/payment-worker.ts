import { Logger as WorkerLogger, run, runMigrations, type Runner, type Task } from 'graphile-worker';
import type { MikroORM } from '@mikro-orm/postgresql';
import type { Logger } from 'pino';
import { REFUND_ATTEMPT_TASK, scheduleRefundAttempt } from './refund-queue';
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

export interface JobHandlers {
  [task: string]: Task;
}

/**
 * The PostgreSQL job queue's workers. Jobs are picked with SKIP LOCKED, so any number of processes can
 * run this against one database; each job runs in exactly one of them.
 */
export async function startPaymentWorker(options: {
  connectionString: string;
  refunds: RefundService;
  orm: MikroORM;
  logger: Logger;
  concurrency?: number;
  pollIntervalMs?: number;
  extraTasks?: JobHandlers;
}): Promise<Runner> {
  const { refunds, logger } = options;
  const refundAttempt: Task = async (payload) => {
    const { refundId } = payload as { refundId?: string };
    if (typeof refundId !== 'string') throw new Error(`${REFUND_ATTEMPT_TASK}: payload without refundId`);
    const refund = await refunds.attempt(refundId);
    if (refund?.status === RefundStatus.PENDING && refund.attemptLeaseUntil) {
      // Another worker holds the attempt, or held it and died: look again when its lease runs out.
      const lookAgainAt = new Date(refund.attemptLeaseUntil.getTime() + 100);
      await options.orm.em.fork().transactional((tx) => scheduleRefundAttempt(tx, refundId, lookAgainAt));
    }
  };
  return run({
    connectionString: options.connectionString,
    concurrency: options.concurrency ?? 4,
    pollInterval: options.pollIntervalMs ?? 1000,
    noHandleSignals: true,
    logger: workerLogger(logger),
    taskList: { [REFUND_ATTEMPT_TASK]: refundAttempt, ...options.extraTasks },
  });
}
