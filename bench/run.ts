/**
 * `npm run bench [-- --quick] [--growth] [--rush] [--no-table] [--json] [--from-source]`
 *
 * Starts its own PostgreSQL, PortOne V1 simulator, raw baseline server and this server (production mode),
 * drives both with autocannon in the same run and prints one table: holdSeat, confirmPayment kept,
 * confirmPayment refunded and bookingStatuses of 100, at 8 and 64 connections. `--growth` times the
 * confirm with 10^3 and 10^6 reservations in the database; `--rush` plays a ticket opening. Exits 1 when
 * any call's outcome is not the expected one. `--json` prints the same as JSON on stdout (progress goes to
 * stderr either way). `--from-source` runs the servers through ts-node instead of dist/ (the smoke test).
 */
import { cpus } from 'node:os';
import { parseArgs } from 'node:util';
import { buyerTokens, bulkLoadReservations, countConfirmed, createEvent, createPartner, refundsSettled, reservationCount, sequentialScans, simulatorPayments } from './bench-data';
import { classify, confirmRequest, holdFromBody, holdRequest, statusesRequest, type Hold } from './calls';
import { startEnvironment, terminateChildren, type Environment, type ServerHandle, type ServerPair, type Target } from './environment';
import { measure, type Measurement, type CallRequest } from './measurement';

const log = (line: string) => process.stderr.write(`[bench] ${line}\n`);

/** Stops what the run started; set while an environment is up, for signals and the overall deadline. */
let stopEnvironment: (() => Promise<void>) | null = null;
const RUN_DEADLINE_MS = 30 * 60_000;

export interface Row {
  work: string;
  connections: number;
  app: Measurement;
  baseline: Measurement;
  /** app / baseline for each number. */
  ratio: { throughput: number; p50: number; p99: number; cpuMsPerCall: number; statementsPerCall: number };
  /** Every call had the expected outcome, on both servers. */
  ok: boolean;
}

export interface RushResult {
  target: Target;
  buyers: number;
  seats: number;
  hold: Measurement;
  confirm: Measurement;
  held: number;
  refusedSeatUnavailable: number;
  confirmed: number;
  confirmedInDatabase: number;
  ok: boolean;
}

export interface BenchReport {
  machine: { nproc: number; cpuModel: string; node: string; postgres: string };
  quick: boolean;
  rows: Row[];
  /** `seqScans`: statements of this server's confirm that read a whole table (EXPLAIN (GENERIC_PLAN)). */
  /** `reservations`: the size aimed at; `inDatabase`: what this server's database held when it was measured. */
  growth: Array<{ reservations: number; inDatabase: number; rounds: number; rows: Row[]; seqScans: Array<{ query: string; scans: string[] }> }> | null;
  rush: RushResult[] | null;
  ok: boolean;
}

const SIZES = {
  full: { warmUp: 60, kept: 500, refunded: 150, statuses: 150, growthKept: 600, growthRounds: 3, rushBuyers: 4000, rushSeats: 100 },
  quick: { warmUp: 24, kept: 32, refunded: 16, statuses: 16, growthKept: 40, growthRounds: 1, rushBuyers: 400, rushSeats: 10 },
};

const ratioOf = (app: Measurement, baseline: Measurement): Row['ratio'] => ({
  throughput: app.throughput / baseline.throughput,
  p50: app.p50 / Math.max(baseline.p50, 0.01),
  p99: app.p99 / Math.max(baseline.p99, 0.01),
  cpuMsPerCall: app.cpuMsPerCall / Math.max(baseline.cpuMsPerCall, 0.001),
  statementsPerCall: app.statementsPerCall / Math.max(baseline.statementsPerCall, 0.001),
});

const only = (m: Measurement, expected: string) => m.outcomes[expected] === m.calls && Object.keys(m.outcomes).length === 1;

