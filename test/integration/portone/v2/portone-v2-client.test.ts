import { createServer } from 'node:net';
import { gatewayBalance } from '../../../../src/gateway/payment-gateway';
import { PortOneV2SimulatorControlClient } from '../../../../src/gateway/portone/sim/v2/portone-v2-simulator-control.client';
import { newWebhookSecret, startPortOneV2Simulator, type PortOneV2Simulator } from '../../../../src/gateway/portone/sim/v2/portone-v2-simulator';
import { PortOneV2Client } from '../../../../src/gateway/portone/v2/portone-v2.client';
import { gatewayErrorKindOf, gatewayErrorOf } from '../../../support/gateway-errors';
import { waitFor } from '../../../support/wait';
import { startSimulatorHarnessV2 } from '../../../support/simulator-harness-v2';

/** The real V2 client against the V2 simulator over HTTP: nothing here is stubbed. */
const SECRET = 'v2-client-test-secret';
const STORE = 'store-11111111-1111-1111-1111-111111111111';
const OTHER_STORE = 'store-22222222-2222-2222-2222-222222222222';
let sim: PortOneV2Simulator;
let control: PortOneV2SimulatorControlClient;

function newClient(overrides: Partial<ConstructorParameters<typeof PortOneV2Client>[0]> = {}) {
  return new PortOneV2Client({ baseUrl: sim.url, apiSecret: SECRET, storeId: STORE, connectTimeoutMs: 2000, responseTimeoutMs: 5000, ...overrides });
}

const key = (name: string) => `refund-${name}-0123456789abcdef`;

beforeAll(async () => {
  sim = await startPortOneV2Simulator({ apiSecret: SECRET, storeId: STORE, otherStoreIds: [OTHER_STORE], control: true, webhookSecrets: [newWebhookSecret()] });
  control = new PortOneV2SimulatorControlClient(sim.url);
});
afterAll(async () => {
  await sim.close();
});
beforeEach(async () => {
  await control.reset();
});

describe('reads map every V2 status onto the gateway port', () => {
  test.each([
    ['READY', 'READY', false],
    ['PAY_PENDING', 'READY', false],
    ['VIRTUAL_ACCOUNT_ISSUED', 'READY', true],
    ['PAID', 'PAID', false],
    ['FAILED', 'FAILED', false],
  ] as const)('%s reads as %s', async (status, expected, virtualAccount) => {
    await control.createPayment({ paymentId: `pay-${status}`, amount: 15000, status, webhook: false });
    const payment = await newClient().getPayment(`pay-${status}`);
    expect(payment).toMatchObject({
      gatewayPaymentId: `pay-${status}`,
      merchantUid: `pay-${status}`,
      storeId: STORE,
      status: expected,
      amount: 15000,
      cancelledAmount: 0,
      currency: 'KRW',
      sandbox: false,
      isVirtualAccount: virtualAccount,
    });
    expect(payment.paidAt === null).toBe(expected !== 'PAID');
  });

  test('PARTIAL_CANCELLED is still paid with its balance; CANCELLED carries every cancellation', async () => {
    await control.createPayment({ paymentId: 'pay-partial', amount: 30000, webhook: false });
    await control.consoleCancel('pay-partial', { amount: 10000, webhook: false });
    const partial = await newClient().getPayment('pay-partial');
    expect(partial).toMatchObject({ status: 'PAID', amount: 30000, cancelledAmount: 10000 });
    expect(gatewayBalance(partial)).toBe(20000);
    await control.consoleCancel('pay-partial', { webhook: false });
    const cancelled = await newClient().getPayment('pay-partial');
    expect(cancelled).toMatchObject({ status: 'CANCELLED', cancelledAmount: 30000 });
    expect(cancelled.cancellations.map((c) => c.amount)).toEqual([10000, 20000]);
  });

  test('a TEST channel payment is a sandbox payment; a card payment is not a virtual account', async () => {
    await control.createPayment({ paymentId: 'pay-test', amount: 1000, channelType: 'TEST', webhook: false });
    expect(await newClient().getPayment('pay-test')).toMatchObject({ sandbox: true, payMethod: 'card', isVirtualAccount: false });
  });

  test('USD amounts come in cents and are exact decimals on the port', async () => {
    await control.createPayment({ paymentId: 'pay-usd', amount: 1040, currency: 'USD', webhook: false });
    const client = newClient();
    expect(await client.getPayment('pay-usd')).toMatchObject({ amount: 10.4, currency: 'USD' });
    const after = await client.cancelPayment({ gatewayPaymentId: 'pay-usd', amount: 10.4, expectedCancellableAmount: 10.4, reason: 'booking refund: test', idempotencyKey: key('usd') });
    expect(after).toMatchObject({ status: 'CANCELLED', cancelledAmount: 10.4 });
    expect((await control.ledger()).cancelRequests[0].body).toMatchObject({ amount: 1040, currentCancellableAmount: 1040 });
  });

  test('findPaymentsByMerchantUid reads the payment whose id is the merchantUid, and is empty when none', async () => {
    await control.createPayment({ paymentId: 'order-1', amount: 5000, webhook: false });
    const client = newClient();
    expect((await client.findPaymentsByMerchantUid('order-1')).map((p) => p.gatewayPaymentId)).toEqual(['order-1']);
    expect(await client.findPaymentsByMerchantUid('order-unknown')).toEqual([]);
  });

  test('every call names our store: a payment id known only in another store is not found, and storeId is exposed', async () => {
    await control.createPayment({ paymentId: 'shared-id', amount: 7000, storeId: OTHER_STORE, webhook: false });
    expect(await gatewayErrorKindOf(newClient().getPayment('shared-id'))).toBe('NOT_FOUND');
    const theirs = await newClient({ storeId: OTHER_STORE }).getPayment('shared-id');
    expect(theirs.storeId).toBe(OTHER_STORE);
  });
});

