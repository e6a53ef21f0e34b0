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