/** Per server: buyers' tokens and its own holds, made through its own holdSeat (which is also timed). */
class Workload {
  /** Order ids of every hold made so far, per server: what bookingStatuses asks about. */
  readonly merchantUids: Record<Target, string[]> = { app: [], baseline: [] };

  constructor(
    private readonly env: Environment,
    private readonly apiKeys: Record<Target, string>,
  ) {}

  server(target: Target): ServerHandle {
    return target === 'app' ? this.env.app : this.env.baseline;
  }

  get servers(): ServerPair {
    return { app: this.env.app, baseline: this.env.baseline };
  }

  /** Times one holdSeat per seat id, each by a buyer of its own; returns the holds made too. */
  async timedHolds(target: Target, seatIds: string[], connections: number): Promise<{ measurement: Measurement; holds: Hold[] }> {
    const tokens = await buyerTokens(seatIds.length, `buyer-${target}-${connections}-${Date.now()}`);
    const tokenOf = new Map<CallRequest, string>();
    const requests = seatIds.map((seatId, i) => {
      const request = holdRequest(target, tokens[i], seatId);
      tokenOf.set(request, tokens[i]);
      return request;
    });
    const holds: Hold[] = [];
    const measurement = await measure(this.env, this.server(target), requests, connections, classify, {
      onResult: (request, _status, body) => {
        const hold = holdFromBody(body);
        if (hold) holds.push({ ...hold, token: tokenOf.get(request)! });
      },
    });
    this.merchantUids[target].push(...holds.map((hold) => hold.merchantUid));
    return { measurement, holds };
  }

  async timedConfirms(target: Target, holds: Hold[], overpay: boolean, connections: number): Promise<Measurement> {
    const paymentIds = await simulatorPayments(this.env, holds, overpay);
    const requests = holds.map((hold, i) => confirmRequest(target, hold, paymentIds[i]));
    const server = this.server(target);
    return measure(this.env, server, requests, connections, classify, {
      settle: overpay ? () => refundsSettled(this.env, server.database) : undefined,
    });
  }

  async timedStatuses(target: Target, merchantUids: string[], count: number, connections: number): Promise<Measurement> {
    const requests = Array.from({ length: count }, () => statusesRequest(target, this.apiKeys[target], merchantUids));
    return measure(this.env, this.server(target), requests, connections, classify);
  }
}

function row(work: string, connections: number, app: Measurement, baseline: Measurement, expected: string): Row {
  return { work, connections, app, baseline, ratio: ratioOf(app, baseline), ok: only(app, expected) && only(baseline, expected) };
}

async function table(env: Environment, workload: Workload, size: (typeof SIZES)['full']): Promise<Row[]> {
  const rows: Row[] = [];
  const connectionCounts = [8, 64];
  const perRound = size.kept + size.refunded;
  const seats: Record<Target, string[]> = {
    app: await createEvent(env, 'bench_app', perRound * connectionCounts.length, 'bench table'),
    baseline: await createEvent(env, 'bench_baseline', perRound * connectionCounts.length, 'bench table'),
  };
  const both = async (run: (target: Target) => Promise<Measurement>) => ({ baseline: await run('baseline'), app: await run('app') });
  const holds: Record<Target, Hold[]> = { app: [], baseline: [] };
  const takeHolds = (target: Target, count: number): Hold[] => {
    if (holds[target].length < count) throw new Error(`${target}: ${count} holds needed, ${holds[target].length} made`);
    return holds[target].splice(0, count);
  };
  for (const [i, connections] of connectionCounts.entries()) {
    log(`holdSeat at ${connections} connections`);
    const m = await both(async (t) => {
      const made = await workload.timedHolds(t, seats[t].slice(i * perRound, (i + 1) * perRound), connections);
      holds[t].push(...made.holds);
      return made.measurement;
    });
    rows.push(row('holdSeat', connections, m.app, m.baseline, 'HELD'));
  }
  for (const connections of connectionCounts) {
    log(`confirmPayment (kept) at ${connections} connections`);
    const m = await both((t) => workload.timedConfirms(t, takeHolds(t, size.kept), false, connections));
    rows.push(row('confirmPayment kept', connections, m.app, m.baseline, 'PaymentConfirmed'));
  }
  for (const connections of connectionCounts) {
    log(`confirmPayment (refunded) at ${connections} connections`);
    const m = await both((t) => workload.timedConfirms(t, takeHolds(t, size.refunded), true, connections));
    rows.push(row('confirmPayment refunded', connections, m.app, m.baseline, 'PaymentRefunded'));
  }
  for (const connections of connectionCounts) {
    log(`bookingStatuses of 100 at ${connections} connections`);
    // The latest 100 bookings: confirmed, refunded and held ones alike.
    const m = await both((t) => workload.timedStatuses(t, workload.merchantUids[t].slice(-100), size.statuses, connections));
    rows.push(row('bookingStatuses(100)', connections, m.app, m.baseline, '100 rows'));
  }
  return rows;
}

