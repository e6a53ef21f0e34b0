import { spawn, execFileSync, type ChildProcess } from 'node:child_process';
import { createHash, randomUUID } from 'node:crypto';
import { chmodSync, existsSync, mkdtempSync, openSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import autocannon from 'autocannon';
import { SignJWT } from 'jose';
import { Client } from 'pg';
import pino from 'pino';
import { openDatabase } from '../src/db/database';
import { startEmbeddedPostgresOnAnyPort } from '../src/db/embedded-postgres-any-port';
import type { EmbeddedPostgresHandle } from '../src/db/embedded-postgres';

/**
 * The machinery of `npm run bench`: one embedded PostgreSQL (pg_stat_statements preloaded), one PortOne V1
 * simulator process, the raw baseline server and this server as separate processes, each with its own
 * database in the cluster, and autocannon driving both in turn from this process.
 */

export const JWT_SECRET = 'bench-Zk3pW9xQ2vLr7TbN5mYc8HdF4sGa6JeU1oRi';
const IMP_KEY = 'bench-imp-key';
const IMP_SECRET = 'bench-imp-secret';
const PRICE = 50_000;
/** The repository: this file runs as bench/harness.ts (ts-node) or dist/bench/harness.js. */
const ROOT = existsSync(join(__dirname, '..', 'package.json')) ? resolve(__dirname, '..') : resolve(__dirname, '..', '..');

export type Target = 'app' | 'baseline';

/**
 * The harness's own SQL (seeding, waiting for refunds, checks) runs as this role, so pg_stat_statements can
 * leave it out of the servers' counts.
 */
const HARNESS_ROLE = 'bench_harness';

function harnessUrl(env: Environment, database: string): string {
  const url = new URL(`${env.pg.baseUrl}/${database}`);
  url.username = HARNESS_ROLE;
  url.password = HARNESS_ROLE;
  return url.toString();
}

export interface ServerHandle {
  target: Target;
  url: string;
  pid: number;
  database: string;
  stop(): Promise<void>;
}

export interface ServerPair {
  app: ServerHandle;
  baseline: ServerHandle;
}

export interface Environment extends ServerPair {
  pg: EmbeddedPostgresHandle;
  admin: Client;
  simulatorUrl: string;
  postgresVersion: string;
  /** Another pair of servers on databases of their own, stopped with the rest (the growth phase's 10^6 pair). */
  startPair(suffix: string): Promise<ServerPair>;
  stop(): Promise<void>;
}

/** How a server process is started: compiled JS (what `npm run bench` measures) or TS through ts-node (the smoke test). */
export type Runner = 'dist' | 'source';

function nodeArgs(runner: Runner, script: string): string[] {
  return runner === 'dist'
    ? [join(ROOT, 'dist', `${script}.js`)]
    : ['-r', 'ts-node/register/transpile-only', join(ROOT, `${script}.ts`)];
}

async function waitForLine(child: ChildProcess, read: () => string, pattern: RegExp, what: string, timeoutMs = 90_000): Promise<RegExpExecArray> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const match = pattern.exec(read());
    if (match) return match;
    if (child.exitCode !== null) throw new Error(`${what} exited early:\n${read().slice(-3000)}`);
    if (Date.now() > deadline) {
      child.kill('SIGKILL');
      throw new Error(`${what} did not start within ${timeoutMs} ms:\n${read().slice(-3000)}`);
    }
    await new Promise((done) => setTimeout(done, 100));
  }
}

/** Every server process this run started, so a signal can reach them all at once, synchronously. */
const children = new Set<ChildProcess>();

/**
 * SIGTERM to every server process still running. On Ctrl-C embedded-postgres's own exit hook stops the
 * cluster and exits the process, possibly before an orderly stop could finish: this goes first.
 */
export function terminateChildren(): void {
  for (const child of children) if (child.exitCode === null && child.signalCode === null) child.kill('SIGTERM');
}

function spawnLogged(args: string[], env: Record<string, string>, logFile: string): { child: ChildProcess; read: () => string } {
  const fd = openSync(logFile, 'a');
  // stdin is a pipe from this process: the baseline exits when it closes, i.e. when the harness dies.
  const child = spawn(process.execPath, args, { cwd: ROOT, env: { ...process.env, ...env }, stdio: ['pipe', fd, fd] });
  children.add(child);
  child.once('exit', () => children.delete(child));
  return { child, read: () => readFileSync(logFile, 'utf8') };
}

