import { Writable } from 'node:stream';
import pino from 'pino';
import { findFreePort } from '../../../src/free-port';
import { PortOneV1Client } from '../../../src/gateway/portone/v1/portone-v1.client';
import { gatewayErrorKindOf } from '../../support/gateway-errors';
import { waitFor } from '../../support/wait';
import { useSimulatorHarness } from '../../support/simulator-harness';

/** The real client against the simulator over HTTP: nothing here is stubbed. */
const sim = useSimulatorHarness();
let logs: string;

function newClient(overrides: Partial<ConstructorParameters<typeof PortOneV1Client>[0]> = {}) {
  const sink = new Writable({
    write(chunk, _encoding, callback) {
      logs += chunk.toString();
      callback();
    },
  });
  return new PortOneV1Client({
    baseUrl: sim.url,
    impKey: sim.impKey,
    impSecret: sim.impSecret,
    connectTimeoutMs: 2000,
    // Generous: 100 parallel calls on a busy 2-core CI machine; the timeout test sets its own.
    responseTimeoutMs: 5000,
    logger: pino({ level: 'debug' }, sink),
    ...overrides,
  });
}

beforeEach(() => {
  logs = '';
});

test('100 concurrent reads with a cold cache issue exactly one token request', async () => {
  const impUid = await sim.pay({ merchantUid: 'm-100', amount: 1000 });
  const client = newClient();
  const payments = await Promise.all(Array.from({ length: 100 }, () => client.getPayment(impUid)));
  expect(payments.every((p) => p.status === 'PAID' && p.amount === 1000)).toBe(true);
  expect((await sim.control.ledger()).tokensIssued).toHaveLength(1);
});

test('a token that expires mid-flight is refreshed once and the call succeeds', async () => {
  const impUid = await sim.pay({ merchantUid: 'm-exp', amount: 1000 });
  const client = newClient();
  await client.getPayment(impUid);
  // PortOne's clock moves past the expiry; our cached token is now refused with 401.
  await sim.control.advanceClock(1801);
  const payment = await client.getPayment(impUid);
  expect(payment.gatewayPaymentId).toBe(impUid);
  const issued = (await sim.control.ledger()).tokensIssued;
  expect(issued).toHaveLength(2);
  expect(issued[1].token).not.toBe(issued[0].token);
});

test('HTTP 200 with code 1 becomes the right error', async () => {
  const impUid = await sim.pay({ merchantUid: 'm-code1', amount: 1000 });
  const client = newClient();
  await client.cancelPayment({ gatewayPaymentId: impUid, amount: 1000, expectedCancellableAmount: 1000, reason: 'test' });
  expect(await gatewayErrorKindOf(client.cancelPayment({ gatewayPaymentId: impUid, amount: 1000, expectedCancellableAmount: 0, reason: 'again' }))).toBe(
    'ALREADY_CANCELLED',
  );
  expect(await gatewayErrorKindOf(client.cancelPayment({ gatewayPaymentId: 'imp_missing', amount: 1, expectedCancellableAmount: 1, reason: 'x' }))).toBe('NOT_FOUND');
});

test('a stale balance guard (checksum) is refused by PortOne: REJECTED, nothing cancelled', async () => {
  const impUid = await sim.pay({ merchantUid: 'm-guard', amount: 1000 });
  const client = newClient();
  expect(await gatewayErrorKindOf(client.cancelPayment({ gatewayPaymentId: impUid, amount: 500, expectedCancellableAmount: 900, reason: 'x' }))).toBe('REJECTED');
  expect((await sim.payment(impUid)).cancel_amount).toBe(0);
});

test('cancel always sends imp_uid, an explicit amount, the checksum and a reason', async () => {
  const impUid = await sim.pay({ merchantUid: 'm-body', amount: 7000 });
  const after = await newClient().cancelPayment({ gatewayPaymentId: impUid, amount: 7000, expectedCancellableAmount: 7000, reason: 'refund' });
  expect(after).toMatchObject({ status: 'CANCELLED', cancelledAmount: 7000 });
  expect(after.cancellations).toHaveLength(1);
  const [request] = (await sim.control.ledger()).cancelRequests;
  expect(request.body).toEqual({ imp_uid: impUid, amount: 7000, checksum: 7000, reason: 'refund' });
});

test('a cancel that times out is OUTCOME_UNKNOWN; reading back shows what happened', async () => {
  const impUid = await sim.pay({ merchantUid: 'm-slow', amount: 1000 });
  const client = newClient({ responseTimeoutMs: 300 });
  await client.getPayment(impUid);
  await sim.fault({ endpoint: 'cancel', kind: 'latency', latencyMs: 1000, times: 1 });
  expect(await gatewayErrorKindOf(client.cancelPayment({ gatewayPaymentId: impUid, amount: 1000, expectedCancellableAmount: 1000, reason: 'x' }))).toBe(
    'OUTCOME_UNKNOWN',
  );
  // The simulator applies the cancel once its delay is over: read back until then (a loaded machine may be late).
  await waitFor(async () => (await newClient().getPayment(impUid)).status === 'CANCELLED', 5000);
  expect((await newClient().getPayment(impUid)).status).toBe('CANCELLED');
});