/** A few of every call on both servers first, untimed: JIT, connection pools and the PortOne token are warm. */
async function warmUp(env: Environment, workload: Workload, calls: number): Promise<void> {
  log('warming up both servers');
  const kept = Math.round((calls * 2) / 3);
  for (const target of ['baseline', 'app'] as const) {
    const seatIds = await createEvent(env, workload.server(target).database, calls, 'warm-up');
    const { holds } = await workload.timedHolds(target, seatIds, 8);
    await workload.timedConfirms(target, holds.slice(0, kept), false, 8);
    await workload.timedConfirms(target, holds.slice(kept), true, 8);
    await workload.timedStatuses(target, holds.slice(0, kept).map((h) => h.merchantUid), Math.round(calls / 3), 8);
  }
}

/**
 * The same confirms with about 10^3 and with 10^6 reservations in the database. Both sizes exist at once,
 * each with its own pair of servers (the main pair's databases hold the table's few thousand; a second
 * pair's are bulk loaded to 10^6 and warmed up like the first), and they are timed in alternating rounds:
 * whatever the machine does meanwhile falls on both sizes alike, and neither is the first to run.
 */
async function growth(env: Environment, workload: Workload, size: (typeof SIZES)['full']): Promise<BenchReport['growth']> {
  const sizes = [1_000, 1_000_000];
  await bulkLoad(env, workload.servers, sizes[0], size.growthKept);
  const bigPair = await env.startPair('_big');
  await bulkLoad(env, bigPair, sizes[1], size.growthKept);
  const bigKeys = { app: await createPartner(env, bigPair.app.database), baseline: await createPartner(env, bigPair.baseline.database) };
  const big = new Workload({ ...env, ...bigPair }, bigKeys);
  await warmUp(env, big, size.warmUp);
  const workloads = [workload, big];
  const rounds: Array<Record<Target, Measurement[]>> = sizes.map(() => ({ app: [], baseline: [] }));
  const perRound = Math.ceil(size.growthKept / size.growthRounds);
  for (let round = 1; round <= size.growthRounds; round += 1) {
    for (const [i, w] of workloads.entries()) {
      for (const target of ['baseline', 'app'] as const) {
        const seats = await createEvent(env, w.server(target).database, perRound, `growth ${sizes[i]} round ${round}`);
        const { holds } = await w.timedHolds(target, seats, 8);
        log(`growth: confirmPayment (kept) at 8 connections, ${target}, ${sizes[i].toLocaleString('en')} reservations, round ${round} of ${size.growthRounds}`);
        rounds[i][target].push(await w.timedConfirms(target, holds, false, 8));
      }
    }
  }
  const results: NonNullable<BenchReport['growth']> = [];
  for (const [i, w] of workloads.entries()) {
    const app = combined(rounds[i].app);
    const baseline = combined(rounds[i].baseline);
    results.push({
      reservations: sizes[i],
      inDatabase: await reservationCount(env, w.server('app').database),
      rounds: size.growthRounds,
      rows: [row('confirmPayment kept', 8, app, baseline, 'PaymentConfirmed')],
      seqScans: await sequentialScans(env, w.server('app').database, app.statements),
    });
  }
  return results;
}

