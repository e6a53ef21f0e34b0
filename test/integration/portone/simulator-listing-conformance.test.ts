import fc from 'fast-check';
import fetch from 'node-fetch';
import { definitionValidator, responseValidator } from '../../support/portone-openapi';
import { callPortOneV1, portOneV1Token, useV1ConformanceSimulator, type V1Envelope } from '../../support/portone-v1-conformance';
import { waitFor } from '../../support/wait';

/**
 * The simulator's time-window listing (`GET /payments/status/{payment_status}`), virtual-account revoke
 * (`DELETE /vbanks/{imp_uid}`), live-by-default payments, exact decimal cancels and run-time options, over
 * raw HTTP and checked against PortOne's Swagger (contract part A, A6).
 */
const KEY = 'listing-key';
const SECRET = 'listing-secret';
const DAY = 86_400;
const FC_PARAMS = { numRuns: Number(process.env.FC_RUNS ?? 15), ...(process.env.FC_SEED ? { seed: Number(process.env.FC_SEED) } : {}) };
const { sim, control, receiver } = useV1ConformanceSimulator({ impKey: KEY, impSecret: SECRET });

const token = () => portOneV1Token(sim.url, { impKey: KEY, impSecret: SECRET });
/** Sends the bearer token unless `auth: false`. */
async function call(method: string, path: string, options: { body?: unknown; form?: Record<string, string>; auth?: boolean } = {}) {
  return callPortOneV1(sim.url, method, path, { ...options, headers: options.auth === false ? {} : { authorization: `Bearer ${await token()}` } });
}

const listing = (status: string, query: Record<string, string | number> = {}) =>
  call('GET', `/payments/status/${status}?${new URLSearchParams(Object.entries(query).map(([k, v]): [string, string] => [k, String(v)])).toString()}`);
const ids = (r: { json: V1Envelope }) => (r.json.response.list as Array<{ imp_uid: string }>).map((p) => p.imp_uid);
const now = async () => (await control.ledger()).now;
const checkListing = responseValidator('get', '/payments/status/{payment_status}');

