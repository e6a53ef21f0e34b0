import { Logger as WorkerLogger, run, runMigrations, type Task } from 'graphile-worker';
import { Pool } from 'pg';
import type { MikroORM } from '@mikro-orm/postgresql';
import type { Logger } from 'pino';
import { isDecided } from '../settlement/settlement-outcome';
import type { PaymentSettlementService, SettlementSource } from '../settlement/payment-settlement.service';
import type { ReconciliationService } from '../reconciliation/reconciliation.service';
import { REFUND_ATTEMPT_TASK, scheduleRefundLookAgain } from '../refunds/refund-queue';
import { RECONCILE_TASK, releaseStaleJobLocks, scheduleReconciliation, SETTLE_PAYMENT_TASK } from '../settlement/settlement-queue';
import { RefundStatus } from '../refunds/refund.entity';
import type { RefundService } from '../refunds/refund.service';

/** A job still running when the shutdown deadline came: handed back to the queue, not a failure of the job. */
export class StoppedByShutdown extends Error {
  constructor(task: string) {
    super(`${task} was still running at the shutdown deadline; it goes back to the queue`);
    this.name = 'StoppedByShutdown';
  }
}

function workerLogger(logger: Logger): WorkerLogger {
  return new WorkerLogger((scope) => (level, message, meta) => {
    const stoppedByShutdown = meta?.error instanceof StoppedByShutdown;
    const method = level === 'error' && !stoppedByShutdown ? 'error' : level === 'warning' || level === 'error' ? 'warn' : 'debug';
    logger[method]({ worker: scope, ...workerLogFields(meta) }, message);
  });
}

/**
 * graphile-worker's log metadata can hold live objects (pg clients and pools, workers, whole jobs);
 * logged as they are, one line dumps a client's sockets and buffers. Errors go to pino's `err`
 * serializer, jobs are reduced to their id and task, and anything else that is not a plain value is left out.
 */
export function workerLogFields(meta: Record<string, unknown> | undefined): Record<string, unknown> {
  const fields: Record<string, unknown> = {};
  for (const [key, value] of Object.entries(meta ?? {})) {
    if (value instanceof Error) {
      fields[key === 'error' || !('err' in fields) ? 'err' : `${key}Err`] = plainError(value);
    } else if (value === null || ['string', 'number', 'boolean'].includes(typeof value)) {
      fields[key] = value;
    } else if (key === 'job' && typeof value === 'object') {
      const job = value as { id?: unknown; task_identifier?: unknown };
      fields.job = { id: job.id, task: job.task_identifier };
    }
  }
  return fields;
}

/** An error with its message, code, stack and cause, but none of the objects (a pg client, say) hung on it. */
function plainError(error: Error): Error {
  const copy = new Error(error.message, error.cause instanceof Error ? { cause: plainError(error.cause) } : undefined);
  copy.name = error.name;
  copy.stack = error.stack;
  const code = (error as { code?: unknown }).code;
  if (typeof code === 'string' || typeof code === 'number') (copy as Error & { code?: unknown }).code = code;
  return copy;
}

/** Installs or upgrades graphile-worker's own tables (schema `graphile_worker`); idempotent. */
export async function migrateJobQueue(connectionString: string, logger: Logger): Promise<void> {
  await runMigrations({ connectionString, logger: workerLogger(logger) });
}