test.each([
  ['lost (the connection drops)', 'applyThenLose'],
  ['answered 200 with no envelope (a proxy page; never REJECTED)', 'applyThenGarble'],
] as const)('a cancel applied and then %s is OUTCOME_UNKNOWN, and reading back finds exactly one cancel', async (_answer, fault) => {
  const impUid = await sim.pay({ merchantUid: `m-${fault}`, amount: 1000 });
  const client = newClient();
  await sim.fault({ endpoint: 'cancel', kind: fault, times: 1 });
  expect(await gatewayErrorKindOf(client.cancelPayment({ gatewayPaymentId: impUid, amount: 1000, expectedCancellableAmount: 1000, reason: 'x' }))).toBe(
    'OUTCOME_UNKNOWN',
  );
  const readBack = await client.getPayment(impUid);
  expect(readBack).toMatchObject({ status: 'CANCELLED', cancelledAmount: 1000 });
  expect(readBack.cancellations).toHaveLength(1);
  expect((await sim.cancelRequests(impUid)).filter((c) => c.applied)).toHaveLength(1);
});

test('5xx: 503 is UNAVAILABLE everywhere; 500 on a cancel is OUTCOME_UNKNOWN', async () => {
  const impUid = await sim.pay({ merchantUid: 'm-5xx', amount: 1000 });
  const client = newClient();
  await client.getPayment(impUid);
  await sim.fault({ endpoint: 'getPayment', kind: 'http503', times: 1 });
  expect(await gatewayErrorKindOf(client.getPayment(impUid))).toBe('UNAVAILABLE');
  await sim.fault({ endpoint: 'cancel', kind: 'http503', times: 1 });
  expect(await gatewayErrorKindOf(client.cancelPayment({ gatewayPaymentId: impUid, amount: 1000, expectedCancellableAmount: 1000, reason: 'x' }))).toBe('UNAVAILABLE');
  await sim.fault({ endpoint: 'cancel', kind: 'http500', times: 1 });
  expect(await gatewayErrorKindOf(client.cancelPayment({ gatewayPaymentId: impUid, amount: 1000, expectedCancellableAmount: 1000, reason: 'x' }))).toBe(
    'OUTCOME_UNKNOWN',
  );
  await sim.fault({ endpoint: 'cancel', kind: 'businessError', code: -1, message: '결제취소에 실패하였습니다.(PG사 오류)', times: 1 });
  expect(await gatewayErrorKindOf(client.cancelPayment({ gatewayPaymentId: impUid, amount: 1000, expectedCancellableAmount: 1000, reason: 'x' }))).toBe('REJECTED');
});

test('nothing listening is UNAVAILABLE; wrong credentials are MISCONFIGURED; unknown payments NOT_FOUND', async () => {
  const closedPort = await findFreePort();
  expect(await gatewayErrorKindOf(newClient({ baseUrl: `http://127.0.0.1:${closedPort}` }).getPayment('imp_1'))).toBe('UNAVAILABLE');
  expect(await gatewayErrorKindOf(newClient({ impSecret: 'wrong' }).getPayment('imp_1'))).toBe('MISCONFIGURED');
  expect(await gatewayErrorKindOf(newClient().getPayment('imp_unknown'))).toBe('NOT_FOUND');
});

test('findPaymentsByMerchantUid lists every record of an order, newest first, and [] for none', async () => {
  const first = await sim.pay({ merchantUid: 'm-many', amount: 1000, status: 'failed' });
  await sim.control.advanceClock(2);
  const second = await sim.pay({ merchantUid: 'm-many', amount: 1000 });
  const client = newClient();
  expect((await client.findPaymentsByMerchantUid('m-many')).map((p) => [p.gatewayPaymentId, p.status])).toEqual([
    [second, 'PAID'],
    [first, 'FAILED'],
  ]);
  expect(await client.findPaymentsByMerchantUid('m-none')).toEqual([]);
});

test('logs never contain the secret or an access token', async () => {
  const impUid = await sim.pay({ merchantUid: 'm-logs', amount: 1000 });
  const client = newClient();
  await client.getPayment(impUid);
  await client.cancelPayment({ gatewayPaymentId: impUid, amount: 1000, expectedCancellableAmount: 1000, reason: 'x' });
  const token = (await sim.control.ledger()).tokensIssued[0].token;
  expect(logs).toContain('PortOne call');
  expect(logs).not.toContain(sim.impSecret);
  expect(logs).not.toContain(token);
});
