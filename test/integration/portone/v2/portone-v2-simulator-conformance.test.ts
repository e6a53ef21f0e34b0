import fetch from 'node-fetch';
import { startPortOneSimulator } from '../../../../src/gateway/portone/sim/portone-simulator';
import { PortOneV2SimulatorControlClient } from '../../../../src/gateway/portone/sim/v2/portone-v2-simulator-control.client';
import { newWebhookSecret, parseSfString, startPortOneV2Simulator, type PortOneV2Simulator } from '../../../../src/gateway/portone/sim/v2/portone-v2-simulator';
import type { V2PaymentStatus } from '../../../../src/gateway/portone/sim/v2/portone-v2-simulator-state';
import { waitFor } from '../../../support/wait';
import { v2ErrorStatus, v2ResponseValidator, v2SchemaValidator } from '../../../support/portone-v2-openapi';

/**
 * Conformance of the V2 simulator with contract part B, over HTTP, checked against PortOne's V2 OpenAPI
 * (the subset copied into test/fixtures/portone, see its x-source).
 */
const SECRET = 'conf-v2-secret';
const STORE = 'store-aaaaaaaa-0000-0000-0000-000000000001';
const OTHER = 'store-aaaaaaaa-0000-0000-0000-000000000002';
let sim: PortOneV2Simulator;
let control: PortOneV2SimulatorControlClient;

beforeAll(async () => {
  sim = await startPortOneV2Simulator({ apiSecret: SECRET, storeId: STORE, otherStoreIds: [OTHER], control: true, webhookSecrets: [newWebhookSecret()] });
  control = new PortOneV2SimulatorControlClient(sim.url);
});
afterAll(async () => {
  await sim.close();
});
beforeEach(async () => {
  await control.reset();
});

const auth = { authorization: `PortOne ${SECRET}` };

async function call(method: string, path: string, options: { body?: unknown; raw?: string; headers?: Record<string, string> } = {}) {
  const headers: Record<string, string> = { ...auth, ...options.headers };
  let body: string | undefined = options.raw;
  if (options.body !== undefined) {
    headers['content-type'] ??= 'application/json';
    body = JSON.stringify(options.body);
  }
  const response = await fetch(`${sim.url}${path}`, { method, headers, body });
  const text = await response.text();
  let json: any = null;
  try {
    json = text ? JSON.parse(text) : null;
  } catch {
    json = { html: text };
  }
  return { status: response.status, json };
}

const getPaymentSchema = (status: number) => v2ResponseValidator('get', '/payments/{paymentId}', status);
const cancelSchema = (status: number) => v2ResponseValidator('post', '/payments/{paymentId}/cancel', status);

/** An error answer: documented for the operation at that status, and that status is the one PortOne gives the type. */
function expectError(result: { status: number; json: any }, union: string, path: string, method: 'get' | 'post', type: string) {
  expect(result.json.type).toBe(type);
  expect(result.status).toBe(v2ErrorStatus(union, type));
  expect(v2ResponseValidator(method, path, result.status)(result.json)).toEqual([]);
}

describe('B0 auth and errors', () => {
  test('no, wrong or Bearer-less credentials are 401 UNAUTHORIZED; `PortOne <secret>` passes', async () => {
    await control.createPayment({ paymentId: 'p-auth', amount: 1000, webhook: false });
    for (const headers of [{ authorization: '' }, { authorization: 'PortOne wrong' }, { authorization: SECRET }]) {
      expectError(await call('GET', '/payments/p-auth', { headers }), 'GetPaymentError', '/payments/{paymentId}', 'get', 'UNAUTHORIZED');
    }
    expect((await call('GET', '/payments/p-auth')).status).toBe(200);
  });

  test('a store the secret may not act for is 403 FORBIDDEN; another store of the secret has its own payment ids', async () => {
    await control.createPayment({ paymentId: 'same-id', amount: 1000, webhook: false });
    await control.createPayment({ paymentId: 'same-id', amount: 2000, storeId: OTHER, webhook: false });
    expectError(await call('GET', '/payments/same-id?storeId=store-foreign'), 'GetPaymentError', '/payments/{paymentId}', 'get', 'FORBIDDEN');
    expect((await call('GET', '/payments/same-id')).json.amount.total).toBe(1000);
    expect((await call('GET', `/payments/same-id?storeId=${STORE}`)).json.amount.total).toBe(1000);
    const other = await call('GET', `/payments/same-id?storeId=${OTHER}`);
    expect([other.json.amount.total, other.json.storeId]).toEqual([2000, OTHER]);
  });
});