/** Tops both databases of a pair up to `total` reservations, leaving room for the confirms' own holds. */
async function bulkLoad(env: Environment, pair: ServerPair, total: number, timed: number): Promise<void> {
  log(`growth: loading ${total.toLocaleString('en')} reservations into ${pair.app.database} and ${pair.baseline.database}`);
  for (const server of [pair.app, pair.baseline]) await bulkLoadReservations(env, server.database, total - timed);
}

/**
 * Rounds of one measurement as one: calls and time, CPU and statements summed; p50 and p99 the median of
 * the rounds' (a latency histogram per round is all autocannon gives).
 */
function combined(rounds: Measurement[]): Measurement {
  const calls = rounds.reduce((sum, m) => sum + m.calls, 0);
  const seconds = rounds.reduce((sum, m) => sum + m.calls / m.throughput, 0);
  const weighted = (of: (m: Measurement) => number) => rounds.reduce((sum, m) => sum + of(m) * m.calls, 0) / Math.max(calls, 1);
  const median = (values: number[]) => [...values].sort((a, b) => a - b)[Math.floor(values.length / 2)];
  const outcomes: Record<string, number> = {};
  for (const m of rounds) for (const [kind, count] of Object.entries(m.outcomes)) outcomes[kind] = (outcomes[kind] ?? 0) + count;
  return {
    ...rounds[rounds.length - 1],
    calls,
    throughput: calls / seconds,
    p50: median(rounds.map((m) => m.p50)),
    p99: median(rounds.map((m) => m.p99)),
    cpuMsPerCall: weighted((m) => m.cpuMsPerCall),
    statementsPerCall: weighted((m) => m.statementsPerCall),
    transactionsPerCall: weighted((m) => m.transactionsPerCall),
    database: {
      execMsPerCall: weighted((m) => m.database.execMsPerCall),
      blocksReadPerCall: weighted((m) => m.database.blocksReadPerCall),
    },
    outcomes,
  };
}

async function rush(env: Environment, workload: Workload, size: (typeof SIZES)['full']): Promise<RushResult[]> {
  const results: RushResult[] = [];
  for (const target of ['baseline', 'app'] as const) {
    const database = workload.server(target).database;
    const seatIds = await createEvent(env, database, size.rushSeats, 'ticket opening');
    // Buyer i wants seat i mod seats: every seat is wanted by buyers/seats buyers at once.
    const wanted = Array.from({ length: size.rushBuyers }, (_, i) => seatIds[i % seatIds.length]);
    log(`rush: ${size.rushBuyers} buyers on ${size.rushSeats} seats at 64 connections (${target})`);
    const { measurement: hold, holds } = await workload.timedHolds(target, wanted, 64);
    const held = hold.outcomes.HELD ?? 0;
    const confirm = await workload.timedConfirms(target, holds, false, 64);
    const confirmed = confirm.outcomes.PaymentConfirmed ?? 0;
    const confirmedInDatabase = await countConfirmed(env, database, seatIds);
    const refused = hold.outcomes.SEAT_UNAVAILABLE ?? 0;
    const ok =
      held === size.rushSeats &&
      refused === size.rushBuyers - size.rushSeats &&
      confirmed === size.rushSeats &&
      confirmedInDatabase === size.rushSeats &&
      only(confirm, 'PaymentConfirmed');
    results.push({ target, buyers: size.rushBuyers, seats: size.rushSeats, hold, confirm, held, refusedSeatUnavailable: refused, confirmed, confirmedInDatabase, ok });
  }
  return results;
}

// --- printing ---------------------------------------------------------------------------------------------
const n = (value: number, digits = 1) => (Number.isFinite(value) ? value.toFixed(digits) : '–');
const pct = (value: number) => `${(value * 100).toFixed(0)} %`;
const x = (value: number) => `${value.toFixed(2)}×`;