describe('GET /payments/status/{payment_status}', () => {
  test('every status answers the documented PaymentListResponse, full Payment records in the list', async () => {
    const paid = await control.createPayment({ merchant_uid: 'm-shape', amount: 1000 });
    await control.createPayment({ merchant_uid: 'm-shape-ready', amount: 1000, status: 'ready', pay_method: 'vbank' });
    await control.createPayment({ merchant_uid: 'm-shape-failed', amount: 1000, status: 'failed' });
    await control.consoleCancel((await control.createPayment({ merchant_uid: 'm-shape-cancel', amount: 1000 })).imp_uid);
    for (const status of ['all', 'ready', 'paid', 'cancelled', 'failed']) {
      const r = await listing(status);
      expect(r.status).toBe(200);
      expect(checkListing(r.json)).toEqual([]);
      expect(r.json.response.list.length).toBeGreaterThan(0);
    }
    const r = await listing('paid');
    expect(ids(r)).toContain(paid.imp_uid);
    // The check can fail: a page number as a string, or a missing total, is caught.
    expect(checkListing({ ...r.json, response: { ...r.json.response, next: '0' } }).join()).toMatch(/next/);
    const { total: _total, ...withoutTotal } = r.json.response;
    expect(checkListing({ ...r.json, response: withoutTotal }).join()).toMatch(/total/);
  });

  test('paging: total, previous and next (0 at the ends), pages of `limit` (default 20), each payment once, 400 past the last page', async () => {
    await fc.assert(
      fc.asyncProperty(fc.integer({ min: 0, max: 70 }), fc.option(fc.integer({ min: 1, max: 25 }), { nil: undefined }), async (count, limit) => {
        await control.reset();
        const created = await control.createPayments(Array.from({ length: count }, (_, i) => ({ merchant_uid: `m-p-${i}`, amount: 100 + i, webhook: false })));
        const size = limit ?? 20;
        const lastPage = Math.max(1, Math.ceil(count / size));
        const seen: string[] = [];
        for (let page = 1; page <= lastPage; page++) {
          const r = await listing('paid', { page, ...(limit === undefined ? {} : { limit }) });
          expect(r.status).toBe(200);
          expect(checkListing(r.json)).toEqual([]);
          expect(r.json.response).toMatchObject({ total: count, previous: page - 1, next: page < lastPage ? page + 1 : 0 });
          expect(r.json.response.list).toHaveLength(Math.min(size, count - (page - 1) * size));
          seen.push(...ids(r));
        }
        expect(seen.sort()).toEqual(created.map((p) => p.imp_uid).sort());
        const beyond = await listing('paid', { page: lastPage + 1, ...(limit === undefined ? {} : { limit }) });
        expect(beyond.status).toBe(400);
        expect(beyond.json).toMatchObject({ code: -1, response: null });
      }),
      FC_PARAMS,
    );
  });

  test('an invalid status, page, limit, sorting or window is a 400 envelope; no token is a 401', async () => {
    const t = await now();
    const bad: Array<[string, Record<string, string | number>]> = [
      ['refunded', {}],
      ['paid', { page: 0 }],
      ['paid', { limit: 0 }],
      ['paid', { limit: 1001 }],
      ['paid', { limit: 'ten' }],
      ['paid', { page: '1.5' }],
      ['paid', { from: 'yesterday' }],
      ['paid', { sorting: 'amount' }],
      ['paid', { from: t, to: t - 1 }],
      ['paid', { from: t - 90 * DAY - 1, to: t }],
    ];
    for (const [status, query] of bad) {
      const r = await listing(status, query);
      expect([status, query, r.status]).toEqual([status, query, 400]);
      expect(r.json).toMatchObject({ code: -1, response: null, message: expect.any(String) });
    }
    expect((await listing('paid', { limit: 1000, from: t - 90 * DAY, to: t })).status).toBe(200);
    expect((await call('GET', '/payments/status/paid', { auth: false })).status).toBe(401);
  });

  test('without from/to the window is the last 90 days up to now; bounds are inclusive', async () => {
    const paid = await control.createPayment({ merchant_uid: 'm-window', amount: 1000, webhook: false });
    const at = paid.paid_at;
    // The simulator's clock also runs in real time; 30 s of slack keeps this exact at whole seconds.
    await control.advanceClock(90 * DAY - 30);
    expect(ids(await listing('paid'))).toEqual([paid.imp_uid]);
    await control.advanceClock(31);
    expect(ids(await listing('paid'))).toEqual([]);
    expect(ids(await listing('paid', { from: at, to: at }))).toEqual([paid.imp_uid]);
    expect(ids(await listing('paid', { from: at + 1, to: at + 10 }))).toEqual([]);
    expect(ids(await listing('paid', { from: at - 10, to: at - 1 }))).toEqual([]);
    expect(ids(await listing('paid', { to: at }))).toEqual([paid.imp_uid]);
  });

  test('each listing filters on the time of its status; `all` on the time of each payment\'s own status', async () => {
    const late = await control.createPayment({ merchant_uid: 'm-late', amount: 1000, status: 'ready', pay_method: 'vbank', webhook: false });
    const t0 = late.started_at;
    await control.advanceClock(10);
    const t1 = (await control.setStatus(late.imp_uid, 'paid', false)).paid_at;
    const refunded = await control.createPayment({ merchant_uid: 'm-refunded', amount: 1000, webhook: false });
    await control.advanceClock(10);
    const cancel = await call('POST', '/payments/cancel', { body: { imp_uid: refunded.imp_uid, amount: 1000, checksum: 1000 } });
    const t2 = cancel.json.response.cancelled_at as number;
    const failed = await control.createPayment({ merchant_uid: 'm-failed', amount: 1000, status: 'failed' });
    const ready = await control.createPayment({ merchant_uid: 'm-ready', amount: 1000, status: 'ready', webhook: false });
    expect([t1 - t0 >= 10, refunded.paid_at < t2, failed.failed_at < t2 + 5, ready.started_at < t2 + 5]).toEqual([true, true, true, true]);

    expect(ids(await listing('paid', { from: t1, to: t1 }))).toEqual([late.imp_uid]);
    expect(ids(await listing('paid', { from: t0, to: t0 }))).toEqual([]);
    expect(ids(await listing('ready', { from: t0, to: t0 }))).toEqual([]);
    expect(ids(await listing('ready', { from: ready.started_at, to: ready.started_at }))).toEqual([ready.imp_uid]);
    expect(ids(await listing('cancelled', { from: t2, to: t2 }))).toEqual([refunded.imp_uid]);
    expect(ids(await listing('cancelled', { from: t0, to: t2 - 1 }))).toEqual([]);
    expect(ids(await listing('failed', { from: failed.failed_at, to: failed.failed_at }))).toEqual([failed.imp_uid]);
    expect(ids(await listing('all', { from: t0, to: t0 }))).toEqual([]);
    expect(ids(await listing('all', { from: t1, to: t1 }))).toEqual([late.imp_uid]);
    expect(ids(await listing('all', { from: t2, to: t2 + 5 })).sort()).toEqual([refunded.imp_uid, failed.imp_uid, ready.imp_uid].sort());
  });

  test('sorting by start, payment and last change, newest first by default', async () => {
    const a = await control.createPayment({ merchant_uid: 'm-a', amount: 1000, status: 'ready', pay_method: 'vbank', webhook: false });
    await control.advanceClock(5);
    const b = await control.createPayment({ merchant_uid: 'm-b', amount: 1000, webhook: false });
    await control.advanceClock(5);
    await control.setStatus(a.imp_uid, 'paid', false); // started first, paid last
    const window = { from: (await now()) - 60, to: (await now()) + 60 };
    expect(ids(await listing('paid', window))).toEqual([b.imp_uid, a.imp_uid]);
    expect(ids(await listing('paid', { ...window, sorting: 'started' }))).toEqual([a.imp_uid, b.imp_uid]);
    expect(ids(await listing('paid', { ...window, sorting: 'paid' }))).toEqual([b.imp_uid, a.imp_uid]);
    expect(ids(await listing('paid', { ...window, sorting: '-paid' }))).toEqual([a.imp_uid, b.imp_uid]);
    await control.advanceClock(5);
    await control.consoleCancel(b.imp_uid, 100); // a change: b is now the most recently updated
    expect(ids(await listing('paid', { ...window, to: window.to + 5, sorting: 'updated' }))).toEqual([a.imp_uid, b.imp_uid]);
    expect(ids(await listing('paid', { ...window, to: window.to + 5, sorting: '-updated' }))).toEqual([b.imp_uid, a.imp_uid]);
  });

  test('fault endpoint `list`', async () => {
    await control.injectFault({ endpoint: 'list', kind: 'http503' });
    const response = await fetch(`${sim.url}/payments/status/paid`, { headers: { authorization: `Bearer ${await token()}` } });
    expect(response.status).toBe(503);
    expect((await listing('paid')).status).toBe(200);
  });
});