describe('B1 payments per status', () => {
  const statuses: V2PaymentStatus[] = ['READY', 'PAY_PENDING', 'VIRTUAL_ACCOUNT_ISSUED', 'PAID', 'FAILED'];

  test.each(statuses)('a %s payment has the OpenAPI shape of its status', async (status) => {
    await control.createPayment({ paymentId: `p-${status}`, amount: 15000, status, webhook: false });
    const result = await call('GET', `/payments/p-${status}`);
    expect(result.status).toBe(200);
    expect(result.json.status).toBe(status);
    expect(getPaymentSchema(200)(result.json)).toEqual([]);
  });

  test('PARTIAL_CANCELLED and CANCELLED have their shapes, with cumulative amount.cancelled and every cancellation', async () => {
    await control.createPayment({ paymentId: 'p-c', amount: 15000, webhook: false });
    await control.consoleCancel('p-c', { amount: 5000, webhook: false });
    const partial = await call('GET', '/payments/p-c');
    expect([partial.json.status, partial.json.amount.cancelled]).toEqual(['PARTIAL_CANCELLED', 5000]);
    expect(getPaymentSchema(200)(partial.json)).toEqual([]);
    await control.consoleCancel('p-c', { webhook: false });
    const cancelled = await call('GET', '/payments/p-c');
    expect([cancelled.json.status, cancelled.json.amount.cancelled, cancelled.json.cancellations.length]).toEqual(['CANCELLED', 15000, 2]);
    expect(getPaymentSchema(200)(cancelled.json)).toEqual([]);
  });

  test('a virtual account is issued, then paid on deposit; a TEST channel shows as such', async () => {
    await control.createPayment({ paymentId: 'p-va', amount: 9000, status: 'VIRTUAL_ACCOUNT_ISSUED', channelType: 'TEST', webhook: false });
    const issued = await call('GET', '/payments/p-va');
    expect([issued.json.method.type, issued.json.channel.type, issued.json.paidAt]).toEqual(['PaymentMethodVirtualAccount', 'TEST', undefined]);
    await control.deposit('p-va', { webhook: false });
    const paid = await call('GET', '/payments/p-va');
    expect(paid.json.status).toBe('PAID');
    expect(getPaymentSchema(200)(paid.json)).toEqual([]);
  });

  test('an unknown payment is 404 PAYMENT_NOT_FOUND', async () => {
    expectError(await call('GET', '/payments/nope'), 'GetPaymentError', '/payments/{paymentId}', 'get', 'PAYMENT_NOT_FOUND');
  });

  test('the validator itself rejects a misspelt field and a missing required one (the checks can fail)', () => {
    const valid = { type: 'PAYMENT_NOT_FOUND', message: 'x' };
    expect(getPaymentSchema(404)(valid)).toEqual([]);
    expect(getPaymentSchema(404)({ ...valid, mesage: 'typo' })).not.toEqual([]);
    expect(v2SchemaValidator('PaidPayment')({ status: 'PAID', id: 'x' })).not.toEqual([]);
  });
});

