import { definitionValidator, responseValidator } from '../../support/portone-openapi';
import { callPortOneV1, portOneV1Token, useV1ConformanceSimulator } from '../../support/portone-v1-conformance';
import { waitFor } from '../../support/wait';

/** Conformance of the simulator with PortOne's V1 documentation, over HTTP, checked against PortOne's Swagger (test/fixtures/portone). */
const KEY = 'conf-key';
const SECRET = 'conf-secret';
const { sim, control, receiver } = useV1ConformanceSimulator({ impKey: KEY, impSecret: SECRET });

const call = (method: string, path: string, options?: Parameters<typeof callPortOneV1>[3]) => callPortOneV1(sim.url, method, path, options);
const token = () => portOneV1Token(sim.url, { impKey: KEY, impSecret: SECRET });

const bearer = async () => ({ authorization: `Bearer ${await token()}` });

describe('A0 envelope, statuses and auth header', () => {
  test('successes are {code:0, message:null, response}; JSON and form bodies both work', async () => {
    const json = await call('POST', '/users/getToken', { body: { imp_key: KEY, imp_secret: SECRET } });
    const form = await call('POST', '/users/getToken', { form: { imp_key: KEY, imp_secret: SECRET } });
    for (const r of [json, form]) {
      expect(r.status).toBe(200);
      expect(r.json).toMatchObject({ code: 0, message: null });
      expect(responseValidator('post', '/users/getToken')(r.json)).toEqual([]);
    }
  });

  test('the token is accepted as "Bearer t", raw "t" and X-ImpTokenHeader; Authorization wins', async () => {
    const t = await token();
    const p = await control.createPayment({ merchant_uid: 'm-auth', amount: 1000 });
    const variants: Array<Record<string, string>> = [{ authorization: `Bearer ${t}` }, { authorization: t }, { 'x-imptokenheader': t }];
    for (const headers of variants) {
      expect((await call('GET', `/payments/${p.imp_uid}?include_sandbox=true`, { headers })).status).toBe(200);
    }
    const conflicting = { authorization: 'wrong', 'x-imptokenheader': t };
    expect((await call('GET', `/payments/${p.imp_uid}?include_sandbox=true`, { headers: conflicting })).status).toBe(401);
  });

  test('missing or unknown tokens are 401 with an envelope', async () => {
    const variants: Array<Record<string, string>> = [{}, { authorization: 'Bearer nope' }];
    for (const headers of variants) {
      const r = await call('GET', '/payments/imp_x', { headers });
      expect(r.status).toBe(401);
      expect(r.json).toMatchObject({ code: -1, response: null });
    }
  });
});

describe('A1 getToken', () => {
  afterEach(() => control.freezeClock(false));

  test('the same token and expiry while valid; +300 s within the last minute; a new one after expiry', async () => {
    // Frozen, so the wall clock cannot tick a second between two calls and shift the exact sums below.
    await control.freezeClock(true);
    const first = (await call('POST', '/users/getToken', { body: { imp_key: KEY, imp_secret: SECRET } })).json.response;
    expect(first.expired_at - first.now).toBe(1800);
    await control.advanceClock(600);
    const again = (await call('POST', '/users/getToken', { body: { imp_key: KEY, imp_secret: SECRET } })).json.response;
    expect(again).toMatchObject({ access_token: first.access_token, expired_at: first.expired_at });
    expect(again.now).toBe(first.now + 600);
    await control.advanceClock(1800 - 600 - 30);
    const extended = (await call('POST', '/users/getToken', { body: { imp_key: KEY, imp_secret: SECRET } })).json.response;
    expect(extended).toMatchObject({ access_token: first.access_token, expired_at: first.expired_at + 300 });
    await control.advanceClock(400);
    const expiredUse = await call('GET', '/payments/imp_x', { headers: { authorization: first.access_token } });
    expect(expiredUse.status).toBe(401);
    const fresh = (await call('POST', '/users/getToken', { body: { imp_key: KEY, imp_secret: SECRET } })).json.response;
    expect(fresh.access_token).not.toBe(first.access_token);
    expect(fresh.expired_at - fresh.now).toBe(1800);
  });

  test('a frozen clock stands still while the wall clock ticks, keeps its moves, and is back on its course unfrozen', async () => {
    const { now: running } = await control.advanceClock(0);
    const { now: frozenAt } = await control.freezeClock(true);
    expect(frozenAt - running).toBeLessThanOrEqual(1);
    await new Promise((resolve) => setTimeout(resolve, 1100));
    expect((await control.advanceClock(0)).now).toBe(frozenAt);
    expect((await control.advanceClock(60)).now).toBe(frozenAt + 60);
    const { now: unfrozen } = await control.freezeClock(false);
    // 1.1 s of wall clock passed while frozen: the running clock shows it, plus the 60 s move.
    expect(unfrozen).toBeGreaterThanOrEqual(frozenAt + 61);
    expect(unfrozen).toBeLessThanOrEqual(frozenAt + 70);
    await control.advanceClock(-60);
  });

  test('wrong credentials are 401', async () => {
    const r = await call('POST', '/users/getToken', { body: { imp_key: KEY, imp_secret: 'nope' } });
    expect(r.status).toBe(401);
    expect(r.json.response).toBeNull();
  });
});