describe('DELETE /vbanks/{imp_uid}', () => {
  test('revokes an issued, unpaid virtual account: cancelled, no money moved, no webhook; valid PaymentResponse', async () => {
    const vbank = await control.createPayment({ merchant_uid: 'm-vb', amount: 30000, status: 'ready', pay_method: 'vbank' });
    await waitFor(async () => receiver.received.length >= 1);
    expect(receiver.json()).toEqual([{ imp_uid: vbank.imp_uid, merchant_uid: 'm-vb', status: 'ready' }]);
    const r = await call('DELETE', `/vbanks/${vbank.imp_uid}`);
    expect(r.status).toBe(200);
    expect(definitionValidator('PaymentResponse')(r.json)).toEqual([]);
    expect(r.json).toMatchObject({ code: 0, message: null });
    expect(r.json.response).toMatchObject({ status: 'cancelled', amount: 30000, cancel_amount: 0, cancel_history: [], paid_at: 0, pay_method: 'vbank' });
    expect(r.json.response.cancelled_at).toBeGreaterThanOrEqual(vbank.started_at);
    expect(r.json.response.cancelled_at).toBeLessThanOrEqual(await now());
    expect((await call('GET', `/payments/${vbank.imp_uid}`)).json.response).toEqual(r.json.response);
    await new Promise((resolve) => setTimeout(resolve, 100));
    expect(receiver.received).toHaveLength(1);
  });

  test('404 for an unknown imp_uid; 400 for a card, a paid or an already revoked account; 401 without a token', async () => {
    const card = await control.createPayment({ merchant_uid: 'm-card', amount: 1000, webhook: false });
    const deposited = await control.createPayment({ merchant_uid: 'm-dep', amount: 1000, status: 'ready', pay_method: 'vbank', webhook: false });
    expect(await control.setStatus(deposited.imp_uid, 'paid', false)).toMatchObject({ status: 'paid' });
    const revoked = await control.createPayment({ merchant_uid: 'm-rev', amount: 1000, status: 'ready', pay_method: 'vbank', webhook: false });
    expect((await call('DELETE', `/vbanks/${revoked.imp_uid}`)).status).toBe(200);

    const unknown = await call('DELETE', '/vbanks/imp_000000000000');
    expect(unknown.status).toBe(404);
    expect(unknown.json).toEqual({ code: -1, message: '존재하지 않는 결제정보입니다.', response: null });
    for (const impUid of [card.imp_uid, deposited.imp_uid, revoked.imp_uid]) {
      const r = await call('DELETE', `/vbanks/${impUid}`);
      expect([impUid, r.status]).toEqual([impUid, 400]);
      expect(r.json).toMatchObject({ code: -1, response: null, message: expect.any(String) });
    }
    expect((await call('DELETE', `/vbanks/${card.imp_uid}`, { auth: false })).status).toBe(401);
    expect((await control.ledger()).payments.map((p) => [p.imp_uid, p.status])).toEqual([
      [card.imp_uid, 'paid'],
      [deposited.imp_uid, 'paid'],
      [revoked.imp_uid, 'cancelled'],
    ]);
  });

  test('fault endpoint `revokeVbank`', async () => {
    const vbank = await control.createPayment({ merchant_uid: 'm-vb-fault', amount: 1000, status: 'ready', pay_method: 'vbank', webhook: false });
    await control.injectFault({ endpoint: 'revokeVbank', kind: 'http500' });
    expect((await fetch(`${sim.url}/vbanks/${vbank.imp_uid}`, { method: 'DELETE', headers: { authorization: await token() } })).status).toBe(500);
    expect((await call('DELETE', `/vbanks/${vbank.imp_uid}`)).status).toBe(200);
  });

  test('a deposit (ready → paid) sends the paid webhook and sets paid_at; a revoked account takes no deposit', async () => {
    const vbank = await control.createPayment({ merchant_uid: 'm-deposit', amount: 1000, status: 'ready', pay_method: 'vbank', webhook: false });
    await control.advanceClock(30);
    const deposited = await control.setStatus(vbank.imp_uid, 'paid');
    expect(definitionValidator('PaymentAnnotation')(deposited)).toEqual([]);
    expect(deposited.status).toBe('paid');
    expect(deposited.paid_at).toBeGreaterThanOrEqual(vbank.started_at + 30);
    await waitFor(async () => receiver.received.length >= 1);
    expect(receiver.json()).toEqual([{ imp_uid: vbank.imp_uid, merchant_uid: 'm-deposit', status: 'paid' }]);
    const other = await control.createPayment({ merchant_uid: 'm-deposit-2', amount: 1000, status: 'ready', pay_method: 'vbank', webhook: false });
    await call('DELETE', `/vbanks/${other.imp_uid}`);
    await expect(control.setStatus(other.imp_uid, 'paid')).rejects.toThrow(/409/);
  });
});