function stopper(child: ChildProcess): () => Promise<void> {
  return async () => {
    if (child.exitCode !== null || child.signalCode !== null) return;
    const exited = new Promise((done) => child.once('exit', done));
    child.kill('SIGTERM');
    const timer = setTimeout(() => child.kill('SIGKILL'), 10_000);
    await exited;
    clearTimeout(timer);
  };
}

/** `appNodeArgs`: flags for this server's node process only (e.g. `--cpu-prof`, which NODE_OPTIONS refuses). */
export async function startEnvironment(
  runner: Runner,
  log: (line: string) => void,
  env: Record<string, string> = {},
  appNodeArgs: string[] = [],
): Promise<Environment> {
  const dir = mkdtempSync(join(tmpdir(), 'booking-bench-'));
  chmodSync(dir, 0o755);
  const cleanups: Array<() => Promise<unknown>> = [async () => rmSync(dir, { recursive: true, force: true })];
  let stopped = false;
  const stop = async () => {
    if (stopped) return;
    stopped = true;
    for (const cleanup of cleanups.reverse()) await cleanup().catch(() => undefined);
  };
  try {
    log('starting PostgreSQL (fsync off, pg_stat_statements preloaded)');
    const pg = await startEmbeddedPostgresOnAnyPort({
      dataDir: join(dir, 'cluster'),
      persistent: false,
      extraFlags: [
        ...['-c', 'shared_preload_libraries=pg_stat_statements', '-c', 'pg_stat_statements.max=10000', '-c', 'pg_stat_statements.track_utility=on'],
        // Room for the 10^6-reservation load of --growth without checkpoints in the middle of it.
        ...['-c', 'shared_buffers=256MB', '-c', 'max_wal_size=4GB'],
      ],
    });
    cleanups.push(() => pg.stop());
    const admin = new Client({ connectionString: `${pg.baseUrl}/postgres` });
    admin.on('error', () => undefined);
    await admin.connect();
    cleanups.push(() => admin.end());
    await admin.query('create extension if not exists pg_stat_statements');
    await admin.query(`create role ${HARNESS_ROLE} login superuser password '${HARNESS_ROLE}'`);
    const postgresVersion = (await admin.query<{ server_version: string }>('show server_version')).rows[0].server_version;
    const silent = pino({ level: 'silent' });

    log('starting the PortOne V1 simulator');
    const sim = spawnLogged(
      [...nodeArgs(runner, 'src/gateway/portone/sim/main'), '--port', '0', '--imp-key', IMP_KEY, '--imp-secret', IMP_SECRET],
      {},
      join(dir, 'simulator.log'),
    );
    cleanups.push(stopper(sim.child));
    const simulatorUrl = (await waitForLine(sim.child, sim.read, /PortOne V1 simulator: (http:\/\/\S+)/, 'simulator'))[1];

    const common = { JWT_SECRET, PORTONE_API_URL: simulatorUrl, PORTONE_IMP_KEY: IMP_KEY, PORTONE_IMP_SECRET: IMP_SECRET, PORT: '0' };
    /** This server and the baseline, each on a database of its own (`bench_app<suffix>`, `bench_baseline<suffix>`). */
    const startPair = async (suffix: string): Promise<ServerPair> => {
      const databases = { app: `bench_app${suffix}`, baseline: `bench_baseline${suffix}` };
      for (const database of Object.values(databases)) {
        const orm = await openDatabase(`${pg.baseUrl}/${database}`, silent);
        await orm.close(true);
      }
      log(`starting this server (NODE_ENV=production) and the raw baseline${suffix ? ` on ${Object.values(databases).join(', ')}` : ''}`);
      const appProcess = spawnLogged(
        [...appNodeArgs, ...nodeArgs(runner, 'src/main')],
        {
          ...common,
          NODE_ENV: 'production',
          DATABASE_URL: `${pg.baseUrl}/${databases.app}`,
          DATA_DIR: join(dir, `app-data${suffix}`),
          // The bench's buyers and partner are few addresses doing thousands of calls: limits off, nothing else changed.
          RATE_LIMIT_ANONYMOUS_PER_IP: '0',
          RATE_LIMIT_HOLD_SEAT_PER_BUYER: '0',
          RATE_LIMIT_CONFIRM_PAYMENT_PER_BUYER: '0',
          RATE_LIMIT_WEBHOOK_PER_IP: '0',
          ...env,
        },
        join(dir, `app${suffix}.log`),
      );
      cleanups.push(stopper(appProcess.child));
      const appPort = (await waitForLine(appProcess.child, appProcess.read, /^GraphQL:\s+http:\/\/\S+:(\d+)\/graphql$/m, 'the app'))[1];
      const baselineProcess = spawnLogged(
        nodeArgs(runner, 'bench/baseline-server'),
        { ...common, DATABASE_URL: `${pg.baseUrl}/${databases.baseline}` },
        join(dir, `baseline${suffix}.log`),
      );
      cleanups.push(stopper(baselineProcess.child));
      const baselinePort = (await waitForLine(baselineProcess.child, baselineProcess.read, /baseline listening on (\d+)/, 'the baseline'))[1];
      return {
        app: { target: 'app', url: `http://127.0.0.1:${appPort}`, pid: appProcess.child.pid!, database: databases.app, stop: stopper(appProcess.child) },
        baseline: {
          target: 'baseline',
          url: `http://127.0.0.1:${baselinePort}`,
          pid: baselineProcess.child.pid!,
          database: databases.baseline,
          stop: stopper(baselineProcess.child),
        },
      };
    };
    const main = await startPair('');

    return { pg, admin, simulatorUrl, postgresVersion, ...main, startPair, stop };
  } catch (error) {
    await stop();
    throw error;
  }
}