describe('B2 cancel', () => {
  const path = '/payments/{paymentId}/cancel';
  const cancelError = (result: { status: number; json: any }, type: string) => expectError(result, 'CancelPaymentError', path, 'post', type);

  test('a full cancel answers {cancellation} SUCCEEDED; the payment is CANCELLED; the request body is the documented one', async () => {
    await control.createPayment({ paymentId: 'p-1', amount: 10000, webhook: false });
    const body = { storeId: STORE, amount: 10000, currentCancellableAmount: 10000, reason: 'booking refund' };
    expect(v2SchemaValidator('CancelPaymentBody')(body)).toEqual([]);
    const result = await call('POST', '/payments/p-1/cancel', { body });
    expect(result.status).toBe(200);
    expect(result.json.cancellation).toMatchObject({ status: 'SUCCEEDED', totalAmount: 10000, reason: 'booking refund' });
    expect(cancelSchema(200)(result.json)).toEqual([]);
    const after = await call('GET', '/payments/p-1');
    expect([after.json.status, after.json.amount.cancelled]).toEqual(['CANCELLED', 10000]);
  });

  test('JSON is read whatever the Content-Type (the official SDK sends text/plain)', async () => {
    await control.createPayment({ paymentId: 'p-plain', amount: 10000, webhook: false });
    const result = await call('POST', '/payments/p-plain/cancel', { body: { reason: 'r', amount: 4000 }, headers: { 'content-type': 'text/plain;charset=UTF-8' } });
    expect(result.status).toBe(200);
    expect((await call('GET', '/payments/p-plain')).json.status).toBe('PARTIAL_CANCELLED');
  });

  test('every refusal has its documented type and status, and changes nothing', async () => {
    await control.createPayment({ paymentId: 'p-r', amount: 10000, webhook: false });
    await control.createPayment({ paymentId: 'p-ready', amount: 10000, status: 'READY', webhook: false });
    await control.createPayment({ paymentId: 'p-done', amount: 10000, webhook: false });
    await control.consoleCancel('p-done', { webhook: false });
    cancelError(await call('POST', '/payments/p-r/cancel', { body: { amount: 1000 } }), 'INVALID_REQUEST');
    cancelError(await call('POST', '/payments/p-r/cancel', { raw: '{not json', headers: { 'content-type': 'application/json' } }), 'INVALID_REQUEST');
    cancelError(await call('POST', '/payments/nope/cancel', { body: { reason: 'r' } }), 'PAYMENT_NOT_FOUND');
    cancelError(await call('POST', '/payments/p-ready/cancel', { body: { reason: 'r' } }), 'PAYMENT_NOT_PAID');
    cancelError(await call('POST', '/payments/p-done/cancel', { body: { reason: 'r' } }), 'PAYMENT_ALREADY_CANCELLED');
    cancelError(await call('POST', '/payments/p-r/cancel', { body: { reason: 'r', amount: 1000, currentCancellableAmount: 9000 } }), 'CANCELLABLE_AMOUNT_CONSISTENCY_BROKEN');
    cancelError(await call('POST', '/payments/p-r/cancel', { body: { reason: 'r', amount: 10001 } }), 'CANCEL_AMOUNT_EXCEEDS_CANCELLABLE_AMOUNT');
    cancelError(await call('POST', '/payments/p-r/cancel', { body: { reason: 'r', storeId: 'store-foreign' } }), 'FORBIDDEN');
    cancelError(await call('POST', '/payments/p-r/cancel', { body: { reason: 'r' }, headers: { authorization: 'PortOne nope' } }), 'UNAUTHORIZED');
    expect((await call('GET', '/payments/p-r')).json.amount.cancelled).toBe(0);
  });

  test('an omitted amount cancels the whole balance; the guard compares with the balance before the cancel', async () => {
    await control.createPayment({ paymentId: 'p-bal', amount: 10000, webhook: false });
    expect((await call('POST', '/payments/p-bal/cancel', { body: { reason: 'r', amount: 3000, currentCancellableAmount: 10000 } })).status).toBe(200);
    expect((await call('POST', '/payments/p-bal/cancel', { body: { reason: 'r', currentCancellableAmount: 7000 } })).json.cancellation.totalAmount).toBe(7000);
    expect((await call('GET', '/payments/p-bal')).json.status).toBe('CANCELLED');
  });

  test('async mode: the cancel answers REQUESTED, the balance moves only when it completes', async () => {
    await control.createPayment({ paymentId: 'p-async', amount: 10000, webhook: false });
    await control.setCancelMode('requested');
    const result = await call('POST', '/payments/p-async/cancel', { body: { reason: 'r', currentCancellableAmount: 10000 } });
    expect(result.json.cancellation.status).toBe('REQUESTED');
    expect(cancelSchema(200)(result.json)).toEqual([]);
    const pending = await call('GET', '/payments/p-async');
    expect([pending.json.status, pending.json.amount.cancelled, pending.json.cancellations[0].status]).toEqual(['PAID', 0, 'REQUESTED']);
    expect(getPaymentSchema(200)(pending.json)).toEqual([]);
    // Nothing more can be cancelled while the first is pending.
    cancelError(await call('POST', '/payments/p-async/cancel', { body: { reason: 'r', amount: 1 } }), 'CANCEL_AMOUNT_EXCEEDS_CANCELLABLE_AMOUNT');
    await control.completeCancellations('p-async');
    const done = await call('GET', '/payments/p-async');
    expect([done.json.status, done.json.amount.cancelled]).toEqual(['CANCELLED', 10000]);
    expect(getPaymentSchema(200)(done.json)).toEqual([]);
  });

  test('a PG failure is 502 PG_PROVIDER with pgCode and pgMessage', async () => {
    await control.createPayment({ paymentId: 'p-pg', amount: 10000, webhook: false });
    await control.injectFault({ endpoint: 'cancel', kind: 'pgError' });
    const result = await call('POST', '/payments/p-pg/cancel', { body: { reason: 'r' } });
    cancelError(result, 'PG_PROVIDER');
    expect(typeof result.json.pgCode).toBe('string');
  });
});

