import { spawnSync } from 'node:child_process';
import { chmodSync, existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import fetch from 'node-fetch';
import { findFreePort } from '../../src/free-port';
import { startServerProcess } from '../support/server-process';

/**
 * What `npm start` does on a fresh machine: no DATABASE_URL and no PORTONE_API_URL, so an embedded
 * PostgreSQL under the data folder and the PortOne simulator; demo data; tokens printed; Ctrl-C stops all.
 */
test('npm start without configuration: embedded PostgreSQL, simulator, demo data, printed tokens, clean Ctrl-C', async () => {
  const dataDir = mkdtempSync(join(tmpdir(), 'booking-start-'));
  chmodSync(dataDir, 0o755);
  const env = { DATA_DIR: dataDir, PORTONE_SIMULATOR_PORT: String(await findFreePort()), NODE_ENV: 'development', LOG_LEVEL: 'warn' };
  const server = await startServerProcess(env);
  try {
    const out = server.output();
    expect(out).toMatch(/GraphQL:\s+http:\/\/localhost:\d+\/graphql/);
    expect(out).toMatch(/Demo buyer token[^\n]*\n(eyJ[\w-]+\.[\w-]+\.[\w-]+)/);
    const buyerToken = /Demo buyer token[^\n]*\n(\S+)/.exec(out)![1];

    const response = await fetch(`${server.url}/graphql`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', authorization: `Bearer ${buyerToken}` },
      body: JSON.stringify({ query: '{ events { seats { price } } myReservations { id } }' }),
    });
    const body = (await response.json()) as { data: { events: Array<{ seats: Array<{ price: number }> }>; myReservations: unknown[] } };
    expect(body.data.events).toHaveLength(1);
    expect(body.data.events[0].seats.length).toBeGreaterThanOrEqual(20);
    expect(new Set(body.data.events[0].seats.map((s) => s.price)).size).toBeGreaterThanOrEqual(2);
    expect(body.data.myReservations).toEqual([]);
    expect(existsSync(join(dataDir, 'pg', 'PG_VERSION'))).toBe(true);

    // `npm run demo` tells the whole story against this server.
    const demo = spawnSync(process.execPath, ['-r', 'ts-node/register/transpile-only', 'scripts/demo.ts'], {
      env: { ...process.env, ...env, API_URL: server.url },
      encoding: 'utf8',
      timeout: 60_000,
    });
    expect(demo.status).toBe(0);
    expect(demo.stdout).toContain('"__typename": "PaymentConfirmed"');
    expect(demo.stdout).toContain('"__typename": "PaymentRefunded"');
    expect(demo.stdout).toContain('[7] The refund reached SUCCEEDED');
    expect(demo.stdout).toMatch(/"cancel_amount": 1000/);
  } finally {
    await server.kill('SIGINT');
  }
  expect(server.child.exitCode).toBe(0);
  expect(existsSync(join(dataDir, 'pg', 'postmaster.pid'))).toBe(false);

  // Started again on the same data: nothing is seeded twice.
  const again = await startServerProcess(env);
  try {
    const response = await fetch(`${again.url}/graphql`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ query: '{ events { id } }' }),
    });
    expect(((await response.json()) as { data: { events: unknown[] } }).data.events).toHaveLength(1);
  } finally {
    await again.kill('SIGINT');
    rmSync(dataDir, { recursive: true, force: true });
  }
});