describe('A2 GET /payments/{imp_uid}', () => {
  test('the full Payment with V1 conventions, valid against PaymentResponse', async () => {
    const p = await control.createPayment({ merchant_uid: 'm-a2', amount: 15000 });
    const r = await call('GET', `/payments/${p.imp_uid}?include_sandbox=true`, { headers: await bearer() });
    expect(r.status).toBe(200);
    expect(responseValidator('get', '/payments/{imp_uid}')(r.json)).toEqual([]);
    expect(r.json.response).toMatchObject({ status: 'paid', amount: 15000, cancel_amount: 0, currency: 'KRW', failed_at: 0, cancelled_at: 0, cancel_reason: null });
    expect(Object.keys(r.json.response)).toEqual([...Object.keys(r.json.response)].sort());
  });

  test('the schema check itself catches a wrong field type or a missing required field', async () => {
    const p = await control.createPayment({ merchant_uid: 'm-check', amount: 15000 });
    const r = await call('GET', `/payments/${p.imp_uid}?include_sandbox=true`, { headers: await bearer() });
    const check = responseValidator('get', '/payments/{imp_uid}');
    expect(check({ ...r.json, response: { ...r.json.response, amount: '15000' } }).join()).toMatch(/amount/);
    const { imp_uid: _dropped, ...withoutImpUid } = r.json.response;
    expect(check({ ...r.json, response: withoutImpUid }).join()).toMatch(/imp_uid/);
  });

  test('an unknown imp_uid is 404 with the envelope', async () => {
    const r = await call('GET', '/payments/imp_000000000000', { headers: await bearer() });
    expect(r.status).toBe(404);
    expect(r.json).toEqual({ code: -1, message: '존재하지 않는 결제정보입니다.', response: null });
  });

  test('sandbox payments are hidden unless include_sandbox=true (switch on)', async () => {
    const p = await control.createPayment({ merchant_uid: 'm-sandbox', amount: 1000, sandbox: true });
    expect((await call('GET', `/payments/${p.imp_uid}`, { headers: await bearer() })).status).toBe(404);
    expect((await call('GET', `/payments/${p.imp_uid}?include_sandbox=true`, { headers: await bearer() })).status).toBe(200);
  });

  test('late transitions: failed → paid, driven by the control API', async () => {
    const p = await control.createPayment({ merchant_uid: 'm-late', amount: 1000, status: 'failed' });
    expect(p).toMatchObject({ status: 'failed', paid_at: 0 });
    const paid = await control.setStatus(p.imp_uid, 'paid');
    expect(paid.status).toBe('paid');
    expect(paid.paid_at).toBeGreaterThan(0);
  });
});