describe('cancel', () => {
  test('sends storeId, the exact amount, the balance guard and a quoted Idempotency-Key; returns the payment read back', async () => {
    await control.createPayment({ paymentId: 'pay-c1', amount: 20000, webhook: false });
    const after = await newClient().cancelPayment({ gatewayPaymentId: 'pay-c1', amount: 20000, expectedCancellableAmount: 20000, reason: 'booking refund: AMOUNT_MISMATCH', idempotencyKey: key('c1') });
    expect(after).toMatchObject({ status: 'CANCELLED', cancelledAmount: 20000 });
    const [request] = (await control.ledger()).cancelRequests;
    expect(request).toMatchObject({ applied: true, idempotencyKey: expect.stringMatching(new RegExp(`^${key('c1')}:[A-Za-z0-9_-]{22}$`)), storeId: STORE });
    expect(request.body).toEqual({ storeId: STORE, amount: 20000, currentCancellableAmount: 20000, reason: 'booking refund: AMOUNT_MISMATCH' });
  });

  test('a stale balance guard is refused and nothing is cancelled', async () => {
    await control.createPayment({ paymentId: 'pay-guard', amount: 20000, webhook: false });
    await control.consoleCancel('pay-guard', { amount: 5000, webhook: false });
    const error = await gatewayErrorOf(newClient().cancelPayment({ gatewayPaymentId: 'pay-guard', amount: 20000, expectedCancellableAmount: 20000, reason: 'booking refund', idempotencyKey: key('guard') }));
    expect(error.kind).toBe('REJECTED');
    expect(error.details.gatewayCode).toBe('CANCELLABLE_AMOUNT_CONSISTENCY_BROKEN');
    expect(await newClient().getPayment('pay-guard')).toMatchObject({ cancelledAmount: 5000 });
  });

  test('a paid virtual account is refunded to the account given, with the bank code translated', async () => {
    await control.createPayment({ paymentId: 'pay-va', amount: 9000, status: 'VIRTUAL_ACCOUNT_ISSUED', webhook: false });
    await control.deposit('pay-va', { webhook: false });
    const client = newClient();
    const request = { gatewayPaymentId: 'pay-va', amount: 9000, expectedCancellableAmount: 9000, reason: 'booking refund', idempotencyKey: key('va') };
    expect(await gatewayErrorOf(client.cancelPayment(request))).toMatchObject({ kind: 'REJECTED', details: { gatewayCode: 'INVALID_REQUEST' } });
    // Same refund, same key: with the account it is another request, so PortOne processes it (no replay of the refusal).
    const after = await client.cancelPayment({ ...request, refundAccount: { bank: '004', holder: '홍길동', account: '123-456' } });
    expect(after.cancelledAmount).toBe(9000);
    const applied = (await control.ledger()).cancelRequests.find((r) => r.applied);
    expect(applied?.body.refundAccount).toEqual({ bank: 'KOOKMIN', number: '123-456', holderName: '홍길동' });
  });

  test('a lost response is an unknown outcome; the read-back shows it applied, and the retry with the same key is answered from the first', async () => {
    await control.createPayment({ paymentId: 'pay-lost', amount: 12000, webhook: false });
    await control.injectFault({ endpoint: 'cancel', kind: 'applyThenLose' });
    const client = newClient();
    const request = { gatewayPaymentId: 'pay-lost', amount: 12000, expectedCancellableAmount: 12000, reason: 'booking refund', idempotencyKey: key('lost') };
    expect(await gatewayErrorKindOf(client.cancelPayment(request))).toBe('OUTCOME_UNKNOWN');
    expect(await client.getPayment('pay-lost')).toMatchObject({ status: 'CANCELLED', cancelledAmount: 12000 });
    // Even a retry that did not read back first cannot cancel twice: the key answers with the first response.
    expect(await client.cancelPayment(request)).toMatchObject({ status: 'CANCELLED', cancelledAmount: 12000 });
    const requests = (await control.ledger()).cancelRequests;
    expect(requests.map((r) => [r.applied, r.replayed, r.responseLost])).toEqual([
      [true, false, true],
      [false, true, false],
    ]);
  });

  test('one refund key: a retry of the same cancel reuses the wire key; a cancel for a new balance gets a new one', async () => {
    await control.createPayment({ paymentId: 'pay-rekey', amount: 9000, webhook: false });
    await control.injectFault({ endpoint: 'cancel', kind: 'http500' });
    const client = newClient();
    const request = { gatewayPaymentId: 'pay-rekey', amount: 9000, expectedCancellableAmount: 9000, reason: 'booking refund', idempotencyKey: key('rekey'), currency: 'KRW' };
    expect(await gatewayErrorKindOf(client.cancelPayment(request))).toBe('OUTCOME_UNKNOWN');
    await control.consoleCancel('pay-rekey', { amount: 1000, webhook: false });
    expect(await gatewayErrorKindOf(client.cancelPayment(request))).toBe('REJECTED');
    const after = await client.cancelPayment({ ...request, amount: 8000, expectedCancellableAmount: 8000 });
    expect(gatewayBalance(after)).toBe(0);
    const keys = (await control.ledger()).cancelRequests.map((r) => r.idempotencyKey);
    expect(keys[0]).toBe(keys[1]);
    expect(keys[2]).not.toBe(keys[1]);
  });

  test('a duplicate sent while the first is in flight gets 409 IDEMPOTENCY_OUTSTANDING_REQUEST (unknown outcome); one cancel applies', async () => {
    await control.createPayment({ paymentId: 'pay-dup', amount: 8000, webhook: false });
    await control.injectFault({ endpoint: 'cancel', kind: 'latency', latencyMs: 1500 });
    const client = newClient();
    const request = { gatewayPaymentId: 'pay-dup', amount: 8000, expectedCancellableAmount: 8000, reason: 'booking refund', idempotencyKey: key('dup') };
    const first = client.cancelPayment(request);
    await waitFor(async () => (await control.ledger()).cancelRequests.length >= 1, 5000, 10); // the first has arrived and waits
    const second = await gatewayErrorOf(client.cancelPayment(request));
    expect(second).toMatchObject({ kind: 'OUTCOME_UNKNOWN', details: { gatewayCode: 'IDEMPOTENCY_OUTSTANDING_REQUEST', httpStatus: 409 } });
    expect(await first).toMatchObject({ cancelledAmount: 8000 });
    expect((await control.ledger()).cancelRequests.filter((r) => r.applied)).toHaveLength(1);
  });

  test('an asynchronous (REQUESTED) cancel returns the payment with its balance still paid, until PortOne completes it', async () => {
    await control.createPayment({ paymentId: 'pay-async', amount: 6000, webhook: false });
    await control.setCancelMode('requested');
    const client = newClient();
    const after = await client.cancelPayment({ gatewayPaymentId: 'pay-async', amount: 6000, expectedCancellableAmount: 6000, reason: 'booking refund', idempotencyKey: key('async') });
    expect([after.status, gatewayBalance(after), after.cancellations]).toEqual(['PAID', 6000, []]);
    await control.completeCancellations('pay-async');
    expect(gatewayBalance(await client.getPayment('pay-async'))).toBe(0);
  });

  test('without a key each call gets a fresh one; a malformed key is refused before sending', async () => {
    await control.createPayment({ paymentId: 'pay-nokey', amount: 3000, webhook: false });
    const client = newClient();
    await client.cancelPayment({ gatewayPaymentId: 'pay-nokey', amount: 1000, expectedCancellableAmount: 3000, reason: 'partial' });
    await client.cancelPayment({ gatewayPaymentId: 'pay-nokey', amount: 1000, expectedCancellableAmount: 2000, reason: 'partial' });
    const keys = (await control.ledger()).cancelRequests.map((r) => r.idempotencyKey);
    expect(new Set(keys).size).toBe(2);
    await expect(client.cancelPayment({ gatewayPaymentId: 'pay-nokey', amount: 1000, expectedCancellableAmount: 1000, reason: 'x', idempotencyKey: 'refund-환불-0001' })).rejects.toThrow(/printable ASCII/);
    await expect(client.cancelPayment({ gatewayPaymentId: 'pay-nokey', amount: 1000, expectedCancellableAmount: 1000, reason: 'x', idempotencyKey: 'r'.repeat(240) })).rejects.toThrow(/16 to 256/);
    await expect(client.cancelPayment({ gatewayPaymentId: 'pay-nokey', amount: 0, expectedCancellableAmount: 1000, reason: 'x' })).rejects.toThrow(/explicit positive amount/);
    expect((await control.ledger()).cancelRequests).toHaveLength(2);
  });
});

