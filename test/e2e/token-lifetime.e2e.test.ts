import { SignJWT } from 'jose';
import fetch from 'node-fetch';
import { startTestApp, TEST_JWT_SECRET, type TestApp } from '../support/test-app';

/** A JWT must carry `exp` and `iat`, live at most JWT_MAX_LIFETIME_DAYS, and not be issued in the future. */
let t: TestApp;
beforeAll(async () => {
  t = await startTestApp({ env: { JWT_MAX_LIFETIME_DAYS: '30' } });
});
afterAll(async () => {
  await t.close();
});

const DAY = 86400;
const now = () => Math.floor(Date.now() / 1000);

async function token(claims: { iat?: number; exp?: number }): Promise<string> {
  const jwt = new SignJWT({ roles: [] }).setProtectedHeader({ alg: 'HS256', typ: 'JWT' }).setSubject('lifetime-buyer');
  if (claims.iat !== undefined) jwt.setIssuedAt(claims.iat);
  if (claims.exp !== undefined) jwt.setExpirationTime(claims.exp);
  return jwt.sign(new TextEncoder().encode(TEST_JWT_SECRET));
}

async function myReservations(bearer: string) {
  const response = await fetch(t.url, {
    method: 'POST',
    headers: { 'content-type': 'application/json', authorization: `Bearer ${bearer}` },
    body: JSON.stringify({ query: '{ myReservations { id } }' }),
  });
  return { status: response.status, body: (await response.json()) as { data?: unknown; errors?: Array<{ message: string; extensions: { code: string } }> } };
}

test.each([
  ['no exp', () => ({ iat: now() }), /"exp" claim/],
  ['no iat', () => ({ exp: now() + DAY }), /"iat" claim/],
  ['iat an hour in the future', () => ({ iat: now() + 3600, exp: now() + DAY }), /issued in the future/],
  ['iat a day in the future', () => ({ iat: now() + DAY, exp: now() + 2 * DAY }), /issued in the future/],
  ['a lifetime of 31 days', () => ({ iat: now(), exp: now() + 31 * DAY }), /longer than 30 days/],
  ['a lifetime of ten years', () => ({ iat: now(), exp: now() + 3650 * DAY }), /longer than 30 days/],
  ['issued 31 days ago, expiring tomorrow', () => ({ iat: now() - 31 * DAY, exp: now() + DAY }), /longer than 30 days|expired/],
])('%s: 401 UNAUTHENTICATED', async (_name, claims, message) => {
  const { status, body } = await myReservations(await token(claims()));
  expect(status).toBe(401);
  expect(body.errors?.[0].extensions.code).toBe('UNAUTHENTICATED');
  expect(body.errors?.[0].message).toMatch(message);
});

test.each([
  ['issued now, 30 days', () => ({ iat: now(), exp: now() + 30 * DAY })],
  ['iat 30 s ahead (clock skew)', () => ({ iat: now() + 30, exp: now() + DAY })],
])('%s: accepted', async (_name, claims) => {
  const { status, body } = await myReservations(await token(claims()));
  expect(status).toBe(200);
  expect(body.data).toEqual({ myReservations: [] });
});

test('tokens the server signs itself are accepted', async () => {
  const { status } = await myReservations(await t.app.identity.sign('lifetime-buyer'));
  expect(status).toBe(200);
});
