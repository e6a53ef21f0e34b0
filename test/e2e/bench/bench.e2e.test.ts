import { spawn } from 'node:child_process';

/**
 * [bench] smoke: `bench/run.ts --quick --rush` end to end (its own PostgreSQL, simulator, baseline and this
 * server in production mode, run from source so no build is needed), then the report's shape: every row of
 * the table on both servers, each call with the outcome it should have, and the rush's invariant (exactly
 * one buyer per seat confirmed, everyone else refused with SEAT_UNAVAILABLE, no 5xx).
 */
interface Measurement {
  target: string;
  calls: number;
  throughput: number;
  p99: number;
  cpuMsPerCall: number;
  statementsPerCall: number;
  outcomes: Record<string, number>;
}
interface Report {
  ok: boolean;
  rows: Array<{ work: string; connections: number; ok: boolean; app: Measurement; baseline: Measurement; ratio: { throughput: number } }>;
  rush: Array<{ target: string; buyers: number; seats: number; held: number; refusedSeatUnavailable: number; confirmedInDatabase: number; ok: boolean; hold: Measurement }>;
}

function runBench(args: string[]): Promise<{ code: number | null; stdout: string; stderr: string }> {
  const child = spawn(process.execPath, ['-r', 'ts-node/register/transpile-only', 'bench/run.ts', ...args], {
    cwd: process.cwd(),
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let stdout = '';
  let stderr = '';
  child.stdout.on('data', (chunk) => (stdout += chunk));
  child.stderr.on('data', (chunk) => (stderr += chunk));
  // SIGTERM first: the bench then stops its PostgreSQL and servers; SIGKILL only if that hangs.
  const timer = setTimeout(() => child.kill('SIGTERM'), 160_000);
  const lastResort = setTimeout(() => child.kill('SIGKILL'), 175_000);
  return new Promise((resolve) =>
    child.on('close', (code) => {
      clearTimeout(timer);
      clearTimeout(lastResort);
      resolve({ code, stdout, stderr });
    }),
  );
}

describe('[bench] npm run bench -- --quick --rush', () => {
  let report: Report;
  let code: number | null;

  beforeAll(async () => {
    const run = await runBench(['--quick', '--rush', '--json', '--from-source']);
    code = run.code;
    try {
      report = JSON.parse(run.stdout) as Report;
    } catch {
      throw new Error(`bench printed no JSON report (exit ${run.code}):\n${run.stderr.slice(-4000)}`);
    }
  }, 180_000);

  test('exits 0 with every call as expected', () => {
    expect(report.ok).toBe(true);
    expect(code).toBe(0);
  });

  test('the table has every work at 8 and 64 connections, measured on both servers', () => {
    const keys = report.rows.map((row) => `${row.work}@${row.connections}`);
    expect(keys).toEqual(
      ['holdSeat', 'confirmPayment kept', 'confirmPayment refunded', 'bookingStatuses(100)'].flatMap((work) => [`${work}@8`, `${work}@64`]),
    );
    for (const row of report.rows) {
      for (const m of [row.app, row.baseline]) {
        expect(m.calls).toBeGreaterThan(0);
        expect(m.throughput).toBeGreaterThan(0);
        expect(m.p99).toBeGreaterThan(0);
        // Every call runs SQL, and the server process spends some CPU on the whole phase.
        expect(m.statementsPerCall).toBeGreaterThanOrEqual(1);
        expect(m.cpuMsPerCall).toBeGreaterThan(0);
        expect(m.outcomes['5xx']).toBeUndefined();
      }
      expect(row.ratio.throughput).toBeCloseTo(row.app.throughput / row.baseline.throughput, 6);
      expect(row.ok).toBe(true);
    }
    const kept = report.rows.find((row) => row.work === 'confirmPayment kept')!;
    expect(kept.app.outcomes).toEqual({ PaymentConfirmed: kept.app.calls });
    const refunded = report.rows.find((row) => row.work === 'confirmPayment refunded')!;
    expect(refunded.app.outcomes).toEqual({ PaymentRefunded: refunded.app.calls });
  });

  test('rush: exactly one confirmed buyer per seat, everyone else refused with SEAT_UNAVAILABLE, no 5xx', () => {
    expect(report.rush.map((r) => r.target).sort()).toEqual(['app', 'baseline']);
    for (const rush of report.rush) {
      expect(rush.held).toBe(rush.seats);
      expect(rush.confirmedInDatabase).toBe(rush.seats);
      expect(rush.refusedSeatUnavailable).toBe(rush.buyers - rush.seats);
      expect(rush.hold.outcomes).toEqual({ HELD: rush.seats, SEAT_UNAVAILABLE: rush.buyers - rush.seats });
      expect(rush.ok).toBe(true);
    }
  });
});
