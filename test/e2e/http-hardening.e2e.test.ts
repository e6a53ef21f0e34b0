import net from 'node:net';
import { Writable } from 'node:stream';
import fetch from 'node-fetch';
import pino from 'pino';
import { CancelReservationDocument, HoldSeatDocument } from '../generated/graphql';
import { createEventViaApi } from '../support/fixtures';
import { startTestApp, type TestApp } from '../support/test-app';

/** Everything the app logs, one parsed pino line per entry. */
function capturingLogger() {
  const lines: Array<{ level: number; msg: string; err?: { stack?: string } }> = [];
  const stream = new Writable({
    write(chunk, _encoding, done) {
      for (const line of String(chunk).split('\n').filter(Boolean)) lines.push(JSON.parse(line));
      done();
    },
  });
  return { logger: pino({ level: 'info' }, stream), lines };
}

async function post(url: string, body: unknown, headers: Record<string, string> = {}) {
  const response = await fetch(url, {
    method: 'POST',
    headers: { 'content-type': 'application/json', ...headers },
    body: typeof body === 'string' ? body : JSON.stringify(body),
  });
  const text = await response.text();
  let json: any;
  try {
    json = JSON.parse(text);
  } catch {
    json = undefined;
  }
  return { status: response.status, headers: response.headers, text, json };
}

/** Writes `request` as raw bytes (no client fills in a Host for us) and resolves with all the server sent. */
function rawExchange(port: number, request: string): Promise<string> {
  return new Promise((resolve, reject) => {
    const socket = net.connect(port, '127.0.0.1', () => socket.end(request));
    let received = '';
    socket.on('data', (chunk) => (received += chunk.toString('latin1')));
    socket.on('close', () => resolve(received));
    socket.on('error', reject);
    socket.setTimeout(10_000, () => socket.destroy(new Error('no answer within 10 s')));
  });
}

/**
 * Sends the head, then `drip` one byte every `everyMs` and never finishes; resolves with what the
 * server answered and how long it let the connection live.
 */
function slowClient(port: number, head: string, drip: string, everyMs: number): Promise<{ received: string; openMs: number }> {
  return new Promise((resolve, reject) => {
    const started = Date.now();
    let received = '';
    let sent = 0;
    const socket = net.connect(port, '127.0.0.1', () => socket.write(head));
    const timer = setInterval(() => {
      if (!socket.destroyed && sent < drip.length) socket.write(drip[sent++]);
    }, everyMs);
    socket.on('data', (chunk) => (received += chunk.toString('latin1')));
    socket.on('error', () => undefined);
    socket.on('close', () => {
      clearInterval(timer);
      resolve({ received, openMs: Date.now() - started });
    });
    setTimeout(() => {
      clearInterval(timer);
      socket.destroy();
      reject(new Error('the server kept a slow connection open for 15 s'));
    }, 15_000).unref();
  });
}

const portOf = (t: TestApp) => Number(new URL(t.url).port);
const NUL = '\u0000';
const METRICS_TOKEN = 'metrics-token-0123456789abcdef';