export function formatRows(rows: Row[]): string {
  const lines = [
    '| work | conn | server | calls/s | p50 ms | p99 ms | CPU ms/call | SQL/call | tx/call | outcomes |',
    '|---|---:|---|---:|---:|---:|---:|---:|---:|---|',
  ];
  for (const r of rows) {
    for (const m of [r.app, r.baseline]) {
      const outcomes = Object.entries(m.outcomes).map(([k, v]) => `${k} ${v}`).join(', ');
      lines.push(
        `| ${r.work} | ${r.connections} | ${m.target === 'app' ? 'this server' : 'raw baseline'} | ${n(m.throughput, 0)} | ${n(m.p50, 0)} | ${n(m.p99, 0)} | ${n(m.cpuMsPerCall, 2)} | ${n(m.statementsPerCall)} | ${n(m.transactionsPerCall, 2)} | ${outcomes} |`,
      );
    }
    lines.push(
      `| ${r.work} | ${r.connections} | **ratio** | ${pct(r.ratio.throughput)} | ${x(r.ratio.p50)} | ${x(r.ratio.p99)} | ${x(r.ratio.cpuMsPerCall)} | ${x(r.ratio.statementsPerCall)} | | ${r.ok ? 'ok' : '**UNEXPECTED**'} |`,
    );
  }
  return lines.join('\n');
}

export function formatReport(report: BenchReport): string {
  const out: string[] = [];
  const m = report.machine;
  out.push(`Machine: ${m.nproc} × ${m.cpuModel}; Node ${m.node}; PostgreSQL ${m.postgres} (embedded; fsync, synchronous_commit, full_page_writes off)${report.quick ? '; --quick' : ''}`, '');
  if (report.rows.length) out.push(formatRows(report.rows), '', 'ratio: this server / raw baseline (calls/s as a percentage).', '');
  if (report.growth) {
    out.push(`Cost growth: confirmPayment kept at 8 connections, about 10^3 and 10^6 reservations in the database (this server's count at the end), timed in ${report.growth[0].rounds} alternating rounds`);
    out.push(
      '',
      '| reservations | server | calls/s | p50 ms | p99 ms | CPU ms/call | SQL/call | DB ms/call | blocks read/call |',
      '|---:|---|---:|---:|---:|---:|---:|---:|---:|',
    );
    for (const g of report.growth) {
      for (const mm of [g.rows[0].app, g.rows[0].baseline]) {
        const db = mm.database;
        out.push(
          `| ${g.inDatabase.toLocaleString('en')} | ${mm.target === 'app' ? 'this server' : 'raw baseline'} | ${n(mm.throughput, 0)} | ${n(mm.p50, 0)} | ${n(mm.p99, 0)} | ${n(mm.cpuMsPerCall, 2)} | ${n(mm.statementsPerCall)} | ${n(db.execMsPerCall, 2)} | ${n(db.blocksReadPerCall)} |`,
        );
      }
    }
    const [small, big] = report.growth;
    const scans = big.seqScans.map((s) => `  - ${s.query.slice(0, 160)}\n      ${s.scans.join('; ')}`);
    out.push('', scans.length ? `Statements of this server's confirm whose generic plan reads a whole table at 10^6 (a partial index needs literal values; check these):\n${scans.join('\n')}` : "Every statement of this server's confirm is served by an index at 10^6 (EXPLAIN (GENERIC_PLAN)).");
    out.push('', `this server: 10^6 calls/s are ${pct(big.rows[0].app.throughput / small.rows[0].app.throughput)} of 10^3's; raw baseline: ${pct(big.rows[0].baseline.throughput / small.rows[0].baseline.throughput)}`, '');
  }
  if (report.rush) {
    out.push('Ticket-opening rush (64 connections)', '', '| server | buyers | seats | hold calls/s | hold p99 ms | held | SEAT_UNAVAILABLE | other hold outcomes | confirm calls/s | confirm p99 ms | confirmed | verdict |', '|---|---:|---:|---:|---:|---:|---:|---|---:|---:|---:|---|');
    for (const r of report.rush) {
      const other = Object.entries(r.hold.outcomes).filter(([k]) => k !== 'HELD' && k !== 'SEAT_UNAVAILABLE').map(([k, v]) => `${k} ${v}`).join(', ') || 'none';
      out.push(`| ${r.target === 'app' ? 'this server' : 'raw baseline'} | ${r.buyers} | ${r.seats} | ${n(r.hold.throughput, 0)} | ${n(r.hold.p99, 0)} | ${r.held} | ${r.refusedSeatUnavailable} | ${other} | ${n(r.confirm.throughput, 0)} | ${n(r.confirm.p99, 0)} | ${r.confirmedInDatabase} | ${r.ok ? 'ok' : '**WRONG**'} |`);
    }
    out.push('');
  }
  out.push(report.ok ? 'Every call had the expected outcome.' : 'SOME CALLS HAD AN UNEXPECTED OUTCOME (see above).');
  return out.join('\n');
}