describe('Idempotency-Key', () => {
  const keyed = (key: string) => ({ 'idempotency-key': `"${key}"` });

  test('a completed request is replayed (same answer, applied once); a different request under the key is refused', async () => {
    await control.createPayment({ paymentId: 'p-idem', amount: 10000, webhook: false });
    const body = { reason: 'r', amount: 2000, currentCancellableAmount: 10000 };
    const first = await call('POST', '/payments/p-idem/cancel', { body, headers: keyed('idem-key-0000000001') });
    const again = await call('POST', '/payments/p-idem/cancel', { body, headers: keyed('idem-key-0000000001') });
    expect(again).toEqual(first);
    expect((await call('GET', '/payments/p-idem')).json.amount.cancelled).toBe(2000);
    const other = await call('POST', '/payments/p-idem/cancel', { body: { ...body, amount: 1000 }, headers: keyed('idem-key-0000000001') });
    expect(other.status).toBe(400);
  });

  test('a refusal is replayed too (UNCONFIRMED at PortOne; the default), so a new attempt needs a new key', async () => {
    await control.createPayment({ paymentId: 'p-idem-err', amount: 10000, webhook: false });
    const body = { reason: 'r', amount: 2000, currentCancellableAmount: 9999 };
    const refused = await call('POST', '/payments/p-idem-err/cancel', { body, headers: keyed('idem-key-0000000002') });
    expect(refused.json.type).toBe('CANCELLABLE_AMOUNT_CONSISTENCY_BROKEN');
    expect(await call('POST', '/payments/p-idem-err/cancel', { body, headers: keyed('idem-key-0000000002') })).toEqual(refused);
  });

  test('an edge failure (503) does not burn the key: the retry is processed', async () => {
    await control.createPayment({ paymentId: 'p-idem-503', amount: 10000, webhook: false });
    await control.injectFault({ endpoint: 'cancel', kind: 'http503' });
    const body = { reason: 'r' };
    expect((await call('POST', '/payments/p-idem-503/cancel', { body, headers: keyed('idem-key-0000000003') })).status).toBe(503);
    expect((await call('POST', '/payments/p-idem-503/cancel', { body, headers: keyed('idem-key-0000000003') })).status).toBe(200);
  });

  test('a duplicate while the first is in flight is 409 IDEMPOTENCY_OUTSTANDING_REQUEST', async () => {
    await control.createPayment({ paymentId: 'p-idem-fly', amount: 10000, webhook: false });
    await control.injectFault({ endpoint: 'cancel', kind: 'latency', latencyMs: 800 });
    const body = { reason: 'r' };
    const first = call('POST', '/payments/p-idem-fly/cancel', { body, headers: keyed('idem-key-0000000004') });
    await waitFor(async () => (await control.ledger()).cancelRequests.length >= 1, 5000, 10); // the first has arrived and waits
    const second = await call('POST', '/payments/p-idem-fly/cancel', { body, headers: keyed('idem-key-0000000004') });
    expect([second.status, second.json.type]).toEqual([409, 'IDEMPOTENCY_OUTSTANDING_REQUEST']);
    expect((await first).status).toBe(200);
  });

  test('keys are kept 3 hours, then the request is processed again (the balance guard is what protects then)', async () => {
    await control.createPayment({ paymentId: 'p-idem-old', amount: 10000, webhook: false });
    const body = { reason: 'r', amount: 1000 };
    await call('POST', '/payments/p-idem-old/cancel', { body, headers: keyed('idem-key-0000000005') });
    await control.advanceClock(3 * 3600 + 1);
    await call('POST', '/payments/p-idem-old/cancel', { body, headers: keyed('idem-key-0000000005') });
    expect((await call('GET', '/payments/p-idem-old')).json.amount.cancelled).toBe(2000);
  });

  test('malformed keys (unquoted, too short, too long) are 400 INVALID_REQUEST; RFC 8941 escapes are understood', async () => {
    await control.createPayment({ paymentId: 'p-idem-bad', amount: 10000, webhook: false });
    for (const value of ['unquoted-key-0000000001', '"short"', `"${'x'.repeat(257)}"`]) {
      const result = await call('POST', '/payments/p-idem-bad/cancel', { body: { reason: 'r' }, headers: { 'idempotency-key': value } });
      expect([result.status, result.json.type]).toEqual([400, 'INVALID_REQUEST']);
    }
    expect(parseSfString('"a\\"b\\\\c"')).toBe('a"b\\c');
    expect(parseSfString('"a"b"')).toBeNull();
    expect((await call('GET', '/payments/p-idem-bad')).json.amount.cancelled).toBe(0);
  });
});