describe('A3 find and findAll by merchant_uid', () => {
  test('newest started first, optional status filter, 404 when none', async () => {
    const failed = await control.createPayment({ merchant_uid: 'm-find', amount: 1000, status: 'failed' });
    await control.advanceClock(5);
    const paid = await control.createPayment({ merchant_uid: 'm-find', amount: 1000 });
    const headers = await bearer();
    expect((await call('GET', '/payments/find/m-find', { headers })).json.response.imp_uid).toBe(paid.imp_uid);
    expect((await call('GET', '/payments/find/m-find/failed', { headers })).json.response.imp_uid).toBe(failed.imp_uid);
    expect((await call('GET', '/payments/find/m-find?sorting=started', { headers })).json.response.imp_uid).toBe(failed.imp_uid);
    expect((await call('GET', '/payments/find/m-find/cancelled', { headers })).status).toBe(404);
    const all = await call('GET', '/payments/findAll/m-find', { headers });
    expect(responseValidator('get', '/payments/findAll/{merchant_uid}/{payment_status}')(all.json)).toEqual([]);
    expect(all.json.response).toMatchObject({ total: 2, previous: 0, next: 0 });
    expect(all.json.response.list.map((x: { imp_uid: string }) => x.imp_uid)).toEqual([paid.imp_uid, failed.imp_uid]);
    expect((await call('GET', '/payments/findAll/m-nothing', { headers })).status).toBe(404);
  });
});

describe('A4 POST /payments/cancel', () => {
  test('partial then full cancel: amount, checksum, history, cumulative cancel_amount, status switch', async () => {
    const p = await control.createPayment({ merchant_uid: 'm-cancel', amount: 10000 });
    const headers = await bearer();
    const partial = await call('POST', '/payments/cancel', { headers, body: { imp_uid: p.imp_uid, amount: 3000, checksum: 10000, reason: 'partial' } });
    expect(responseValidator('post', '/payments/cancel')(partial.json)).toEqual([]);
    expect(partial.json.response).toMatchObject({ status: 'paid', cancel_amount: 3000, cancel_reason: 'partial' });
    expect(partial.json.response.cancel_history).toHaveLength(1);
    expect(definitionValidator('PaymentCancelAnnotation')(partial.json.response.cancel_history[0])).toEqual([]);
    const stale = await call('POST', '/payments/cancel', { headers, body: { imp_uid: p.imp_uid, amount: 1000, checksum: 10000 } });
    expect(stale.json).toMatchObject({ code: -1, response: null });
    const rest = await call('POST', '/payments/cancel', { headers, form: { imp_uid: p.imp_uid, checksum: '7000', reason: 'rest' } });
    expect(rest.json.response).toMatchObject({ status: 'cancelled', cancel_amount: 10000 });
    expect(rest.json.response.cancel_history.map((c: { amount: number }) => c.amount)).toEqual([3000, 7000]);
    const again = await call('POST', '/payments/cancel', { headers, body: { imp_uid: p.imp_uid } });
    expect(again.status).toBe(200);
    expect(again.json).toEqual({ code: 1, message: '이미 전액취소된 주문입니다.', response: null });
  });

  test('amount 0 means the whole balance; too large is refused; imp_uid wins over merchant_uid', async () => {
    const p = await control.createPayment({ merchant_uid: 'm-zero', amount: 5000 });
    const headers = await bearer();
    const tooMuch = await call('POST', '/payments/cancel', { headers, body: { imp_uid: p.imp_uid, amount: 6000 } });
    expect(tooMuch.json.code).not.toBe(0);
    const wrongImp = await call('POST', '/payments/cancel', { headers, body: { imp_uid: 'imp_missing', merchant_uid: 'm-zero' } });
    expect(wrongImp.json).toEqual({ code: 1, message: '취소할 결제건이 존재하지 않습니다.', response: null });
    const byMerchant = await call('POST', '/payments/cancel', { headers, body: { merchant_uid: 'm-zero', amount: 0 } });
    expect(byMerchant.json.response).toMatchObject({ status: 'cancelled', cancel_amount: 5000 });
  });

  test('not-paid payments and vbank refunds without an account are refused', async () => {
    const headers = await bearer();
    const ready = await control.createPayment({ merchant_uid: 'm-ready', amount: 1000, status: 'ready' });
    expect((await call('POST', '/payments/cancel', { headers, body: { imp_uid: ready.imp_uid } })).json.code).not.toBe(0);
    const vbank = await control.createPayment({ merchant_uid: 'm-vbank', amount: 1000, pay_method: 'vbank' });
    expect((await call('POST', '/payments/cancel', { headers, body: { imp_uid: vbank.imp_uid } })).json.code).not.toBe(0);
    const ok = await call('POST', '/payments/cancel', {
      headers,
      body: { imp_uid: vbank.imp_uid, refund_holder: '홍길동', refund_bank: '004', refund_account: '1234567890' },
    });
    expect(ok.json.code).toBe(0);
  });

  test('an API cancel sends a webhook only with enable_webhook', async () => {
    const quiet = await control.createPayment({ merchant_uid: 'm-quiet', amount: 1000, webhook: false });
    const loud = await control.createPayment({ merchant_uid: 'm-loud', amount: 1000, webhook: false });
    const headers = await bearer();
    await call('POST', '/payments/cancel', { headers, body: { imp_uid: quiet.imp_uid } });
    await call('POST', '/payments/cancel', { headers, body: { imp_uid: loud.imp_uid, enable_webhook: true } });
    await waitFor(async () => receiver.received.length >= 1);
    await new Promise((r) => setTimeout(r, 100));
    expect(receiver.json()).toEqual([{ imp_uid: loud.imp_uid, merchant_uid: 'm-loud', status: 'cancelled' }]);
  });
});

