import { PortOneV2SimulatorControlClient } from '../../../src/gateway/portone/sim/v2/portone-v2-simulator-control.client';
import { newWebhookSecret, startPortOneV2Simulator, type PortOneV2Simulator } from '../../../src/gateway/portone/sim/v2/portone-v2-simulator';
import { PortOneV1Client } from '../../../src/gateway/portone/v1/portone-v1.client';
import { PortOneV2Client } from '../../../src/gateway/portone/v2/portone-v2.client';
import { startSimulatorHarness, type SimulatorHarness } from '../../support/simulator-harness';

/**
 * The real clients against the simulators over HTTP: calls to PortOne reuse pooled keep-alive
 * connections (the simulators count the TCP connections that carried API calls), and V1 asks for a token
 * once per token lifetime however the calls arrive.
 */
const SEQUENTIAL = 25;
const CONCURRENT = 20;

describe('PortOne V1', () => {
  let sim: SimulatorHarness;
  beforeAll(async () => {
    sim = await startSimulatorHarness();
  });
  afterAll(async () => {
    await sim.close();
  });

  test('sequential reads share one connection; concurrent bursts open at most one per call in flight, then reuse them; one token', async () => {
    await sim.reset();
    const impUid = await sim.pay({ merchantUid: 'm-keep-alive', amount: 1000 });
    const client = new PortOneV1Client({ baseUrl: sim.url, impKey: sim.impKey, impSecret: sim.impSecret, connectTimeoutMs: 2000, responseTimeoutMs: 5000 });

    for (let i = 0; i < SEQUENTIAL; i++) expect((await client.getPayment(impUid)).status).toBe('PAID');
    // The token request and every read went over the same socket.
    expect((await sim.control.ledger()).apiConnections).toBe(1);

    await Promise.all(Array.from({ length: CONCURRENT }, () => client.getPayment(impUid)));
    const afterFirstBurst = (await sim.control.ledger()).apiConnections;
    expect(afterFirstBurst).toBeLessThanOrEqual(1 + CONCURRENT);

    await Promise.all(Array.from({ length: CONCURRENT }, () => client.getPayment(impUid)));
    const ledger = await sim.control.ledger();
    expect(ledger.apiConnections).toBe(afterFirstBurst);
    expect(ledger.tokensIssued).toHaveLength(1);
  });
});

describe('PortOne V2', () => {
  const SECRET = 'v2-keep-alive-secret';
  const STORE = 'store-33333333-3333-3333-3333-333333333333';
  let sim: PortOneV2Simulator;
  let control: PortOneV2SimulatorControlClient;
  beforeAll(async () => {
    sim = await startPortOneV2Simulator({ apiSecret: SECRET, storeId: STORE, control: true, webhookSecrets: [newWebhookSecret()] });
    control = new PortOneV2SimulatorControlClient(sim.url);
  });
  afterAll(async () => {
    await sim.close();
  });

  test('sequential reads share one connection; concurrent bursts open at most one per call in flight, then reuse them', async () => {
    await control.reset();
    await control.createPayment({ paymentId: 'pay-keep-alive', amount: 15000, status: 'PAID', webhook: false });
    const client = new PortOneV2Client({ baseUrl: sim.url, apiSecret: SECRET, storeId: STORE, connectTimeoutMs: 2000, responseTimeoutMs: 5000 });

    for (let i = 0; i < SEQUENTIAL; i++) expect((await client.getPayment('pay-keep-alive')).status).toBe('PAID');
    expect((await control.ledger()).apiConnections).toBe(1);

    await Promise.all(Array.from({ length: CONCURRENT }, () => client.getPayment('pay-keep-alive')));
    const afterFirstBurst = (await control.ledger()).apiConnections;
    expect(afterFirstBurst).toBeLessThanOrEqual(1 + CONCURRENT);

    await Promise.all(Array.from({ length: CONCURRENT }, () => client.getPayment('pay-keep-alive')));
    const ledger = await control.ledger();
    expect(ledger.apiConnections).toBe(afterFirstBurst);
    expect(ledger.reads).toHaveLength(SEQUENTIAL + 2 * CONCURRENT);
  });
});
