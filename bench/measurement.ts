import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import autocannon from 'autocannon';
import type { Client } from 'pg';
import { HARNESS_ROLE, type Environment, type ServerHandle, type Target } from './environment';

/** How `npm run bench` measures one phase: autocannon's latencies, the server's CPU from /proc, pg_stat_statements. */

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
  /** Blocks not found in shared_buffers (read from the operating system's cache or the disk). */
  blocksRead: number;
}

export async function statementCounts(admin: Client, database: string): Promise<StatementTotals> {
  const { rows } = await admin.query<Record<keyof StatementTotals, string>>(
    `select coalesce(sum(s.calls), 0) as statements,
            coalesce(sum(s.calls) filter (where s.query ilike 'begin%' or s.query ilike 'start transaction%'), 0) as transactions,
            coalesce(sum(s.total_exec_time), 0) as "execMs",
            coalesce(sum(s.shared_blks_read), 0) as "blocksRead"
       ${STATEMENTS_OF_DATABASE}`,
    [database],
  );
  const row = rows[0];
  return {
    statements: Number(row.statements),
    transactions: Number(row.transactions),
    execMs: Number(row.execMs),
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
  database: { execMsPerCall: number; blocksReadPerCall: number };
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