describe('live by default, exact decimals, run-time options, console cancels', () => {
  test('a payment is live unless asked for a test channel; live ones are visible without include_sandbox', async () => {
    const live = await control.createPayment({ merchant_uid: 'm-live', amount: 1000, webhook: false });
    const testChannel = await control.createPayment({ merchant_uid: 'm-test', amount: 1000, sandbox: true, webhook: false });
    expect([live.sandbox, testChannel.sandbox]).toEqual([false, true]);
    expect((await call('GET', `/payments/${live.imp_uid}`)).status).toBe(200);
    expect((await call('GET', `/payments/${testChannel.imp_uid}`)).status).toBe(404);
    expect((await listing('paid')).json.response.list.map((p: { sandbox: boolean }) => p.sandbox).sort()).toEqual([false, true]);
  });

  test('decimal cancels over JSON and form bodies sum exactly: 0.40 + 10.00 is 10.4, 0.1 + 0.2 is 0.3', async () => {
    const usd = await control.createPayment({ merchant_uid: 'm-usd', amount: 10.4, currency: 'USD', webhook: false });
    const first = await call('POST', '/payments/cancel', { body: { imp_uid: usd.imp_uid, amount: 0.4, checksum: 10.4 } });
    expect(first.json.response).toMatchObject({ status: 'paid', cancel_amount: 0.4 });
    const rest = await call('POST', '/payments/cancel', { form: { imp_uid: usd.imp_uid, amount: '10.00', checksum: '10.00' } });
    expect(definitionValidator('PaymentResponse')(rest.json)).toEqual([]);
    expect(rest.json.response).toMatchObject({ status: 'cancelled', amount: 10.4, cancel_amount: 10.4 });
    expect(rest.json.response.cancel_history.map((c: { amount: number }) => c.amount)).toEqual([0.4, 10]);

    const small = await control.createPayment({ merchant_uid: 'm-small', amount: 0.3, currency: 'USD', webhook: false });
    await call('POST', '/payments/cancel', { body: { imp_uid: small.imp_uid, amount: 0.1, checksum: 0.3 } });
    const second = await call('POST', '/payments/cancel', { body: { imp_uid: small.imp_uid, amount: 0.2, checksum: 0.2 } });
    expect(second.json.response).toMatchObject({ status: 'cancelled', cancel_amount: 0.3 });
  });

  test('partialCancelStatus is switchable at run time, validated, and restored by reset', async () => {
    expect(await control.options()).toEqual({ partialCancelStatus: 'paid', includeSandboxFilter: true });
    await expect(control.setOptions({ partialCancelStatus: 'refunded' as never })).rejects.toThrow(/400/);
    expect(await control.setOptions({ partialCancelStatus: 'cancelled' })).toEqual({ partialCancelStatus: 'cancelled', includeSandboxFilter: true });
    const p = await control.createPayment({ merchant_uid: 'm-switch', amount: 5000, webhook: false });
    const partial = await call('POST', '/payments/cancel', { body: { imp_uid: p.imp_uid, amount: 1000, checksum: 5000 } });
    expect(partial.json.response).toMatchObject({ status: 'cancelled', cancel_amount: 1000 });
    expect(ids(await listing('cancelled'))).toEqual([p.imp_uid]);
    expect(ids(await listing('paid'))).toEqual([]);
    const rest = await call('POST', '/payments/cancel', { body: { imp_uid: p.imp_uid, amount: 4000, checksum: 4000 } });
    expect(rest.json.response).toMatchObject({ status: 'cancelled', cancel_amount: 5000 });
    await control.reset();
    expect(await control.options()).toEqual({ partialCancelStatus: 'paid', includeSandboxFilter: true });
  });

  test('a console cancel takes an optional amount, sends the cancelled webhook, and refuses more than the balance', async () => {
    const p = await control.createPayment({ merchant_uid: 'm-console', amount: 5000, webhook: false });
    const partial = await control.consoleCancel(p.imp_uid, 1500.5);
    expect(definitionValidator('PaymentAnnotation')(partial)).toEqual([]);
    expect(partial).toMatchObject({ status: 'paid', cancel_amount: 1500.5 });
    await expect(control.consoleCancel(p.imp_uid, 3499.6)).rejects.toThrow(/400/);
    const full = await control.consoleCancel(p.imp_uid);
    expect(full).toMatchObject({ status: 'cancelled', cancel_amount: 5000 });
    expect(full.cancel_history.map((c) => c.amount)).toEqual([1500.5, 3499.5]);
    await waitFor(async () => receiver.received.length >= 2);
    expect(receiver.json()).toEqual([
      { imp_uid: p.imp_uid, merchant_uid: 'm-console', status: 'cancelled' },
      { imp_uid: p.imp_uid, merchant_uid: 'm-console', status: 'cancelled' },
    ]);
    await expect(control.consoleCancel(p.imp_uid)).rejects.toThrow(/400/);
  });
});