describe('error mapping (every V2 error type in one place)', () => {
  const cancel = (client: PortOneV2Client, id = 'pay-err') =>
    client.cancelPayment({ gatewayPaymentId: id, amount: 1000, expectedCancellableAmount: 1000, currency: 'KRW', reason: 'booking refund', idempotencyKey: key(`err-${Math.random()}`) });

  test.each([
    ['PAYMENT_NOT_FOUND', 404, 'NOT_FOUND'],
    ['PAYMENT_ALREADY_CANCELLED', 409, 'ALREADY_CANCELLED'],
    ['CANCELLABLE_AMOUNT_CONSISTENCY_BROKEN', 409, 'REJECTED'],
    ['CANCEL_AMOUNT_EXCEEDS_CANCELLABLE_AMOUNT', 409, 'REJECTED'],
    ['PAYMENT_NOT_PAID', 409, 'REJECTED'],
    ['MAX_CANCEL_COUNT_REACHED', 409, 'REJECTED'],
    ['INVALID_REQUEST', 400, 'REJECTED'],
    ['UNAUTHORIZED', 401, 'MISCONFIGURED'],
    ['FORBIDDEN', 403, 'MISCONFIGURED'],
    ['IDEMPOTENCY_OUTSTANDING_REQUEST', 409, 'OUTCOME_UNKNOWN'],
    ['SOMETHING_NEW', 409, 'REJECTED'],
    ['SOMETHING_NEW', 500, 'OUTCOME_UNKNOWN'],
  ] as const)('cancel answered %s (HTTP %d) is %s', async (type, httpStatus, expected) => {
    await control.createPayment({ paymentId: 'pay-err', amount: 1000, webhook: false });
    await control.injectFault({ endpoint: 'cancel', kind: 'error', type, httpStatus });
    expect(await gatewayErrorKindOf(cancel(newClient()))).toBe(expected);
  });

  test('real answers: unknown payment, already cancelled, not paid, wrong secret, other store', async () => {
    const client = newClient();
    expect(await gatewayErrorKindOf(cancel(client, 'nope'))).toBe('NOT_FOUND');
    await control.createPayment({ paymentId: 'pay-full', amount: 1000, webhook: false });
    await control.consoleCancel('pay-full', { webhook: false });
    expect(await gatewayErrorKindOf(cancel(client, 'pay-full'))).toBe('ALREADY_CANCELLED');
    await control.createPayment({ paymentId: 'pay-ready', amount: 1000, status: 'READY', webhook: false });
    expect(await gatewayErrorOf(cancel(client, 'pay-ready'))).toMatchObject({ kind: 'REJECTED', details: { gatewayCode: 'PAYMENT_NOT_PAID' } });
    expect(await gatewayErrorKindOf(newClient({ apiSecret: 'wrong' }).getPayment('pay-full'))).toBe('MISCONFIGURED');
    expect(await gatewayErrorKindOf(newClient({ storeId: 'store-not-ours' }).getPayment('pay-full'))).toBe('MISCONFIGURED');
  });

  test('PG_PROVIDER is a definite refusal that keeps the PG code and message', async () => {
    await control.createPayment({ paymentId: 'pay-err', amount: 1000, webhook: false });
    await control.injectFault({ endpoint: 'cancel', kind: 'pgError', message: '부분취소 불가' });
    const error = await gatewayErrorOf(cancel(newClient()));
    expect(error.kind).toBe('REJECTED');
    expect(error.message).toContain('부분취소 불가');
  });

  test.each([
    ['http500', 'OUTCOME_UNKNOWN', 'UNAVAILABLE'],
    ['http503', 'UNAVAILABLE', 'UNAVAILABLE'],
    ['reset', 'OUTCOME_UNKNOWN', 'UNAVAILABLE'],
  ] as const)('%s: a cancel is %s, a read is %s', async (kind, onCancel, onRead) => {
    await control.createPayment({ paymentId: 'pay-err', amount: 1000, webhook: false });
    await control.injectFault({ endpoint: 'cancel', kind });
    expect(await gatewayErrorKindOf(cancel(newClient()))).toBe(onCancel);
    await control.injectFault({ endpoint: 'getPayment', kind });
    expect(await gatewayErrorKindOf(newClient().getPayment('pay-err'))).toBe(onRead);
    // Nothing was applied, and the key was not burnt by an edge failure.
    expect((await control.ledger()).cancelRequests.filter((r) => r.applied)).toHaveLength(0);
  });

  test('a response timeout after sending is an unknown outcome for a cancel and unavailable for a read', async () => {
    await control.createPayment({ paymentId: 'pay-err', amount: 1000, webhook: false });
    const client = newClient({ responseTimeoutMs: 300 });
    await control.injectFault({ endpoint: 'cancel', kind: 'latency', latencyMs: 1000 });
    expect(await gatewayErrorKindOf(cancel(client))).toBe('OUTCOME_UNKNOWN');
    await control.injectFault({ endpoint: 'getPayment', kind: 'latency', latencyMs: 1000 });
    expect(await gatewayErrorKindOf(client.getPayment('pay-err'))).toBe('UNAVAILABLE');
  });

  test('nobody listening is unavailable (nothing sent); a bare 404 from a wrong base URL is a configuration error', async () => {
    const closed = await new Promise<number>((resolve) => {
      const server = createServer();
      server.listen(0, '127.0.0.1', () => {
        const address = server.address();
        const port = typeof address === 'object' && address ? address.port : 0;
        server.close(() => resolve(port));
      });
    });
    const offline = newClient({ baseUrl: `http://127.0.0.1:${closed}` });
    expect(await gatewayErrorKindOf(offline.getPayment('x'))).toBe('UNAVAILABLE');
    expect(await gatewayErrorKindOf(cancel(offline, 'x'))).toBe('UNAVAILABLE');
    expect(await gatewayErrorKindOf(newClient({ baseUrl: `${sim.url}/wrong-prefix` }).getPayment('x'))).toBe('MISCONFIGURED');
  });
});

