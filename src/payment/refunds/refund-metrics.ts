import type { MikroORM } from '@mikro-orm/postgresql';
import { Gauge, type Registry } from 'prom-client';
import { RefundReason, RefundStatus } from './refund.entity';

interface RefundGroupRow {
  status: RefundStatus;
  reason: RefundReason;
  count: string;
  oldest_age_seconds: string | null;
}

/**
 * Refund gauges, read from the database at scrape time, so every process reports the same truth and an
 * alert on NEEDS_ATTENTION > 0 works however many instances run. prom-client collects all gauges of a
 * scrape at once; they share one grouped query (served by refund_status_idx), so a scrape costs one query.
 */
export function registerRefundMetrics(registry: Registry, orm: MikroORM): void {
  let inFlight: Promise<RefundGroupRow[]> | null = null;
  const groups = (): Promise<RefundGroupRow[]> => {
    inFlight ??= orm.em
      .getConnection()
      .execute<RefundGroupRow[]>(
        // The age comes from the database clock, the same clock that stamped created_at.
        `select status, reason, count(*) as count, extract(epoch from now() - min(created_at)) as oldest_age_seconds
           from refund group by status, reason`,
      )
      .finally(() => {
        inFlight = null;
      });
    return inFlight;
  };

  new Gauge({
    name: 'booking_refunds',
    help: 'Refunds by status and reason (NEEDS_ATTENTION needs an operator; reason CANCELLED_AT_GATEWAY counts cancels made outside this server)',
    labelNames: ['status', 'reason'],
    registers: [registry],
    async collect() {
      const rows = await groups();
      for (const status of Object.values(RefundStatus)) {
        for (const reason of Object.values(RefundReason)) {
          this.set({ status, reason }, Number(rows.find((r) => r.status === status && r.reason === reason)?.count ?? 0));
        }
      }
    },
  });
  new Gauge({
    name: 'booking_refunds_needs_attention',
    help: 'Refunds that gave up retrying and wait for an operator (retryRefund); alert when above 0',
    registers: [registry],
    async collect() {
      const rows = await groups();
      this.set(rows.filter((r) => r.status === RefundStatus.NEEDS_ATTENTION).reduce((sum, r) => sum + Number(r.count), 0));
    },
  });
  new Gauge({
    name: 'booking_refund_oldest_pending_age_seconds',
    help: 'Age of the oldest PENDING refund (0 when none): a buyer has been waiting this long for their money',
    registers: [registry],
    async collect() {
      const ages = (await groups()).filter((r) => r.status === RefundStatus.PENDING).map((r) => Number(r.oldest_age_seconds ?? 0));
      this.set(Math.max(0, ...ages));
    },
  });
}
