import { createServer } from 'node:net';
import type { AppConfig } from '../../../../src/config';
import { loadConfig } from '../../../../src/config';
import { createPortOneGateway } from '../../../../src/gateway/portone/portone-gateway';
import { AppMetrics } from '../../../../src/observability/app-metrics';
import { startSimulatorHarnessV2, type SimulatorHarnessV2 } from '../../../support/simulator-harness-v2';

/** The V2 client built the way main.ts builds it reports every call to the gateway latency histogram. */
let sim: SimulatorHarnessV2;
let portone: AppConfig['portone'];
beforeAll(async () => {
  sim = await startSimulatorHarnessV2();
  portone = loadConfig({
    NODE_ENV: 'test',
    PORTONE_VERSION: 'v2',
    PORTONE_API_SECRET: sim.apiSecret,
    PORTONE_STORE_ID: sim.storeId,
    PORTONE_WEBHOOK_SECRET: sim.webhookSecrets.join(','),
  }).portone;
});
afterAll(() => sim.close());

async function histogramCount(metrics: AppMetrics, labels: Record<string, string>): Promise<number> {
  const { values } = await metrics.gatewayCalls.get();
  const match = values.find(
    (value) => value.metricName === 'booking_gateway_call_duration_seconds_count' && Object.entries(labels).every(([k, v]) => (value.labels as Record<string, unknown>)[k] === v),
  );
  return match?.value ?? 0;
}

test('reads, a not-found and an unreachable PortOne each move the V2 histogram under their outcome', async () => {
  const metrics = new AppMetrics();
  const gateway = createPortOneGateway(portone, sim.url, undefined, metrics.observeGatewayCall);
  const paymentId = await sim.pay({ merchantUid: 'order-v2-metrics', amount: 12000, webhook: false });

  await gateway.getPayment(paymentId);
  await gateway.getPayment(paymentId);
  await expect(gateway.getPayment('no-such-payment')).rejects.toMatchObject({ kind: 'NOT_FOUND' });
  expect(await histogramCount(metrics, { gateway: 'portone_v2', endpoint: 'read', outcome: '2xx' })).toBe(2);
  expect(await histogramCount(metrics, { gateway: 'portone_v2', endpoint: 'read', outcome: '4xx' })).toBe(1);
  expect(await histogramCount(metrics, { gateway: 'portone_v1' })).toBe(0);

  const closedPort = await new Promise<number>((resolve) => {
    const probe = createServer().listen(0, '127.0.0.1', () => {
      const { port } = probe.address() as { port: number };
      probe.close(() => resolve(port));
    });
  });
  const unreachable = createPortOneGateway(portone, `http://127.0.0.1:${closedPort}`, undefined, metrics.observeGatewayCall);
  await expect(unreachable.getPayment(paymentId)).rejects.toMatchObject({ kind: 'UNAVAILABLE' });
  expect(await histogramCount(metrics, { gateway: 'portone_v2', endpoint: 'read', outcome: 'network' })).toBe(1);
});
