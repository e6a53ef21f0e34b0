import type { MikroORM } from '@mikro-orm/postgresql';
import { Gauge, Registry, collectDefaultMetrics } from 'prom-client';
import { RefundStatus } from './refund.entity';

/**
 * Prometheus metrics. Refund counts are read from the database at scrape time, so every process reports
 * the same truth and an alert on NEEDS_ATTENTION > 0 works however many instances run.
 */
export function createMetricsRegistry(orm: MikroORM): Registry {
  const registry = new Registry();
  collectDefaultMetrics({ register: registry });
  new Gauge({
    name: 'booking_refunds',
    help: 'Refunds by status (NEEDS_ATTENTION needs an operator)',
    labelNames: ['status'],
    registers: [registry],
    async collect() {
      const rows: Array<{ status: RefundStatus; count: string }> = await orm.em
        .getConnection()
        .execute('select status, count(*) as count from refund group by status');
      for (const status of Object.values(RefundStatus)) {
        this.set({ status }, Number(rows.find((r) => r.status === status)?.count ?? 0));
      }
    },
  });
  return registry;
}