// --- measurement ----------------------------------------------------------------------------------------
const CLOCK_TICKS = (() => {
  try {
    return Number(execFileSync('getconf', ['CLK_TCK']).toString().trim()) || 100;
  } catch {
    return 100;
  }
})();

/** User + system CPU of one process so far, in ms, from /proc/<pid>/stat (fields 14 and 15, in clock ticks). */
export function processCpuMs(pid: number): number {
  const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  return ((Number(fields[11]) + Number(fields[12])) * 1000) / CLOCK_TICKS;
}

/**
 * Statements and transactions one database has run so far, from pg_stat_statements. graphile-worker's own
 * polling is left out (the job queue's housekeeping, not the call's work); adding or removing a job is counted.
 */
const STATEMENTS_OF_DATABASE = `from pg_stat_statements s join pg_database d on d.oid = s.dbid
      where d.datname = $1 and not (s.query ilike '%graphile_worker%' and s.query not ilike '%add_job%' and s.query not ilike '%remove_job%')
        and s.userid <> (select oid from pg_roles where rolname = '${HARNESS_ROLE}')`;

/** Calls and execution time so far of each normalised statement of one database (the same selection as statementCounts). */
export async function statementCalls(admin: Client, database: string): Promise<Map<string, { calls: number; execMs: number; blocksRead: number }>> {
  const { rows } = await admin.query<{ query: string; calls: string; exec_ms: string; blocks_read: string }>(
    `select s.query, sum(s.calls) as calls, sum(s.total_exec_time) as exec_ms, sum(s.shared_blks_read) as blocks_read
       ${STATEMENTS_OF_DATABASE} group by s.query`,
    [database],
  );
  return new Map(rows.map((row) => [row.query, { calls: Number(row.calls), execMs: Number(row.exec_ms), blocksRead: Number(row.blocks_read) }]));
}

export interface StatementTotals {
  statements: number;
  transactions: number;
  /** Time PostgreSQL spent running them (pg_stat_statements' total_exec_time), ms. */
  execMs: number;
  /** Full-page images written to the WAL: the first change of a page after a checkpoint. */
  walFpi: number;
  /** Blocks not found in shared_buffers (read from the operating system's cache or the disk). */
  blocksRead: number;
}

