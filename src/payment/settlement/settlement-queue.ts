import type { EntityManager } from '@mikro-orm/postgresql';
import type { SettlementSource } from './payment-settlement.service';

export const SETTLE_PAYMENT_TASK = 'payment-settle';
export const RECONCILE_TASK = 'reconcile';

/**
 * Queues `settle(gatewayPaymentId)` durably. Duplicate notifications for one payment collapse into one
 * pending job (job_key); settle is idempotent anyway, so one that slips through changes nothing.
 */
export async function scheduleSettlement(
  em: EntityManager,
  gatewayPaymentId: string,
  source: SettlementSource,
  runAt: Date = new Date(),
): Promise<void> {
  await em.execute(
    `select graphile_worker.add_job(?, json_build_object('gatewayPaymentId', ?::text, 'source', ?::text), run_at := ?::timestamptz, max_attempts := 20, job_key := ?)`,
    [SETTLE_PAYMENT_TASK, gatewayPaymentId, source, runAt.toISOString(), `settle:${gatewayPaymentId}`],
  );
}

/**
 * Keeps exactly one reconciliation job pending across all processes (job_key). `preserve_run_at`
 * lets every process call this at start without pushing the next run further away.
 */
export async function scheduleReconciliation(em: EntityManager, runAt: Date, mode: 'replace' | 'preserve_run_at'): Promise<void> {
  await em.execute(
    `select graphile_worker.add_job(?, '{}'::json, run_at := ?::timestamptz, max_attempts := 5, job_key := 'reconcile', job_key_mode := ?)`,
    [RECONCILE_TASK, runAt.toISOString(), mode],
  );
}

/**
 * graphile-worker keeps a job locked for 4 hours when the process running it dies (SIGKILL, power cut).
 * Ours finish in well under `staleAfterMs`, so a job locked longer belongs to a dead worker: unlock every
 * job of such workers so a live one takes them now. A job of a live but slow worker that is unlocked runs
 * twice, which every task here tolerates (settle is idempotent; refund attempts are fenced by their lease).
 */
export async function releaseStaleJobLocks(em: EntityManager, staleAfterMs: number): Promise<number> {
  const rows: Array<{ workers: string[] | null }> = await em.execute(
    `select array_agg(distinct locked_by) as workers from graphile_worker._private_jobs
      where locked_by is not null and locked_at < now() - make_interval(secs => ?)`,
    [staleAfterMs / 1000],
  );
  const workers = rows[0]?.workers ?? [];
  if (workers.length === 0) return 0;
  await em.execute('select graphile_worker.force_unlock_workers(array[?]::text[])', [workers]);
  return workers.length;
}