describe('the HTTP edge with production-like settings', () => {
  let t: TestApp;
  let base: string;
  const captured = capturingLogger();
  beforeAll(async () => {
    t = await startTestApp({
      env: { HTTP_REQUEST_TIMEOUT_MS: '1000', HTTP_HEADERS_TIMEOUT_MS: '1000', METRICS_TOKEN },
      logger: captured.logger,
      startWorker: false,
    });
    base = t.url.replace(/\/graphql$/, '');
  });
  afterAll(async () => {
    await t.close();
  });
  beforeEach(async () => {
    await t.reset();
  });

  describe('client mistakes are 4xx, never 5xx', () => {
    test('a GraphQL syntax error is 400 GRAPHQL_PARSE_FAILED', async () => {
      const r = await post(t.url, { query: '{ events { id ' });
      expect(r.status).toBe(400);
      expect(r.json.errors[0].extensions.code).toBe('GRAPHQL_PARSE_FAILED');
      expect(r.json.errors[0].locations).toEqual([{ line: 1, column: 15 }]);
    });

    test('a query over the token limit is 400 GRAPHQL_PARSE_FAILED, and one just under it is not refused for size', async () => {
      const over = await post(t.url, { query: `{ events { ${'id '.repeat(3000)} } }` });
      expect(over.status).toBe(400);
      expect(over.json.errors[0]).toMatchObject({ extensions: { code: 'GRAPHQL_PARSE_FAILED' } });
      expect(over.json.errors[0].message).toMatch(/3000 tokens/);
      const under = await post(t.url, { query: `{ events { ${'id '.repeat(100)} } }` });
      expect(under.status).toBe(200);
    });

    test.each([
      ['POST /graphql HTTP/1.0', 'content-type: application/json\r\ncontent-length: 24\r\n\r\n{"query":"{__typename}"}'],
      ['GET /graphql?query=%7B__typename%7D HTTP/1.0', 'apollo-require-preflight: 1\r\n\r\n'],
      ['POST /webhooks/portone HTTP/1.0', 'content-type: application/json\r\ncontent-length: 20\r\n\r\n{"imp_uid":"imp_1"}'],
    ])('%s without a Host header is 400', async (requestLine, rest) => {
      const answer = await rawExchange(portOf(t), `${requestLine}\r\n${rest}`);
      expect(answer).toMatch(/^HTTP\/1\.1 400 /);
      expect(answer).toContain('Host');
    });

    test('an unparsable Host header is 400', async () => {
      const answer = await rawExchange(
        portOf(t),
        'POST /graphql HTTP/1.1\r\nhost: [oops\r\nconnection: close\r\ncontent-type: application/json\r\ncontent-length: 24\r\n\r\n{"query":"{__typename}"}',
      );
      expect(answer).toMatch(/^HTTP\/1\.1 400 /);
    });

    test('a persisted query whose hash does not match is 400 BAD_REQUEST and logs no error', async () => {
      const before = captured.lines.length;
      const r = await post(t.url, {
        query: '{ events { id } }',
        extensions: { persistedQuery: { version: 1, sha256Hash: '0'.repeat(64) } },
      });
      expect(r.status).toBe(400);
      expect(r.json.errors[0]).toMatchObject({ message: 'provided sha does not match query', extensions: { code: 'BAD_REQUEST' } });
      const logged = captured.lines.slice(before);
      expect(logged.filter((line) => line.level >= 50)).toEqual([]);
      expect(logged.some((line) => line.err?.stack)).toBe(false);
    });

    test('bad JSON, wrong content types, a JSON array or scalar, and deeply nested variables are 4xx', async () => {
      const answers = await Promise.all([
        post(t.url, '{"query": "{ events'),
        post(t.url, '<query/>', { 'content-type': 'application/xml' }),
        post(t.url, 'query={events{id}}', { 'content-type': 'application/x-www-form-urlencoded' }),
        post(t.url, '[1, 2]'),
        post(t.url, '"{ events { id } }"'),
        post(t.url, { query: 'query($id: ID!) { event(id: $id) { id } }', variables: { id: JSON.parse(`${'['.repeat(2000)}${']'.repeat(2000)}`) } }),
        post(t.url, { query: '{ events { id } }', variables: 'x' }),
      ]);
      const serverErrors = answers.filter((answer) => answer.status < 400 || answer.status >= 500);
      expect(serverErrors.map((answer) => `${answer.status} ${answer.text.slice(0, 200)}`)).toEqual([]);
      expect(answers[5].json.errors[0]).toMatchObject({ extensions: { code: 'BAD_USER_INPUT' } });
    });
  });

  describe('NUL characters are refused as the client’s mistake', () => {
    test('in a variable: 400 BAD_USER_INPUT naming the variable path', async () => {
      const token = await t.tokenFor('buyer-nul');
      const r = await post(
        t.url,
        { query: 'mutation($input: HoldSeatInput!) { holdSeat(input: $input) { id } }', variables: { input: { seatId: `a${NUL}b` } } },
        { authorization: `Bearer ${token}` },
      );
      expect(r.status).toBe(400);
      expect(r.json.errors[0]).toMatchObject({ extensions: { code: 'BAD_USER_INPUT', field: '$input.seatId' } });
      expect(r.json.errors[0].message).toMatch(/NUL/);
    });

    test('in a literal argument of an admin mutation, which would otherwise reach the database', async () => {
      const token = await t.tokenFor('admin', ['admin']);
      const r = await post(
        t.url,
        {
          query: `mutation { createEvent(input: { title: "a\\u0000b", startsAt: "2099-01-01T00:00:00Z", seats: [{ label: "A", price: 1000 }] }) { id } }`,
        },
        { authorization: `Bearer ${token}` },
      );
      expect(r.status).toBe(400);
      expect(r.json.errors[0]).toMatchObject({ extensions: { code: 'BAD_USER_INPUT', field: 'input.title' } });
      const events = await t.gql('{ events { id } }');
      expect(events.data).toEqual({ events: [] });
    });

    test('in a webhook field: 400 naming the field, nothing queued', async () => {
      const r = await post(`${base}/webhooks/portone`, { imp_uid: 'imp_nul_1', merchant_uid: `bk_${NUL}`, status: 'paid' });
      expect(r.status).toBe(400);
      expect(r.json.error).toMatch(/^merchant_uid: .*NUL/);
      const form = await post(`${base}/webhooks/portone`, 'imp_uid=imp_nul_2&status=paid%00', {
        'content-type': 'application/x-www-form-urlencoded',
      });
      expect(form.status).toBe(400);
      expect(form.json.error).toMatch(/^status: /);
      const queued: unknown[] = await t.orm.em
        .getConnection()
        .execute(`select 1 from graphile_worker._private_jobs where payload::text like '%imp_nul_%'`);
      expect(queued).toEqual([]);
    });

    test('in a JWT subject: 401 UNAUTHENTICATED, not an internal error', async () => {
      const token = await t.tokenFor(`buyer${NUL}x`);
      const r = await post(t.url, { query: '{ myReservations { id } }' }, { authorization: `Bearer ${token}` });
      expect(r.status).toBe(401);
      expect(r.json.errors[0].extensions.code).toBe('UNAUTHENTICATED');
    });
  });

  describe('timeouts', () => {
    test('a body sent slower than the request timeout is cut off with 408', async () => {
      const head = 'POST /graphql HTTP/1.1\r\nhost: localhost\r\ncontent-type: application/json\r\ncontent-length: 200\r\n\r\n';
      const { received, openMs } = await slowClient(portOf(t), head, '{"query":"{ events { id } }"'.padEnd(200, ' '), 100);
      expect(received).toMatch(/^HTTP\/1\.1 408 /);
      expect(openMs).toBeGreaterThanOrEqual(900);
      expect(openMs).toBeLessThan(4000);
    });

    test('headers sent slower than the headers timeout are cut off', async () => {
      const { openMs } = await slowClient(portOf(t), 'POST /graphql HTTP/1.1\r\n', 'x-slow: '.padEnd(200, 'a'), 100);
      expect(openMs).toBeLessThan(4000);
    });

    test('a normal request on the same server is unaffected', async () => {
      const r = await post(t.url, { query: '{ events { id } }' });
      expect(r.status).toBe(200);
    });
  });

  test('standard security headers on API responses; the GraphQL landing page still loads', async () => {
    const api = await post(t.url, { query: '{ events { id } }' });
    expect(api.headers.get('x-content-type-options')).toBe('nosniff');
    expect(api.headers.get('x-frame-options')).toBe('SAMEORIGIN');
    expect(api.headers.get('strict-transport-security')).toMatch(/max-age=\d+/);
    expect(api.headers.get('referrer-policy')).toBe('no-referrer');
    const health = await fetch(`${base}/healthz`);
    expect(health.headers.get('content-security-policy')).toMatch(/default-src 'self'/);

    const landing = await fetch(t.url, { headers: { accept: 'text/html' } });
    expect(landing.status).toBe(200);
    expect(landing.headers.get('x-content-type-options')).toBe('nosniff');
    // GraphiQL from our own origin: scripts from here only, none inline (test/browser/graphql-ide.browser.test.ts).
    expect(landing.headers.get('content-security-policy')).toMatch(/script-src 'self'(;|$)/);
    expect(await landing.text()).toContain('/graphql-ide/graphiql.min.js');
    const get = await fetch(`${t.url}?query=${encodeURIComponent('{ events { id } }')}`, { headers: { 'apollo-require-preflight': '1' } });
    expect(get.status).toBe(200);
    expect(await get.json()).toEqual({ data: { events: [] } });
  });

  test('/metrics needs the bearer token when METRICS_TOKEN is set', async () => {
    expect((await fetch(`${base}/metrics`)).status).toBe(401);
    const wrong = await fetch(`${base}/metrics`, { headers: { authorization: 'Bearer not-the-token-at-all' } });
    expect(wrong.status).toBe(401);
    expect(wrong.headers.get('www-authenticate')).toMatch(/^Bearer/);
    const right = await fetch(`${base}/metrics`, { headers: { authorization: `Bearer ${METRICS_TOKEN}` } });
    expect(right.status).toBe(200);
    expect(await right.text()).toContain('booking_refunds');
  });
});