export async function statementCounts(admin: Client, database: string): Promise<StatementTotals> {
  const { rows } = await admin.query<Record<keyof StatementTotals, string>>(
    `select coalesce(sum(s.calls), 0) as statements,
            coalesce(sum(s.calls) filter (where s.query ilike 'begin%' or s.query ilike 'start transaction%'), 0) as transactions,
            coalesce(sum(s.total_exec_time), 0) as "execMs", coalesce(sum(s.wal_fpi), 0) as "walFpi",
            coalesce(sum(s.shared_blks_read), 0) as "blocksRead"
       ${STATEMENTS_OF_DATABASE}`,
    [database],
  );
  const row = rows[0];
  return {
    statements: Number(row.statements),
    transactions: Number(row.transactions),
    execMs: Number(row.execMs),
    walFpi: Number(row.walFpi),
    blocksRead: Number(row.blocksRead),
  };
}

export interface CallRequest {
  path: string;
  headers: Record<string, string>;
  body: string;
}

export interface Measurement {
  target: Target;
  calls: number;
  connections: number;
  throughput: number;
  p50: number;
  p99: number;
  cpuMsPerCall: number;
  statementsPerCall: number;
  transactionsPerCall: number;
  /** What the calls cost PostgreSQL, per call (pg_stat_statements; the same statements as statementsPerCall). */
  database: { execMsPerCall: number; walFpiPerCall: number; blocksReadPerCall: number };
  outcomes: Record<string, number>;
  /** Each statement run during the measurement, calls per call, most frequent first (what the SQL/call is made of). */
  statements: Array<{ perCall: number; msEach: number; blocksReadEach: number; query: string }>;
}

/** What a response was: `5xx`, an error code, or the `__typename`/status of the data. */
export type Classifier = (status: number, body: string) => string;

/**
 * Sends every request once, at `connections` concurrent keep-alive connections, and measures the server
 * around it. `settle` runs after the last response and before the "after" readings (background work the
 * calls started, e.g. refunds being sent).
 */
export async function measure(
  env: Environment,
  server: ServerHandle,
  requests: CallRequest[],
  connections: number,
  classify: Classifier,
  options: { onResult?: (request: CallRequest, status: number, body: string) => void; settle?: () => Promise<void> } = {},
): Promise<Measurement> {
  const outcomes: Record<string, number> = {};
  let next = 0;
  const cpuBefore = processCpuMs(server.pid);
  const sqlBefore = await statementCounts(env.admin, server.database);
  const callsBefore = await statementCalls(env.admin, server.database);
  const started = performance.now();
  let lastResponse = started;
  const result = await autocannon({
    url: server.url,
    connections: Math.min(connections, requests.length),
    amount: requests.length,
    timeout: 60,
    // autocannon notices the end only at its next sample tick; the wall time is taken at the last response instead.
    sampleInt: 100,
    requests: [
      {
        method: 'POST',
        setupRequest: (request, context) => {
          const call = requests[next++];
          (context as { call?: CallRequest }).call = call;
          return { ...request, path: call.path, headers: call.headers, body: call.body };
        },
        onResponse: (status, body, context) => {
          const kind = classify(status, body);
          outcomes[kind] = (outcomes[kind] ?? 0) + 1;
          lastResponse = performance.now();
          options.onResult?.((context as { call: CallRequest }).call, status, body);
        },
      },
    ],
  });
  const seconds = (lastResponse - started) / 1000;
  await options.settle?.();
  const cpuAfter = processCpuMs(server.pid);
  const sqlAfter = await statementCounts(env.admin, server.database);
  const callsAfter = await statementCalls(env.admin, server.database);
  const calls = Object.values(outcomes).reduce((sum, n) => sum + n, 0);
  if (result.errors > 0 || result.timeouts > 0 || calls !== requests.length) {
    outcomes.transportErrors = result.errors + result.timeouts;
  }
  return {
    target: server.target,
    calls,
    connections,
    throughput: calls / seconds,
    p50: result.latency.p50,
    p99: result.latency.p99,
    cpuMsPerCall: (cpuAfter - cpuBefore) / Math.max(calls, 1),
    statementsPerCall: (sqlAfter.statements - sqlBefore.statements) / Math.max(calls, 1),
    transactionsPerCall: (sqlAfter.transactions - sqlBefore.transactions) / Math.max(calls, 1),
    database: {
      execMsPerCall: (sqlAfter.execMs - sqlBefore.execMs) / Math.max(calls, 1),
      walFpiPerCall: (sqlAfter.walFpi - sqlBefore.walFpi) / Math.max(calls, 1),
      blocksReadPerCall: (sqlAfter.blocksRead - sqlBefore.blocksRead) / Math.max(calls, 1),
    },
    outcomes,
    statements: [...callsAfter]
      .map(([query, after]) => {
        const before = callsBefore.get(query) ?? { calls: 0, execMs: 0, blocksRead: 0 };
        const run = after.calls - before.calls;
        return {
          perCall: run / Math.max(calls, 1),
          msEach: (after.execMs - before.execMs) / Math.max(run, 1),
          blocksReadEach: (after.blocksRead - before.blocksRead) / Math.max(run, 1),
          query: query.replace(/\s+/g, ' ').slice(0, 300),
        };
      })
      .filter((entry) => entry.perCall > 0)
      .sort((a, b) => b.perCall - a.perCall)
      .slice(0, 40),
  };
}