describe('A5 prepare', () => {
  test('POST, GET and PUT; PUT on an unknown merchant_uid is 404; the payment window refuses a different amount', async () => {
    const headers = await bearer();
    const created = await call('POST', '/payments/prepare', { headers, body: { merchant_uid: 'm-prep', amount: 20000 } });
    expect(created.json.response).toMatchObject({ merchant_uid: 'm-prep', amount: 20000 });
    expect((await call('GET', '/payments/prepare/m-prep', { headers })).json.response.amount).toBe(20000);
    expect((await call('PUT', '/payments/prepare', { headers, body: { merchant_uid: 'm-prep', amount: 25000 } })).json.response.amount).toBe(25000);
    expect((await call('PUT', '/payments/prepare', { headers, body: { merchant_uid: 'm-none', amount: 1 } })).status).toBe(404);
    await expect(control.createPayment({ merchant_uid: 'm-prep', amount: 100 })).rejects.toThrow(/409/);
    expect((await control.createPayment({ merchant_uid: 'm-prep', amount: 25000 })).status).toBe('paid');
  });
});

describe('A7 webhooks', () => {
  test('paid fires a notification (JSON or form); a failed payment fires none; console cancel fires cancelled', async () => {
    const paid = await control.createPayment({ merchant_uid: 'm-hook', amount: 1000 });
    await control.createPayment({ merchant_uid: 'm-fail', amount: 1000, status: 'failed' });
    await control.createPayment({ merchant_uid: 'm-form', amount: 1000, webhook_content_type: 'form' });
    await waitFor(async () => receiver.received.length >= 2);
    await control.consoleCancel(paid.imp_uid);
    await waitFor(async () => receiver.received.length >= 3);
    const bodies = receiver.received.map((r) => (r.contentType?.startsWith('application/json') ? JSON.parse(r.body.toString()) : Object.fromEntries(new URLSearchParams(r.body.toString()))));
    expect(bodies).toEqual(
      expect.arrayContaining([
        { imp_uid: paid.imp_uid, merchant_uid: 'm-hook', status: 'paid' },
        expect.objectContaining({ merchant_uid: 'm-form', status: 'paid' }),
        { imp_uid: paid.imp_uid, merchant_uid: 'm-hook', status: 'cancelled' },
      ]),
    );
    expect(bodies.some((b) => b.merchant_uid === 'm-fail')).toBe(false);
    expect(receiver.received.some((r) => r.contentType === 'application/x-www-form-urlencoded')).toBe(true);
  });

  test('delayed and duplicated deliveries', async () => {
    await control.sendWebhook({ url: receiver.url, imp_uid: 'imp_1', merchant_uid: 'm', status: 'paid', duplicate: true, delayMs: 50, wait: true });
    expect(receiver.received).toHaveLength(2);
    expect((await control.ledger()).webhooks.map((w) => w.httpStatus)).toEqual([200, 200]);
  });
});
