import type { EntityManager } from '@mikro-orm/postgresql';

export const REFUND_ATTEMPT_TASK = 'refund-attempt';

/**
 * Schedules a refund attempt on the PostgreSQL job queue (graphile-worker) inside the caller's
 * transaction: the job exists if and only if the decision that needs it committed. One pending job
 * per refund (job_key); scheduling again moves it.
 */
export async function scheduleRefundAttempt(tx: EntityManager, refundId: string, runAt: Date): Promise<void> {
  await addRefundJob(tx, refundId, runAt, 'replace');
}

/**
 * A job that found another attempt holding the lease looks again when the lease runs out, unless a
 * job is already waiting: that attempt has just scheduled its own next try (its backoff), and moving
 * it to the end of the lease would stall the refund for the whole lease.
 */
export async function scheduleRefundLookAgain(tx: EntityManager, refundId: string, runAt: Date): Promise<void> {
  await addRefundJob(tx, refundId, runAt, 'preserve_run_at');
}

export const refundJobKey = (refundId: string): string => `refund:${refundId}`;

async function addRefundJob(tx: EntityManager, refundId: string, runAt: Date, mode: 'replace' | 'preserve_run_at'): Promise<void> {
  await tx.execute(
    `select graphile_worker.add_job(?, json_build_object('refundId', ?::text), run_at := ?::timestamptz, max_attempts := 25, job_key := ?, job_key_mode := ?)`,
    [REFUND_ATTEMPT_TASK, refundId, runAt.toISOString(), refundJobKey(refundId), mode],
  );
}

/** Exponential backoff with jitter ("equal jitter"): half fixed, half random, capped. */
export function refundBackoffMs(attempt: number, baseMs: number, maxMs: number, random: () => number = Math.random): number {
  const exponential = Math.min(maxMs, baseMs * 2 ** Math.max(0, attempt - 1));
  return Math.round(exponential / 2 + random() * (exponential / 2));
}