// --- the calls, for each server ---------------------------------------------------------------------------
const RESERVATION_SELECTION = 'id merchantUid amount status';
const HOLD = `mutation HoldSeat($input: HoldSeatInput!) { holdSeat(input: $input) { ${RESERVATION_SELECTION} } }`;
const CONFIRM = `mutation ConfirmPayment($input: ConfirmPaymentInput!) { confirmPayment(input: $input) { __typename
  ... on PaymentConfirmed { paymentId amount reservation { id status confirmedAt } }
  ... on PaymentRefunded { reason refund { id status amount } reservation { id status } } } }`;
const STATUSES = `query BookingStatuses($merchantUids: [String!]!) { bookingStatuses(merchantUids: $merchantUids) {
  merchantUid status amount paidAmount expiresAt confirmedAt cancelledAt
  refund { id amount reason status } seat { id label price } event { id title startsAt } } }`;

const json = { 'content-type': 'application/json' };

export function holdRequest(target: Target, token: string, seatId: string): CallRequest {
  const headers = { ...json, authorization: `Bearer ${token}` };
  return target === 'app'
    ? { path: '/graphql', headers, body: JSON.stringify({ query: HOLD, variables: { input: { seatId } } }) }
    : { path: '/holdSeat', headers, body: JSON.stringify({ seatId }) };
}

export function confirmRequest(target: Target, hold: Hold, paymentId: string): CallRequest {
  const headers = { ...json, authorization: `Bearer ${hold.token}` };
  const input = { reservationId: hold.id, merchantUid: hold.merchantUid, paymentId };
  return target === 'app'
    ? { path: '/graphql', headers, body: JSON.stringify({ query: CONFIRM, variables: { input } }) }
    : { path: '/confirmPayment', headers, body: JSON.stringify(input) };
}

export function statusesRequest(target: Target, apiKey: string, merchantUids: string[]): CallRequest {
  const headers = { ...json, 'x-api-key': apiKey };
  return target === 'app'
    ? { path: '/graphql', headers, body: JSON.stringify({ query: STATUSES, variables: { merchantUids } }) }
    : { path: '/bookingStatuses', headers, body: JSON.stringify({ merchantUids }) };
}

/** The payload of a response to one of the calls above, whichever server answered. */
function payload(body: string): { data?: Record<string, unknown> | null; errors?: Array<{ extensions?: { code?: string } }> } {
  try {
    return JSON.parse(body) as never;
  } catch {
    return {};
  }
}

export const classify: Classifier = (status, body) => {
  if (status >= 500) return '5xx';
  const parsed = payload(body);
  if (parsed.errors?.length) return parsed.errors[0].extensions?.code ?? `HTTP ${status}`;
  const data = parsed.data ? (Object.values(parsed.data)[0] ?? parsed.data) : null;
  if (Array.isArray(data)) return `${data.length} rows`;
  const record = data as { __typename?: string; status?: string } | null;
  return record?.__typename ?? record?.status ?? `HTTP ${status}`;
};

export interface Hold {
  id: string;
  merchantUid: string;
  amount: number;
  token: string;
}

export function holdFromBody(body: string): Omit<Hold, 'token'> | null {
  const parsed = payload(body);
  const hold = (parsed.data as { holdSeat?: Hold } | null | undefined)?.holdSeat;
  return hold?.id ? { id: hold.id, merchantUid: hold.merchantUid, amount: hold.amount } : null;
}

// --- data ---------------------------------------------------------------------------------------------------
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
