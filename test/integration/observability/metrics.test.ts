import fetch from 'node-fetch';
import { Refund, RefundStatus } from '../../../src/payment/refunds/refund.entity';
import { ConfirmPaymentDocument, HoldSeatDocument, RetryRefundDocument } from '../../generated/graphql';
import { createEventViaApi } from '../../support/fixtures';
import { startTestApp, type TestApp } from '../../support/test-app';
import { waitFor } from '../../support/wait';

/** What an operator graphs, read back the way Prometheus does: GET /metrics after real flows. */
let t: TestApp;
beforeAll(async () => {
  t = await startTestApp({
    env: { REFUND_BACKOFF_BASE_MS: '100', REFUND_BACKOFF_MAX_MS: '400', REFUND_RETRY_WINDOW_MS: '4000' },
  });
});
afterAll(() => t.close());

/** `name{labels} value` lines of the Prometheus text format, by name and exact label set. */
async function scrape(): Promise<(name: string, labels?: Record<string, string>) => number | undefined> {
  const text = await (await fetch(t.url.replace(/\/graphql$/, '/metrics'))).text();
  const samples = new Map<string, number>();
  for (const line of text.split('\n')) {
    const match = /^([a-zA-Z_:][\w:]*)(\{[^}]*\})? (\S+)$/.exec(line);
    if (!match) continue;
    const labels = [...(match[2] ?? '').matchAll(/(\w+)="((?:[^"\\]|\\.)*)"/g)].map(([, k, v]) => `${k}=${v}`).sort();
    samples.set(`${match[1]}|${labels.join(',')}`, Number(match[3]));
  }
  return (name, labels = {}) =>
    samples.get(`${name}|${Object.entries(labels).map(([k, v]) => `${k}=${v}`).sort().join(',')}`);
}

async function holdPayConfirm(seatIndex: number, amountDelta: number) {
  const event = await createEventViaApi(t);
  const token = await t.tokenFor('buyer');
  const reservation = (await t.gql(HoldSeatDocument, { input: { seatId: event.seats[seatIndex].id } }, { token })).data!.holdSeat;
  const impUid = await t.simulator.pay({ merchantUid: reservation.merchantUid, amount: reservation.amount + amountDelta });
  const result = await t.gql(
    ConfirmPaymentDocument,
    { input: { reservationId: reservation.id, paymentId: impUid, merchantUid: reservation.merchantUid } },
    { token },
  );
  return { impUid, result };
}

