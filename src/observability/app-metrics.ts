import type { FastifyInstance } from 'fastify';
import { Counter, Histogram, Registry, collectDefaultMetrics } from 'prom-client';
import type { ReconciliationReport } from '../payment/reconciliation/reconciliation.service';

/** One call to a payment gateway, as its client saw it. */
export interface GatewayCallObservation {
  gateway: 'portone_v1' | 'portone_v2';
  /** The client's operation (read, cancel, list, getToken…), never a path with ids in it. */
  endpoint: string;
  /** `2xx`/`4xx`/`5xx` for an HTTP answer, `timeout` or `network` when none came. */
  outcome: string;
  seconds: number;
}

export type GatewayCallObserver = (call: GatewayCallObservation) => void;

/**
 * The process's Prometheus registry and the event metrics the app records. Gauges read from the
 * database are registered by `registerRefundMetrics`. Made by the composition root and handed to the
 * gateway client (its `onCall`), never a module-level global, so each app in a test has its own.
 */
export class AppMetrics {
  readonly registry = new Registry();

  readonly gatewayCalls = new Histogram({
    name: 'booking_gateway_call_duration_seconds',
    help: 'Payment gateway calls by endpoint and outcome (2xx, 4xx, 5xx, timeout, network)',
    labelNames: ['gateway', 'endpoint', 'outcome'] as const,
    buckets: [0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 20],
    registers: [this.registry],
  });

  readonly webhookDeliveries = this.counter(
    'booking_webhook_deliveries_total',
    'PortOne webhook deliveries by outcome (queued, invalid, bad_signature, rate_limited, failed)',
    ['outcome'],
  );

  readonly reconciliationRuns = this.counter('booking_reconciliation_runs_total', 'Reconciliation runs by outcome (completed, failed)', ['outcome']);

  readonly reconciliationFindings = this.counter(
    'booking_reconciliation_findings_total',
    'What reconciliation runs found and did, by kind (settled, expired, refundsRequeued, errors…)',
    ['finding'],
  );

  readonly confirmOutcomes = this.counter(
    'booking_confirm_outcomes_total',
    'confirmPayment answers by result (PaymentConfirmed, PaymentRefunded, error) and reason (refund reason or error code)',
    ['result', 'reason'],
  );

  constructor() {
    collectDefaultMetrics({ register: this.registry });
  }

  /** A counter in this app's registry (field initialisers above call it; `registry` is set first). */
  private counter<Label extends string>(name: string, help: string, labelNames: readonly Label[]): Counter<Label> {
    return new Counter({ name, help, labelNames, registers: [this.registry] });
  }

  readonly observeGatewayCall: GatewayCallObserver = (call) => {
    this.gatewayCalls.observe({ gateway: call.gateway, endpoint: call.endpoint, outcome: call.outcome }, call.seconds);
  };

  recordReconciliation(report: ReconciliationReport | null): void {
    this.reconciliationRuns.inc({ outcome: report ? 'completed' : 'failed' });
    if (!report) return;
    for (const [finding, count] of Object.entries(report)) {
      if (count > 0) this.reconciliationFindings.inc({ finding }, count);
    }
  }

  /** Counts every answer of the webhook route by what it meant for the delivery. */
  observeWebhookRoute(server: FastifyInstance, path: string): void {
    server.addHook('onResponse', async (request, reply) => {
      if (request.method !== 'POST' || request.url.split('?')[0] !== path) return;
      this.webhookDeliveries.inc({ outcome: webhookOutcome(reply.statusCode) });
    });
  }
}

function webhookOutcome(status: number): string {
  if (status < 300) return 'queued';
  if (status === 401) return 'bad_signature';
  if (status === 429) return 'rate_limited';
  if (status < 500) return 'invalid';
  return 'failed';
}

/** The label of an HTTP status for gateway calls: its class, so a scrape stays small. */
export function httpOutcome(status: number): string {
  return `${Math.floor(status / 100)}xx`;
}
