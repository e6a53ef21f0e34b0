import { execFileSync } from 'node:child_process';
import { createHash, randomUUID } from 'node:crypto';
import { SignJWT } from 'jose';
import { Client } from 'pg';
import { json, type Hold } from './calls';
import { harnessUrl, JWT_SECRET, type Environment } from './environment';
import type { Measurement } from './measurement';

const PRICE = 50_000;

/** What the bench puts into the databases and the simulator, and reads back from them (as the harness's own role). */

export async function buyerTokens(count: number, prefix: string): Promise<string[]> {
  const key = new TextEncoder().encode(JWT_SECRET);
  const now = Math.floor(Date.now() / 1000);
  return Promise.all(
    Array.from({ length: count }, (_, i) =>
      new SignJWT({ roles: [] }).setProtectedHeader({ alg: 'HS256', typ: 'JWT' }).setSubject(`${prefix}-${i}`).setIssuedAt(now).setExpirationTime(now + 86400).sign(key),
    ),
  );
}

/** One event tomorrow with `seats` seats, in both databases alike; returns the seat ids in label order. */
export async function createEvent(env: Environment, database: string, seats: number, title: string): Promise<string[]> {
  const client = new Client({ connectionString: harnessUrl(env, database) });
  // A connection ended by PostgreSQL's shutdown (Ctrl-C) must not crash the harness before it stops the rest.
  client.on('error', () => undefined);
  await client.connect();
  try {
    const eventId = randomUUID();
    await client.query(`insert into event (id, title, starts_at, created_at) values ($1, $2, now() + interval '1 day', now())`, [eventId, title]);
    const { rows } = await client.query<{ id: string }>(
      `insert into seat (id, event_id, label, price)
       select gen_random_uuid(), $1, 'S' || n, $2 from generate_series(1, $3::int) n returning id`,
      [eventId, PRICE, seats],
    );
    await client.query(`insert into partner_event (partner_id, event_id) select id, $1 from partner`, [eventId]);
    return rows.map((row) => row.id);
  } finally {
    await client.end();
  }
}

/** A partner that sees every bench event (created before them); its API key. */
export async function createPartner(env: Environment, database: string): Promise<string> {
  const apiKey = `bench_${randomUUID().replace(/-/g, '')}`;
  const client = new Client({ connectionString: harnessUrl(env, database) });
  // A connection ended by PostgreSQL's shutdown (Ctrl-C) must not crash the harness before it stops the rest.
  client.on('error', () => undefined);
  await client.connect();
  try {
    await client.query(
      `insert into partner (id, name, api_key_hash, api_key_prefix, created_at) values ($1, 'bench partner', $2, $3, now())`,
      [randomUUID(), createHash('sha256').update(apiKey, 'utf8').digest('hex'), apiKey.slice(0, 10)],
    );
  } finally {
    await client.end();
  }
  return apiKey;
}

/** Payments as the buyers' PortOne windows make them (no webhook): the amount held, or one won more. */
export async function simulatorPayments(env: Environment, holds: Hold[], overpay: boolean): Promise<string[]> {
  const ids: string[] = [];
  for (let start = 0; start < holds.length; start += 500) {
    const chunk = holds.slice(start, start + 500);
    const response = await fetch(`${env.simulatorUrl}/__control/payments/batch`, {
      method: 'POST',
      headers: json,
      body: JSON.stringify({
        payments: chunk.map((hold) => ({ merchant_uid: hold.merchantUid, amount: hold.amount + (overpay ? 1 : 0), webhook: false })),
      }),
    });
    if (!response.ok) throw new Error(`simulator batch: HTTP ${response.status} ${await response.text()}`);
    ids.push(...((await response.json()) as { payments: Array<{ imp_uid: string }> }).payments.map((p) => p.imp_uid));
  }
  return ids;
}

/**
 * Pre-loads reservations until the database holds `total`, with generate_series, so the confirm path can be
 * timed against a big table. Shaped like the morning after ticket openings: each seat of a past event has
 * one CONFIRMED booking (with its payment) and nine EXPIRED holds.
 */