describe('listing by time window', () => {
  test('pages through every paid payment of the window, oldest first, and stops', async () => {
    for (let i = 0; i < 25; i++) await control.createPayment({ paymentId: `list-${String(i).padStart(2, '0')}`, amount: 1000 + i, webhook: false });
    await control.createPayment({ paymentId: 'list-ready', amount: 1, status: 'READY', webhook: false });
    await control.createPayment({ paymentId: 'list-other-store', amount: 1, storeId: OTHER_STORE, webhook: false });
    const client = newClient();
    const from = new Date(Date.now() - 60_000);
    const to = new Date(Date.now() + 60_000);
    const seen: string[] = [];
    const pages: Array<number | null> = [];
    for (let page: number | null = 1; page !== null; ) {
      const result = await client.listPayments({ status: 'paid', from, to, page, limit: 10 });
      seen.push(...result.payments.map((p) => p.gatewayPaymentId));
      pages.push(result.nextPage);
      page = result.nextPage;
    }
    expect(pages).toEqual([2, 3, null]);
    expect(seen).toEqual(Array.from({ length: 25 }, (_, i) => `list-${String(i).padStart(2, '0')}`));
  });

  test('the window is in PortOne time; partially cancelled payments count as paid and as cancelled', async () => {
    await control.createPayment({ paymentId: 'old', amount: 1000, webhook: false });
    await control.advanceClock(3600);
    await control.createPayment({ paymentId: 'new', amount: 1000, webhook: false });
    await control.createPayment({ paymentId: 'part', amount: 1000, webhook: false });
    await control.consoleCancel('part', { amount: 100, webhook: false });
    await control.createPayment({ paymentId: 'issued', amount: 1000, status: 'VIRTUAL_ACCOUNT_ISSUED', webhook: false });
    const client = newClient();
    const from = new Date(Date.now() + 3000_000);
    const to = new Date(Date.now() + 4200_000);
    const ids = async (status: 'paid' | 'cancelled' | 'ready') => (await client.listPayments({ status, from, to, page: 1, limit: 100 })).payments.map((p) => p.gatewayPaymentId).sort();
    expect(await ids('paid')).toEqual(['new', 'part']);
    expect(await ids('cancelled')).toEqual(['part']);
    expect(await ids('ready')).toEqual(['issued']);
  });
});

