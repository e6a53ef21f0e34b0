import fetch from 'node-fetch';
import { startTestApp, type TestApp } from '../support/test-app';

let t: TestApp;
beforeAll(async () => {
  t = await startTestApp();
});
afterAll(async () => {
  await t.close();
});

async function post(body: string, headers: Record<string, string> = { 'content-type': 'application/json' }) {
  const response = await fetch(t.url, { method: 'POST', headers, body });
  const text = await response.text();
  return { status: response.status, text, json: safeJson(text) };
}
function safeJson(text: string): any {
  try {
    return JSON.parse(text);
  } catch {
    return undefined;
  }
}

/** Nothing a client sends may produce a 500 or leak internals. */
function expectNoLeak(text: string) {
  expect(text).not.toMatch(/\bat \S+ \(|node_modules|stacktrace|select |insert |TEST_JWT|secret/i);
}

describe('malformed requests get a 4xx or a coded GraphQL error, never a 500 or a stack', () => {
  test('bad JSON', async () => {
    const r = await post('{"query": "{ events { id } ');
    expect(r.status).toBeGreaterThanOrEqual(400);
    expect(r.status).toBeLessThan(500);
    expectNoLeak(r.text);
  });

  test('unknown field', async () => {
    const r = await post(JSON.stringify({ query: '{ events { id priceInDollars } }' }));
    expect(r.status).toBe(400);
    expect(r.json.errors[0].extensions.code).toBe('GRAPHQL_VALIDATION_FAILED');
    expect(r.json.errors[0].message).toContain('priceInDollars');
    expectNoLeak(r.text);
  });

  test('wrong variable type names the variable', async () => {
    const r = await post(
      JSON.stringify({ query: 'query($id: ID!) { event(id: $id) { id } }', variables: { id: { nested: true } } }),
    );
    expect(r.status).toBe(400);
    expect(r.json.errors[0].extensions.code).toBe('BAD_USER_INPUT');
    expect(r.json.errors[0].message).toContain('$id');
  });

  test('wrong argument type inside an input variable names the field path', async () => {
    const token = await t.tokenFor('admin', ['admin']);
    const r = await post(
      JSON.stringify({
        query: 'mutation($input: CreateEventInput!) { createEvent(input: $input) { id } }',
        variables: { input: { title: 'x', startsAt: '2099-01-01T00:00:00Z', seats: [{ label: 'A', price: 'free' }] } },
      }),
      { 'content-type': 'application/json', authorization: `Bearer ${token}` },
    );
    expect(r.status).toBe(400);
    expect(r.json.errors[0].extensions.code).toBe('BAD_USER_INPUT');
    expect(r.json.errors[0].message).toContain('input.seats[0].price');
  });

  test('a wrong literal type in the query is a validation error with its location', async () => {
    const r = await post(JSON.stringify({ query: '{ event(id: 42.5) { id } }' }));
    expect(r.status).toBe(400);
    expect(r.json.errors[0].extensions.code).toBe('GRAPHQL_VALIDATION_FAILED');
    expect(r.json.errors[0].locations).toEqual([{ line: 1, column: 13 }]);
  });

  test('a value out of range names the field path', async () => {
    const token = await t.tokenFor('admin', ['admin']);
    const r = await post(
      JSON.stringify({
        query: `mutation { createEvent(input: { title: "x", startsAt: "2099-01-01T00:00:00Z", seats: [{ label: "A", price: 5000 }, { label: "B", price: -1 }] }) { id } }`,
      }),
      { 'content-type': 'application/json', authorization: `Bearer ${token}` },
    );
    expect(r.status).toBe(200);
    expect(r.json.errors[0].extensions.code).toBe('BAD_USER_INPUT');
    expect(r.json.errors[0].message).toContain('seats[1].price');
    expectNoLeak(r.text);
  });

  test('duplicate seat labels and past start times are refused with the field named', async () => {
    const token = await t.tokenFor('admin', ['admin']);
    const dup = await post(
      JSON.stringify({
        query: `mutation { createEvent(input: { title: "x", startsAt: "2099-01-01T00:00:00Z", seats: [{ label: "A", price: 5000 }, { label: "A", price: 6000 }] }) { id } }`,
      }),
      { 'content-type': 'application/json', authorization: `Bearer ${token}` },
    );
    expect(dup.json.errors[0]).toMatchObject({ extensions: { code: 'BAD_USER_INPUT', field: 'input.seats[1].label' } });
    const past = await post(
      JSON.stringify({
        query: `mutation { createEvent(input: { title: "x", startsAt: "2001-01-01T00:00:00Z", seats: [{ label: "A", price: 5000 }] }) { id } }`,
      }),
      { 'content-type': 'application/json', authorization: `Bearer ${token}` },
    );
    expect(past.json.errors[0]).toMatchObject({ extensions: { code: 'BAD_USER_INPUT', field: 'input.startsAt' } });
  });

  test('missing token on a buyer operation is UNAUTHENTICATED', async () => {
    const r = await post(JSON.stringify({ query: '{ myReservations { id } }' }));
    expect(r.status).toBe(401);
    expect(r.json.errors[0].extensions.code).toBe('UNAUTHENTICATED');
  });

  test('a forged or malformed token is refused with 401 UNAUTHENTICATED', async () => {
    const forged = await post(JSON.stringify({ query: '{ events { id } }' }), {
      'content-type': 'application/json',
      authorization: 'Bearer eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiJ4In0.c2lnbmF0dXJl',
    });
    expect(forged.status).toBe(401);
    expect(forged.json.errors[0].extensions.code).toBe('UNAUTHENTICATED');
    const basic = await post(JSON.stringify({ query: '{ events { id } }' }), {
      'content-type': 'application/json',
      authorization: 'Basic dXNlcjpwYXNz',
    });
    expect(basic.status).toBe(401);
    expectNoLeak(basic.text);
  });

  test('an expired token says so', async () => {
    const expired = await t.app.identity.sign('buyer', { expiresIn: '-1m' });
    const r = await post(JSON.stringify({ query: '{ myReservations { id } }' }), {
      'content-type': 'application/json',
      authorization: `Bearer ${expired}`,
    });
    expect(r.status).toBe(401);
    expect(r.json.errors[0].message).toMatch(/expired/);
  });

  test('a non-JSON content type without a CSRF header is refused', async () => {
    const r = await post('query=%7Bevents%7Bid%7D%7D', { 'content-type': 'text/plain' });
    expect(r.status).toBeGreaterThanOrEqual(400);
    expect(r.status).toBeLessThan(500);
  });

  test('an empty body and a missing query are 400s', async () => {
    const empty = await post('');
    expect(empty.status).toBeGreaterThanOrEqual(400);
    expect(empty.status).toBeLessThan(500);
    const noQuery = await post(JSON.stringify({ variables: {} }));
    expect(noQuery.status).toBe(400);
  });

  test('an oversized body is a 413', async () => {
    const r = await post(JSON.stringify({ query: `{ events { id } } # ${'x'.repeat(300 * 1024)}` }));
    expect(r.status).toBe(413);
  });

  test('a fault inside a resolver is masked as INTERNAL_SERVER_ERROR', async () => {
    // A closed connection pool is the kind of fault a client must never see the details of.
    // Only the events query fails: anything else running in the process meanwhile (the job worker) is untouched.
    const driver = t.orm.em.getDriver();
    const find = driver.find.bind(driver);
    const spy = jest.spyOn(driver, 'find').mockImplementation(((entityName: string, ...rest: unknown[]) =>
      entityName === 'Event'
        ? Promise.reject(new Error('relation "event" does not exist at select * from "event" password=hunter2'))
        : (find as (...args: unknown[]) => Promise<unknown>)(entityName, ...rest)) as never);
    const r = await post(JSON.stringify({ query: '{ events { id } }' }));
    spy.mockRestore();
    expect(r.json.errors[0]).toMatchObject({ message: 'Internal server error', extensions: { code: 'INTERNAL_SERVER_ERROR' } });
    expect(r.text).not.toContain('hunter2');
    expect(r.text).not.toContain('relation');
  });
});

describe('health', () => {
  test('/healthz and /readyz', async () => {
    const base = t.url.replace(/\/graphql$/, '');
    expect((await fetch(`${base}/healthz`)).status).toBe(200);
    const ready = await fetch(`${base}/readyz`);
    expect(ready.status).toBe(200);
    expect(await ready.json()).toEqual({ status: 'ready' });
  });
});
