import fetch from 'node-fetch';
import { startTestApp, type TestApp } from '../support/test-app';

/**
 * Every GraphQL answer is `Cache-Control: no-store` (src/graphql/uncacheable-responses.ts), data and errors
 * alike, as Apollo's own cache-control plugin answered before it was turned off.
 */
let t: TestApp;

beforeAll(async () => {
  t = await startTestApp({ startWorker: false });
});
afterAll(async () => {
  await t.close();
});

async function cacheControlOf(body: unknown, headers: Record<string, string> = {}): Promise<[number, string | null]> {
  const response = await fetch(t.url, { method: 'POST', headers: { 'content-type': 'application/json', ...headers }, body: JSON.stringify(body) });
  await response.text();
  return [response.status, response.headers.get('cache-control')];
}

test.each([
  ['data', { query: '{ events { id } }' }, {}, 200],
  ['an error from a resolver', { query: '{ myReservations { id } }' }, {}, 401],
  ['a validation error', { query: '{ noSuchField }' }, {}, 400],
] as const)('%s', async (_name, body, headers, status) => {
  expect(await cacheControlOf(body, headers)).toEqual([status, 'no-store']);
});