export async function bulkLoadReservations(env: Environment, database: string, total: number): Promise<void> {
  const client = new Client({ connectionString: harnessUrl(env, database) });
  // A connection ended by PostgreSQL's shutdown (Ctrl-C) must not crash the harness before it stops the rest.
  client.on('error', () => undefined);
  await client.connect();
  try {
    const { rows } = await client.query<{ n: string }>('select count(*) as n from reservation');
    const missing = total - Number(rows[0].n);
    if (missing <= 0) return;
    const perSeat = 10;
    const perEvent = 1000;
    const seats = Math.ceil(missing / perSeat);
    await client.query('begin');
    await client.query(
      `create temporary table bulk_seat on commit drop as
       select gen_random_uuid() as id, n, ((n - 1) / $2)::int as event_n from generate_series(1, $1::int) n`,
      [seats, perEvent],
    );
    await client.query(
      `create temporary table bulk_event on commit drop as select distinct event_n, gen_random_uuid() as id from (select distinct event_n from bulk_seat) e`,
    );
    await client.query(`insert into event (id, title, starts_at, created_at) select id, 'bulk ' || event_n, now() - interval '30 days', now() - interval '60 days' from bulk_event`);
    await client.query(
      `insert into seat (id, event_id, label, price) select s.id, e.id, 'B' || s.n, $1 from bulk_seat s join bulk_event e using (event_n)`,
      [PRICE],
    );
    await client.query(
      `insert into reservation (id, seat_id, buyer_id, status, amount, merchant_uid, expires_at, confirmed_at, created_at, updated_at)
       select gen_random_uuid(), s.id, 'bulk-buyer-' || ((s.n * $2 + k) % 100000),
              (case when k = 0 then 'CONFIRMED' else 'EXPIRED' end)::reservation_status, $1, 'bulk-' || gen_random_uuid(),
              now() - interval '59 days', case when k = 0 then now() - interval '59 days' end, now() - interval '60 days', now() - interval '59 days'
         from bulk_seat s cross join generate_series(0, $2::int - 1) k
        limit $3`,
      [PRICE, perSeat, missing],
    );
    await client.query(
      `insert into payment (id, gateway_payment_id, reservation_id, merchant_uid, amount, currency, decision, decided_by, decided_at)
       select gen_random_uuid(), 'imp_' || r.merchant_uid, r.id, r.merchant_uid, r.amount, 'KRW', 'CONFIRMED', 'bulk', r.confirmed_at
         from reservation r join bulk_seat s on s.id = r.seat_id where r.status = 'CONFIRMED'`,
    );
    await client.query('commit');
    // Vacuumed, analyzed and written out before anything is timed: a million fresh rows would otherwise
    // start autovacuum, and their dirty pages be flushed (PostgreSQL's checkpointer, the kernel), while the
    // confirms run on the same two cores.
    await client.query('vacuum (analyze)');
    await client.query('checkpoint');
    execFileSync('sync');
  } finally {
    await client.end();
  }
}

/**
 * Plans each statement a measurement ran (its normalised text, `EXPLAIN (GENERIC_PLAN)`) and returns those
 * whose plan reads a whole growing table: a query on the hot path without an index that serves it. A generic
 * plan cannot use a partial index whose predicate a parameter decides (`status in ($3)`), so a hit is a
 * lead to check with real values, not a verdict.
 */
export async function sequentialScans(env: Environment, database: string, statements: Measurement['statements']): Promise<Array<{ query: string; scans: string[] }>> {
  const client = new Client({ connectionString: harnessUrl(env, database) });
  // A connection ended by PostgreSQL's shutdown (Ctrl-C) must not crash the harness before it stops the rest.
  client.on('error', () => undefined);
  await client.connect();
  const found: Array<{ query: string; scans: string[] }> = [];
  try {
    for (const { query } of statements) {
      if (!/^\s*(select|update|delete|insert|with)\b/i.test(query)) continue;
      try {
        const { rows } = await client.query<{ 'QUERY PLAN': string }>(`explain (generic_plan) ${query}`);
        const scans = rows.map((row) => row['QUERY PLAN']).filter((line) => /Seq Scan on (reservation|payment|refund|payment_event|seat)\b/.test(line));
        if (scans.length > 0) found.push({ query, scans: scans.map((line) => line.trim()) });
      } catch {
        // A statement cut short in the breakdown (or not plannable on its own) is skipped.
      }
    }
  } finally {
    await client.end();
  }
  return found;
}

/** Waits (bounded) until no refund is PENDING and no job is queued: the cancels the calls started are sent and recorded. */
export async function refundsSettled(env: Environment, database: string, timeoutMs = 30_000): Promise<void> {
  const client = new Client({ connectionString: harnessUrl(env, database) });
  // A connection ended by PostgreSQL's shutdown (Ctrl-C) must not crash the harness before it stops the rest.
  client.on('error', () => undefined);
  await client.connect();
  try {
    const queue = await client.query<{ jobs: string | null }>(`select to_regclass('graphile_worker._private_jobs')::text as jobs`);
    const dueJobs = queue.rows[0].jobs ? `(select count(*) from graphile_worker._private_jobs where run_at <= now())` : '0';
    const deadline = Date.now() + timeoutMs;
    while (Date.now() < deadline) {
      const { rows } = await client.query<{ n: string }>(`select (select count(*) from refund where status = 'PENDING') + ${dueJobs} as n`);
      if (Number(rows[0].n) === 0) return;
      await new Promise((done) => setTimeout(done, 200));
    }
  } finally {
    await client.end();
  }
}

export async function countConfirmed(env: Environment, database: string, seatIds: string[]): Promise<number> {
  const client = new Client({ connectionString: harnessUrl(env, database) });
  // A connection ended by PostgreSQL's shutdown (Ctrl-C) must not crash the harness before it stops the rest.
  client.on('error', () => undefined);
  await client.connect();
  try {
    const { rows } = await client.query<{ n: string }>(
      `select count(*) as n from reservation where seat_id = any($1::uuid[]) and status = 'CONFIRMED'`,
      [seatIds],
    );
    return Number(rows[0].n);
  } finally {
    await client.end();
  }
}

export async function reservationCount(env: Environment, database: string): Promise<number> {
  const client = new Client({ connectionString: harnessUrl(env, database) });
  // A connection ended by PostgreSQL's shutdown (Ctrl-C) must not crash the harness before it stops the rest.
  client.on('error', () => undefined);
  await client.connect();
  try {
    const { rows } = await client.query<{ n: string }>('select count(*) as n from reservation');
    return Number(rows[0].n);
  } finally {
    await client.end();
  }
}