test('a refund moves the refund gauges, the oldest-age gauge, confirm outcomes and gateway latency', async () => {
  // The refund gauges count the whole database: start from an empty one, whatever ran before in this worker.
  await t.reset();
  const before = await scrape();
  expect(before('booking_refunds_needs_attention')).toBe(0);
  expect(before('booking_refund_oldest_pending_age_seconds')).toBe(0);

  const honest = await holdPayConfirm(0, 0);
  expect(honest.result.data?.confirmPayment.__typename).toBe('PaymentConfirmed');

  await t.simulator.fault({ endpoint: 'cancel', kind: 'http503', times: 1000 });
  const tampered = await holdPayConfirm(1, 500);
  expect(tampered.result.data?.confirmPayment).toMatchObject({ __typename: 'PaymentRefunded', refund: { status: 'PENDING' } });
  // The buyer has waited ten minutes for this refund: the gauge reads the age from the database.
  await t.orm.em.getConnection().execute(`update refund set created_at = now() - interval '10 minutes' where gateway_payment_id = ?`, [tampered.impUid]);

  const pending = await scrape();
  expect(pending('booking_refunds', { status: 'PENDING', reason: 'AMOUNT_MISMATCH' })).toBe(1);
  expect(pending('booking_refund_oldest_pending_age_seconds')).toBeGreaterThanOrEqual(600);
  expect(pending('booking_refund_oldest_pending_age_seconds')).toBeLessThan(700);
  expect(pending('booking_confirm_outcomes_total', { result: 'PaymentConfirmed', reason: 'NONE' })).toBe(1);
  expect(pending('booking_confirm_outcomes_total', { result: 'PaymentRefunded', reason: 'AMOUNT_MISMATCH' })).toBe(1);
  const cancels503 = pending('booking_gateway_call_duration_seconds_count', { gateway: 'portone_v1', endpoint: 'cancel', outcome: '5xx' });
  expect(cancels503).toBeGreaterThanOrEqual(1);
  expect(pending('booking_gateway_call_duration_seconds_count', { gateway: 'portone_v1', endpoint: 'read', outcome: '2xx' })).toBeGreaterThanOrEqual(2);

  const stuck = await waitFor(async () => {
    const refund = await t.orm.em.fork().findOneOrFail(Refund, { gatewayPaymentId: tampered.impUid });
    return refund.status === RefundStatus.NEEDS_ATTENTION ? refund : null;
  });
  const attention = await scrape();
  expect(attention('booking_refunds_needs_attention')).toBe(1);
  expect(attention('booking_refunds', { status: 'NEEDS_ATTENTION', reason: 'AMOUNT_MISMATCH' })).toBe(1);
  expect(attention('booking_refund_oldest_pending_age_seconds')).toBe(0);
  expect(attention('booking_gateway_call_duration_seconds_count', { gateway: 'portone_v1', endpoint: 'cancel', outcome: '5xx' })).toBeGreaterThan(cancels503!);

  await t.simulator.clearFaults();
  const admin = await t.tokenFor('admin', ['admin']);
  expect((await t.gql(RetryRefundDocument, { id: stuck.id }, { token: admin })).data?.retryRefund.status).toBe('SUCCEEDED');
  const done = await scrape();
  expect(done('booking_refunds_needs_attention')).toBe(0);
  expect(done('booking_refunds', { status: 'SUCCEEDED', reason: 'AMOUNT_MISMATCH' })).toBe(1);
  expect(done('booking_gateway_call_duration_seconds_count', { gateway: 'portone_v1', endpoint: 'cancel', outcome: '2xx' })).toBe(1);
});

test('webhook deliveries by outcome and reconciliation runs with what they found', async () => {
  const webhook = (body: unknown) =>
    fetch(t.webhookUrl, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) });
  const start = await scrape();
  const queuedBefore = start('booking_webhook_deliveries_total', { outcome: 'queued' }) ?? 0;
  const invalidBefore = start('booking_webhook_deliveries_total', { outcome: 'invalid' }) ?? 0;
  expect((await webhook({ imp_uid: 'imp_metrics_1', merchant_uid: 'nobody', status: 'paid' })).status).toBe(200);
  expect((await webhook({ imp_uid: '' })).status).toBe(400);

  const runsBefore = start('booking_reconciliation_runs_total', { outcome: 'completed' }) ?? 0;
  const report = await t.app.services.reconciliation.run();
  const after = await scrape();
  expect(after('booking_webhook_deliveries_total', { outcome: 'queued' })).toBe(queuedBefore + 1);
  expect(after('booking_webhook_deliveries_total', { outcome: 'invalid' })).toBe(invalidBefore + 1);
  expect(after('booking_reconciliation_runs_total', { outcome: 'completed' })).toBe(runsBefore + 1);
  expect(report.listed).toBeGreaterThan(0);
  expect(after('booking_reconciliation_findings_total', { finding: 'listed' })).toBeGreaterThanOrEqual(report.listed);
});

test('one scrape costs one database query', async () => {
  const knex = t.orm.em.getConnection().getKnex();
  const statements: string[] = [];
  const onQuery = (query: { sql: string }) => statements.push(query.sql);
  knex.on('query', onQuery);
  try {
    await scrape();
    await scrape();
  } finally {
    knex.off('query', onQuery);
  }
  // Two scrapes, so a cached result from the first cannot make the second look free.
  expect(statements).toHaveLength(2);
  expect(statements[0]).toMatch(/from refund group by status, reason/);
});
