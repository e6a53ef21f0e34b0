import { chmodSync, existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import fetch from 'node-fetch';
import { Client } from 'pg';
import { runDemoAgainst, startServerProcess, type ServerProcess } from '../support/server-process';

/**
 * What `npm start` does on a fresh machine: no DATABASE_URL, no JWT_SECRET and no PORTONE_API_URL, so an
 * embedded PostgreSQL under the data folder and the PortOne simulator; demo data; tokens printed; Ctrl-C
 * stops all. Then the same data folder a month later: the demo still works.
 */
const DAY_MS = 86400_000;

async function graphql<T>(server: ServerProcess, query: string, token?: string): Promise<T> {
  const response = await fetch(`${server.url}/graphql`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', ...(token ? { authorization: `Bearer ${token}` } : {}) },
    body: JSON.stringify({ query }),
  });
  const body = (await response.json()) as { data: T; errors?: unknown[] };
  expect(body.errors).toBeUndefined();
  return body.data;
}

/** The V1 demo: its refund is one 1,000-won cancel in PortOne's ledger. */
function runDemo(server: ServerProcess, env: Record<string, string>) {
  expect(runDemoAgainst(server, env)).toMatch(/"cancel_amount": 1000/);
}

test('npm start without configuration: embedded PostgreSQL, simulator, demo data, printed tokens, clean Ctrl-C; the demo still works 31 days later', async () => {
  const dataDir = mkdtempSync(join(tmpdir(), 'booking-start-'));
  chmodSync(dataDir, 0o755);
  const env = { DATA_DIR: dataDir, NODE_ENV: 'development', LOG_LEVEL: 'warn' };
  try {
    const server = await startServerProcess(env);
    try {
      const out = server.output();
      expect(out).toMatch(/GraphQL:\s+http:\/\/localhost:\d+\/graphql/);
      // The pages a developer opens next: GraphiQL, the operator console, the reference checkout.
      expect(out).toMatch(/GraphiQL:\s+http:\/\/localhost:\d+\/graphql/);
      expect(out).toMatch(/Console:\s+http:\/\/localhost:\d+\/admin/);
      expect(out).toMatch(/Checkout:\s+http:\/\/localhost:\d+\/demo/);
      expect(server.simulatorUrl).toMatch(/^http:\/\/127\.0\.0\.1:\d+$/);
      expect(out).toMatch(/Demo buyer token[^\n]*\n(eyJ[\w-]+\.[\w-]+\.[\w-]+)/);
      expect(existsSync(join(dataDir, 'demo-tokens.json'))).toBe(true);
      const buyerToken = /Demo buyer token[^\n]*\n(\S+)/.exec(out)![1];

      const data = await graphql<{ events: Array<{ seats: Array<{ price: number; available: boolean }> }>; myReservations: unknown[] }>(
        server,
        '{ events { seats { price available } } myReservations { id } }',
        buyerToken,
      );
      expect(data.events).toHaveLength(1);
      expect(data.events[0].seats.length).toBeGreaterThanOrEqual(20);
      expect(data.events[0].seats.every((s) => s.available)).toBe(true);
      expect(new Set(data.events[0].seats.map((s) => s.price)).size).toBeGreaterThanOrEqual(2);
      expect(data.myReservations).toEqual([]);
      expect(existsSync(join(dataDir, 'pg', 'PG_VERSION'))).toBe(true);

      // `npm run demo` tells the whole story against this server.
      runDemo(server, env);
    } finally {
      await server.kill('SIGINT');
    }
    expect(server.child.exitCode).toBe(0);
    expect(existsSync(join(dataDir, 'pg', 'PG_VERSION'))).toBe(true);
    expect(existsSync(join(dataDir, 'pg', 'postmaster.pid'))).toBe(false);

    // Started again on the same data: nothing is seeded twice. Then 31 days pass (the data moves back).
    const again = await startServerProcess(env);
    let firstEventId: string;
    try {
      const { events } = await graphql<{ events: Array<{ id: string }> }>(again, '{ events { id } }');
      expect(events).toHaveLength(1);
      firstEventId = events[0].id;
      const pgPort = /embedded PostgreSQL on port (\d+)/.exec(again.output())![1];
      const pg = new Client({ connectionString: `postgres://postgres:postgres@127.0.0.1:${pgPort}/booking` });
      await pg.connect();
      try {
        for (const [table, column] of [['event', 'starts_at'], ['event', 'created_at'], ['reservation', 'expires_at'], ['reservation', 'created_at']]) {
          await pg.query(`update "${table}" set "${column}" = "${column}" - interval '31 days'`);
        }
      } finally {
        await pg.end();
      }
      // The started event is no longer listed, and none of its seats is available.
      expect((await graphql<{ events: unknown[] }>(again, '{ events { id } }')).events).toEqual([]);
      const past = await graphql<{ event: { startsAt: string; seats: Array<{ available: boolean }> } }>(
        again,
        `{ event(id: "${firstEventId}") { startsAt seats { available } } }`,
      );
      expect(Date.parse(past.event.startsAt)).toBeLessThan(Date.now());
      expect(past.event.seats.length).toBeGreaterThan(0);
      expect(past.event.seats.some((s) => s.available)).toBe(false);
    } finally {
      await again.kill('SIGINT');
    }

    // A month later: the next start seeds an upcoming event and the demo succeeds again.
    const later = await startServerProcess(env);
    try {
      const { events } = await graphql<{ events: Array<{ id: string; startsAt: string }> }>(later, '{ events { id startsAt } }');
      expect(events).toHaveLength(1);
      expect(events[0].id).not.toBe(firstEventId);
      expect(Date.parse(events[0].startsAt)).toBeGreaterThan(Date.now() + 29 * DAY_MS);
      runDemo(later, env);
    } finally {
      await later.kill('SIGINT');
    }
  } finally {
    rmSync(dataDir, { recursive: true, force: true });
  }
  // Three starts of the embedded PostgreSQL and two `npm run demo` runs: near a minute on a loaded 2-core machine.
}, 180_000);