function machine(postgres: string): BenchReport['machine'] {
  return { nproc: cpus().length, cpuModel: cpus()[0]?.model ?? 'unknown', node: process.versions.node, postgres };
}

export async function runBench(options: { quick: boolean; growth: boolean; rush: boolean; table: boolean; runner: 'dist' | 'source' }): Promise<BenchReport> {
  const size = options.quick ? SIZES.quick : SIZES.full;
  const env = await startEnvironment(options.runner, log);
  stopEnvironment = env.stop;
  try {
    const apiKeys = { app: await createPartner(env, 'bench_app'), baseline: await createPartner(env, 'bench_baseline') };
    const workload = new Workload(env, apiKeys);
    await warmUp(env, workload, size.warmUp);
    const rows = options.table ? await table(env, workload, size) : [];
    const growthRows = options.growth ? await growth(env, workload, size) : null;
    const rushResults = options.rush ? await rush(env, workload, size) : null;
    const ok = rows.every((r) => r.ok) && (growthRows ?? []).every((g) => g.rows.every((r) => r.ok)) && (rushResults ?? []).every((r) => r.ok);
    return { machine: machine(env.postgresVersion), quick: options.quick, rows, growth: growthRows, rush: rushResults, ok };
  } finally {
    log('stopping');
    await env.stop();
  }
}

async function main(): Promise<void> {
  const abort = (why: string, code: number) => {
    log(`${why}: stopping`);
    terminateChildren();
    void (stopEnvironment?.() ?? Promise.resolve()).finally(() => process.exit(code));
  };
  process.once('SIGINT', () => abort('interrupted', 130));
  process.once('SIGTERM', () => abort('terminated', 143));
  setTimeout(() => abort(`still running after ${RUN_DEADLINE_MS / 60_000} minutes`, 3), RUN_DEADLINE_MS).unref();
  const { values } = parseArgs({
    options: {
      quick: { type: 'boolean', default: false },
      growth: { type: 'boolean', default: false },
      rush: { type: 'boolean', default: false },
      'no-table': { type: 'boolean', default: false },
      json: { type: 'boolean', default: false },
      'from-source': { type: 'boolean', default: false },
    },
  });
  const report = await runBench({
    quick: values.quick,
    growth: values.growth,
    rush: values.rush,
    table: !values['no-table'],
    runner: values['from-source'] ? 'source' : 'dist',
  });
  process.stdout.write(values.json ? `${JSON.stringify(report, null, 2)}\n` : `${formatReport(report)}\n`);
  process.exitCode = report.ok ? 0 : 1;
}

if (require.main === module) {
  main().catch((error) => {
    process.stderr.write(`bench failed: ${error instanceof Error ? (error.stack ?? error.message) : String(error)}\n`);
    process.exit(2);
  });
}
