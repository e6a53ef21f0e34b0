import fetch from 'node-fetch';
import { CORS_PREFLIGHT_MAX_AGE_SECONDS } from '../../src/http/cors';
import { startTestApp, type TestApp } from '../support/test-app';

/** CORS_ORIGINS lets listed frontends call /graphql from the browser; nothing else gets CORS headers. */
const SHOP = 'https://shop.example';
const QUERY = JSON.stringify({ query: '{ events { id } }' });

function preflight(testApp: TestApp, origin: string, path = '/graphql') {
  return fetch(new URL(path, testApp.url).toString(), {
    method: 'OPTIONS',
    headers: { origin, 'access-control-request-method': 'POST', 'access-control-request-headers': 'authorization,content-type' },
  });
}

function post(testApp: TestApp, origin: string) {
  return fetch(testApp.url, { method: 'POST', headers: { origin, 'content-type': 'application/json' }, body: QUERY });
}

describe('with no CORS_ORIGINS (the default)', () => {
  let testApp: TestApp;
  beforeAll(async () => {
    testApp = await startTestApp({ startWorker: false });
  });
  afterAll(() => testApp.close());

  test('no answer allows another origin, preflight or not', async () => {
    const answer = await preflight(testApp, SHOP);
    expect(answer.headers.get('access-control-allow-origin')).toBeNull();
    const query = await post(testApp, SHOP);
    expect(query.headers.get('access-control-allow-origin')).toBeNull();
  });
});

describe('with CORS_ORIGINS listing two frontends', () => {
  let testApp: TestApp;
  beforeAll(async () => {
    testApp = await startTestApp({ startWorker: false, env: { CORS_ORIGINS: `${SHOP}, http://localhost:5173` } });
  });
  afterAll(() => testApp.close());

  test('a listed origin passes the preflight, cached for a while, and reads the answer', async () => {
    const answer = await preflight(testApp, SHOP);
    expect(answer.status).toBe(204);
    expect(answer.headers.get('access-control-allow-origin')).toBe(SHOP);
    expect(answer.headers.get('access-control-allow-methods')).toContain('POST');
    expect(answer.headers.get('access-control-allow-headers')?.split(/,\s*/)).toEqual(expect.arrayContaining(['authorization', 'content-type']));
    expect(answer.headers.get('access-control-max-age')).toBe(String(CORS_PREFLIGHT_MAX_AGE_SECONDS));
    expect(answer.headers.get('access-control-allow-credentials')).toBeNull();

    const query = await post(testApp, 'http://localhost:5173');
    expect(query.status).toBe(200);
    expect(query.headers.get('access-control-allow-origin')).toBe('http://localhost:5173');
    expect(query.headers.get('vary')).toMatch(/origin/i);
    // This worker's database may hold other tests' events: the answer's shape is what matters.
    expect(await query.json()).toEqual({ data: { events: expect.any(Array) } });
  });

  test.each(['https://evil.example', 'https://shop.example.evil.example', 'http://shop.example', 'null'])(
    'an unlisted origin %s gets no allow header',
    async (origin) => {
      expect((await preflight(testApp, origin)).headers.get('access-control-allow-origin')).toBeNull();
      expect((await post(testApp, origin)).headers.get('access-control-allow-origin')).toBeNull();
    },
  );

  test('only /graphql is offered: webhooks and metrics answer no listed origin', async () => {
    for (const path of ['/webhooks/portone', '/metrics', '/healthz']) {
      expect((await preflight(testApp, SHOP, path)).headers.get('access-control-allow-origin')).toBeNull();
    }
  });

  test('CSRF prevention stays: a simple GET from a listed origin is still refused', async () => {
    const simple = await fetch(`${testApp.url}?query=${encodeURIComponent('{ events { id } }')}`, { headers: { origin: SHOP } });
    expect(simple.status).toBe(400);
    expect(await simple.text()).toMatch(/CSRF/i);
  });
});