describe('B3 listing and virtual-account close', () => {
  test('GET /payments takes its input as JSON in `requestBody`, pages from 0, filters by window and status', async () => {
    for (let i = 0; i < 7; i++) await control.createPayment({ paymentId: `l-${i}`, amount: 1000, webhook: false });
    await control.createPayment({ paymentId: 'l-failed', amount: 1000, status: 'FAILED', webhook: false });
    await control.createPayment({ paymentId: 'l-pending', amount: 1000, status: 'PAY_PENDING', webhook: false });
    const query = (input: unknown) => call('GET', `/payments?requestBody=${encodeURIComponent(JSON.stringify(input))}`);
    const from = new Date(Date.now() - 60_000).toISOString();
    const until = new Date(Date.now() + 60_000).toISOString();
    const page1 = await query({ page: { number: 1, size: 3 }, filter: { from, until, status: ['PAID'], sortBy: 'REQUESTED_AT', sortOrder: 'ASC' } });
    expect(page1.status).toBe(200);
    expect(v2ResponseValidator('get', '/payments', 200)(page1.json)).toEqual([]);
    expect(page1.json.page).toEqual({ number: 1, size: 3, totalCount: 7 });
    expect(page1.json.items.map((p: { id: string }) => p.id)).toEqual(['l-3', 'l-4', 'l-5']);
    const pending = await query({ filter: { status: ['PENDING'] } });
    expect(pending.json.items.map((p: { id: string }) => p.id)).toEqual(['l-pending']);
    const past = await query({ filter: { until: from } });
    expect(past.json.page.totalCount).toBe(0);
    const bad = await call('GET', '/payments?requestBody=%7Bnot');
    expect([bad.status, bad.json.type]).toEqual([400, 'INVALID_REQUEST']);
    expect(v2ResponseValidator('get', '/payments', 400)(bad.json)).toEqual([]);
  });

  test('an issued virtual account is closed once; anything else is 409 PAYMENT_NOT_WAITING_FOR_DEPOSIT', async () => {
    await control.createPayment({ paymentId: 'va-1', amount: 1000, status: 'VIRTUAL_ACCOUNT_ISSUED', webhook: false });
    const closed = await call('POST', '/payments/va-1/virtual-account/close', {});
    expect(closed.status).toBe(200);
    expect(v2ResponseValidator('post', '/payments/{paymentId}/virtual-account/close', 200)(closed.json)).toEqual([]);
    expect(getPaymentSchema(200)((await call('GET', '/payments/va-1')).json)).toEqual([]);
    expectError(await call('POST', '/payments/va-1/virtual-account/close', {}), 'CloseVirtualAccountError', '/payments/{paymentId}/virtual-account/close', 'post', 'PAYMENT_NOT_WAITING_FOR_DEPOSIT');
  });
});

test('mounted beside the V1 simulator under /v2, both APIs answer from one server', async () => {
  const both = await startPortOneSimulator({
    impKey: 'k',
    impSecret: 's',
    control: true,
    v2: { apiSecret: SECRET, storeId: STORE, control: true, webhookSecrets: [newWebhookSecret()] },
  });
  try {
    expect(both.v2?.url).toBe(`${both.url}/v2`);
    const v2control = new PortOneV2SimulatorControlClient(both.v2!.url);
    await v2control.createPayment({ paymentId: 'mounted', amount: 1000, webhook: false });
    const v2 = await fetch(`${both.v2!.url}/payments/mounted`, { headers: auth });
    expect(v2.status).toBe(200);
    expect(((await v2.json()) as { id: string }).id).toBe('mounted');
    const v1 = await fetch(`${both.url}/users/getToken`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ imp_key: 'k', imp_secret: 's' }) });
    expect(((await v1.json()) as { code: number }).code).toBe(0);
    // V1 still reads form bodies; V2's any-content-type JSON parser stays inside its own context.
    const form = await fetch(`${both.url}/users/getToken`, { method: 'POST', headers: { 'content-type': 'application/x-www-form-urlencoded' }, body: 'imp_key=k&imp_secret=s' });
    expect(((await form.json()) as { code: number }).code).toBe(0);
  } finally {
    await both.close();
  }
});