export interface PaymentWorker {
  /** Takes no new job, lets the running ones finish (or aborts them, see `shutdownTimeoutMs`), closes its connections. */
  stop(): Promise<void>;
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
  /**
   * After `runner.stop()`, how long running jobs may go on. Then each one is failed with
   * StoppedByShutdown, which puts it back on the queue for a later retry; the work it had started is
   * not interrupted, and a refund attempt keeps its lease, so the retry reads the payment back first.
   */
  shutdownTimeoutMs?: number;
}): Promise<PaymentWorker> {
  const { orm, refunds, settlement, reconciliation, logger } = options;
  const stoppableByShutdown =
    (name: string, task: Task): Task =>
    (payload, helpers) => {
      let finished = false;
      const work = Promise.resolve(task(payload, helpers)).finally(() => (finished = true));
      const aborted = helpers.abortPromise.then(
        () => undefined,
        () => {
          if (finished) return;
          logger.warn({ task: name, jobId: helpers.job.id }, 'a job was still running at the shutdown deadline: handing it back to the queue');
          throw new StoppedByShutdown(name);
        },
      );
      return Promise.race([work, aborted]);
    };
  const refundAttempt: Task = async (payload) => {
    const { refundId } = payload as { refundId?: string };
    if (typeof refundId !== 'string') throw new Error(`${REFUND_ATTEMPT_TASK}: payload without refundId`);
    const refund = await refunds.attempt(refundId);
    if (refund?.status === RefundStatus.PENDING && refund.attemptLeaseUntil) {
      // Another worker holds the attempt, or held it and died: look again when its lease runs out.
      const lookAgainAt = new Date(refund.attemptLeaseUntil.getTime() + 100);
      await orm.em.fork().transactional((tx) => scheduleRefundLookAgain(tx, refundId, lookAgainAt));
    }
  };

  const settlePayment: Task = async (payload) => {
    const { gatewayPaymentId, source } = payload as { gatewayPaymentId: string; source: SettlementSource };
    const outcome = await settlement.settle(orm.em.fork(), gatewayPaymentId, { source });
    // PortOne unreachable: fail the job, and graphile-worker tries again with its backoff.
    if (outcome.kind === 'GATEWAY_UNAVAILABLE') throw new Error(`PortOne could not be reached to settle ${gatewayPaymentId}`);
    // Nothing to settle (not paid yet, unknown to PortOne: a forged notification, not ours). A later
    // notification or reconciliation picks up a payment that completes afterwards.
    if (!isDecided(outcome)) logger.info({ gatewayPaymentId, source, outcome: outcome.kind }, 'queued settlement had nothing to settle');
  };

  const reconcile: Task = async () => {
    try {
      await reconciliation.run();
    } finally {
      await scheduleReconciliation(orm.em.fork(), new Date(Date.now() + options.reconcileIntervalMs), 'replace');
    }
  };

  // Our own pool rather than graphile-worker's: graphile-worker starts ending its pool when it stops but
  // does not wait for that, so PostgreSQL could be stopped under connections that are still closing
  // (an uncaught "terminating connection" error). Handlers on the pool also keep its errors in our logs,
  // serialized (a pg error carries its whole client).
  const pool = new Pool({ connectionString: options.connectionString, max: 10 });
  let stopped = false;
  // pg-pool's end() does not wait for its connections' sockets to close; PostgreSQL stopping right after
  // our own shutdown may still terminate one (57P01). That is the shutdown, not a failure.
  const poolError = (message: string) => (error: Error) => {
    const expected = stopped && (error as { code?: string }).code === '57P01';
    logger[expected ? 'info' : 'error']({ worker: 'pool', ...workerLogFields({ error }) }, message);
  };
  pool.on('error', poolError('job queue: an idle PostgreSQL connection failed'));
  pool.on('connect', (client) => client.on('error', poolError('job queue: a PostgreSQL connection failed')));
  const runner = await run({
    pgPool: pool,
    concurrency: options.concurrency ?? 4,
    pollInterval: options.pollIntervalMs ?? 1000,
    noHandleSignals: true,
    logger: workerLogger(logger),
    preset: {
      worker: {
        gracefulShutdownAbortTimeout: options.shutdownTimeoutMs ?? 10_000,
        // Batched (with no delay) so that stopping waits until every finished or failed job is written
        // back; unbatched, graphile-worker does not wait for those writes, and a job whose write was
        // lost at exit stays locked for hours.
        completeJobBatchDelay: 0,
        failJobBatchDelay: 0,
      },
    },
    taskList: {
      [REFUND_ATTEMPT_TASK]: stoppableByShutdown(REFUND_ATTEMPT_TASK, refundAttempt),
      [SETTLE_PAYMENT_TASK]: stoppableByShutdown(SETTLE_PAYMENT_TASK, settlePayment),
      [RECONCILE_TASK]: stoppableByShutdown(RECONCILE_TASK, reconcile),
    },
  }).catch(async (error: unknown) => {
    await pool.end();
    throw error;
  });
  // Independent of the reconcile job on purpose: that job itself may be the one a dead process holds.
  const unlockTimer = setInterval(() => {
    releaseStaleJobLocks(orm.em.fork(), options.staleJobLockMs)
      .then((released) => released > 0 && logger.warn({ workers: released }, 'released jobs held by dead workers'))
      .catch((error) => logger.warn({ err: error }, 'could not check for jobs held by dead workers'));
  }, Math.max(1000, Math.min(options.reconcileIntervalMs, options.staleJobLockMs)));
  unlockTimer.unref();
  return {
    async stop() {
      clearInterval(unlockTimer);
      await runner.stop();
      stopped = true;
      await pool.end();
    },
  };
}