describe('/metrics on its own port', () => {
  test('METRICS_PORT moves /metrics off the public port', async () => {
    const t = await startTestApp({ env: { METRICS_PORT: '0' }, startWorker: false });
    try {
      const publicBase = t.url.replace(/\/graphql$/, '');
      expect((await fetch(`${publicBase}/metrics`)).status).toBe(404);
      const address = await t.app.metricsServer!.listen({ port: 0, host: '127.0.0.1' });
      const scraped = await fetch(`${address}/metrics`);
      expect(scraped.status).toBe(200);
      expect(await scraped.text()).toContain('booking_refunds');
    } finally {
      await t.close();
    }
  });
});

describe('rate limits and the hold cap', () => {
  let t: TestApp;
  let base: string;
  beforeAll(async () => {
    t = await startTestApp({
      env: {
        RATE_LIMIT_WEBHOOK_PER_IP: '3',
        RATE_LIMIT_ANONYMOUS_PER_IP: '5',
        RATE_LIMIT_HOLD_SEAT_PER_BUYER: '6',
        RATE_LIMIT_CONFIRM_PAYMENT_PER_BUYER: '3',
        RATE_LIMIT_WINDOW_MS: '60000',
        HOLD_MAX_PER_BUYER_PER_EVENT: '2',
      },
      startWorker: false,
    });
    base = t.url.replace(/\/graphql$/, '');
  });
  afterAll(async () => {
    await t.close();
  });

  const expectRetryAfter = (headers: { get(name: string): string | null }) => {
    const retryAfter = Number(headers.get('retry-after'));
    expect(retryAfter).toBeGreaterThanOrEqual(1);
    expect(retryAfter).toBeLessThanOrEqual(60);
  };

  test('webhooks: per IP, 429 with Retry-After past the limit', async () => {
    const statuses: number[] = [];
    for (let i = 0; i < 3; i++) statuses.push((await post(`${base}/webhooks/portone`, { imp_uid: `imp_rl_${i}` })).status);
    expect(statuses).toEqual([200, 200, 200]);
    const limited = await post(`${base}/webhooks/portone`, { imp_uid: 'imp_rl_3' });
    expect(limited.status).toBe(429);
    expectRetryAfter(limited.headers);
  });

  test('anonymous GraphQL: per IP; forged credentials count as anonymous, a valid token does not', async () => {
    const token = await t.tokenFor('anon-test-buyer');
    const statuses: number[] = [];
    for (let i = 0; i < 3; i++) statuses.push((await post(t.url, { query: '{ events { id } }' })).status);
    for (let i = 0; i < 2; i++) {
      statuses.push((await post(t.url, { query: '{ events { id } }' }, { authorization: 'Bearer forged.token.value' })).status);
    }
    expect(statuses).toEqual([200, 200, 200, 401, 401]);
    const limited = await post(t.url, { query: '{ events { id } }' });
    expect(limited.status).toBe(429);
    expectRetryAfter(limited.headers);
    const forged = await post(t.url, { query: '{ events { id } }' }, { authorization: 'Bearer forged.token.value' });
    expect(forged.status).toBe(429);
    const signedIn = await post(t.url, { query: '{ events { id } }' }, { authorization: `Bearer ${token}` });
    expect(signedIn.status).toBe(200);
  });

  test('holdSeat: per buyer, 429 RATE_LIMITED with Retry-After; another buyer is unaffected', async () => {
    const missingSeat = { input: { seatId: '00000000-0000-4000-8000-000000000000' } };
    const tokenA = await t.tokenFor('hold-rate-a');
    const tokenB = await t.tokenFor('hold-rate-b');
    const hold = (token: string) =>
      post(t.url, { query: 'mutation($input: HoldSeatInput!) { holdSeat(input: $input) { id } }', variables: missingSeat }, {
        authorization: `Bearer ${token}`,
      });
    for (let i = 0; i < 6; i++) expect((await hold(tokenA)).json.errors[0].extensions.code).toBe('NOT_FOUND');
    const limited = await hold(tokenA);
    expect(limited.status).toBe(429);
    expect(limited.json.errors[0]).toMatchObject({ extensions: { code: 'RATE_LIMITED' } });
    expect(limited.json.errors[0].message).toMatch(/holdSeat: at most 6 calls/);
    expectRetryAfter(limited.headers);
    expect((await hold(tokenB)).json.errors[0].extensions.code).toBe('NOT_FOUND');
  });

  test('confirmPayment: per buyer, 429 RATE_LIMITED with Retry-After', async () => {
    const token = await t.tokenFor('confirm-rate');
    const confirm = () =>
      post(
        t.url,
        {
          query: 'mutation($input: ConfirmPaymentInput!) { confirmPayment(input: $input) { __typename } }',
          variables: { input: { reservationId: '00000000-0000-4000-8000-000000000000', merchantUid: 'bk_x', paymentId: 'imp_x' } },
        },
        { authorization: `Bearer ${token}` },
      );
    for (let i = 0; i < 3; i++) {
      const r = await confirm();
      expect(r.status).toBeLessThan(429);
      expect(r.json.errors[0].extensions.code).not.toBe('RATE_LIMITED');
    }
    const limited = await confirm();
    expect(limited.status).toBe(429);
    expect(limited.json.errors[0]).toMatchObject({ extensions: { code: 'RATE_LIMITED' } });
    expectRetryAfter(limited.headers);
  });

  test('hold cap: a buyer holds at most HOLD_MAX_PER_BUYER_PER_EVENT seats of one event at a time', async () => {
    await t.reset();
    const seats = Array.from({ length: 4 }, (_, i) => ({ label: `C${i}`, price: 10000 }));
    const event = await createEventViaApi(t, seats);
    const other = await createEventViaApi(t, seats);
    const token = await t.tokenFor('cap-buyer');
    const hold = (seatId: string) => t.gql(HoldSeatDocument, { input: { seatId } }, { token });

    const first = await hold(event.seats[0].id);
    await hold(event.seats[1].id);
    const third = await hold(event.seats[2].id);
    expect(third.errors?.[0]).toMatchObject({ extensions: { code: 'HOLD_LIMIT_REACHED', limit: 2 } });
    expect(third.errors?.[0].message).toMatch(/at most 2/);
    expect((await hold(other.seats[0].id)).data?.holdSeat.status).toBe('HELD');

    await t.gql(CancelReservationDocument, { input: { reservationId: first.data!.holdSeat.id } }, { token });
    expect((await hold(event.seats[2].id)).data?.holdSeat.status).toBe('HELD');
  });

  test('hold cap under concurrency: parallel holds on different seats never exceed it', async () => {
    await t.reset();
    const event = await createEventViaApi(t, Array.from({ length: 5 }, (_, i) => ({ label: `P${i}`, price: 10000 })));
    const token = await t.tokenFor('cap-parallel-buyer');
    const results = await Promise.all(event.seats.map((seat) => t.gql(HoldSeatDocument, { input: { seatId: seat.id } }, { token })));
    const held = results.filter((r) => r.data?.holdSeat.status === 'HELD');
    const refused = results.filter((r) => r.errors?.[0].extensions?.code === 'HOLD_LIMIT_REACHED');
    expect([held.length, refused.length]).toEqual([2, 3]);
  });
});