describe('virtual account close', () => {
  test('an issued, unpaid virtual account is closed and reads as never paid; anything else is REJECTED', async () => {
    await control.createPayment({ paymentId: 'va-open', amount: 5000, status: 'VIRTUAL_ACCOUNT_ISSUED', webhook: false });
    const client = newClient();
    const closed = await client.revokeVirtualAccount('va-open');
    expect(closed).toMatchObject({ status: 'FAILED', isVirtualAccount: true, paidAt: null });
    expect(await gatewayErrorOf(client.revokeVirtualAccount('va-open'))).toMatchObject({ kind: 'REJECTED', details: { gatewayCode: 'PAYMENT_NOT_WAITING_FOR_DEPOSIT' } });
    expect(await gatewayErrorKindOf(client.revokeVirtualAccount('va-unknown'))).toBe('NOT_FOUND');
  });
});

describe('the V2 harness other tests use', () => {
  test('pays in major units, and reports cancels with their amount, guard and key in major units', async () => {
    const harness = await startSimulatorHarnessV2();
    try {
      const paymentId = await harness.pay({ merchantUid: 'order-usd', amount: 10.4, currency: 'USD' });
      const client = new PortOneV2Client({ baseUrl: harness.url, apiSecret: harness.apiSecret, storeId: harness.storeId, connectTimeoutMs: 2000, responseTimeoutMs: 5000 });
      await client.cancelPayment({ gatewayPaymentId: paymentId, amount: 10.4, expectedCancellableAmount: 10.4, reason: 'booking refund', idempotencyKey: key('harness') });
      expect(await harness.cancelRequests(paymentId)).toMatchObject([{ amount: 10.4, guard: 10.4, idempotencyKey: expect.stringContaining(key('harness')), applied: true }]);
      expect((await harness.payment(paymentId)).amount).toMatchObject({ total: 1040, cancelled: 1040 });
    } finally {
      await harness.close();
    }
  });
});
