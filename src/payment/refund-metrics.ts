import type { MikroORM } from '@mikro-orm/postgresql';
import { Gauge, Registry, collectDefaultMetrics } from 'prom-client';
import { RefundReason, RefundStatus } from './refund.entity';

/**
 * Prometheus metrics. Refund counts are read from the database at scrape time, so every process reports
 * the same truth and an alert on NEEDS_ATTENTION > 0 works however many instances run.
 */
export function createMetricsRegistry(orm: MikroORM): Registry {
  const registry = new Registry();
  collectDefaultMetrics({ register: registry });
  new Gauge({
    name: 'booking_refunds',
    help: 'Refunds by status and reason (NEEDS_ATTENTION needs an operator; reason CANCELLED_AT_GATEWAY counts cancels made outside this server)',
    labelNames: ['status', 'reason'],
    registers: [registry],
    async collect() {
      const rows: Array<{ status: RefundStatus; reason: RefundReason; count: string }> = await orm.em
        .getConnection()
        .execute('select status, reason, count(*) as count from refund group by status, reason');
      for (const status of Object.values(RefundStatus)) {
        for (const reason of Object.values(RefundReason)) {
          this.set({ status, reason }, Number(rows.find((r) => r.status === status && r.reason === reason)?.count ?? 0));
        }
      }
    },
  });
  return registry;
}
