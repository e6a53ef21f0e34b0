/**
 * `npm run chaos [-- --payments 10000 --kills 50 --fault-rate 0.2 --concurrency 16 --seed 1 --settle-timeout-s 600]`
 *
 * One embedded PostgreSQL, one PortOne simulator injecting faults, two API servers (child processes on
 * the one database) SIGKILLed and restarted independently, and buyers paying with a realistic mix. Then
 * faults stop, the system settles by itself and the money invariants (I1–I5, never cancel what is not
 * ours) are checked against the simulator's ledger. Prints a summary; exits 1 on any violation.
 */
import { chmodSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { startEmbeddedPostgres } from '../src/db/embedded-postgres';
import { formatChaosReport, runChaos } from './chaos/chaos-run';

async function main(): Promise<number> {
  const { values } = parseArgs({
    options: {
      payments: { type: 'string', default: '10000' },
      kills: { type: 'string', default: '50' },
      'fault-rate': { type: 'string', default: '0.2' },
      concurrency: { type: 'string', default: '16' },
      seed: { type: 'string' },
      'settle-timeout-s': { type: 'string' },
      'hold-minutes': { type: 'string', default: '1' },
      'reconcile-interval-ms': { type: 'string', default: '1000' },
      'database-url': { type: 'string' },
      json: { type: 'boolean', default: false },
    },
  });
  const number = (name: string, raw: string | undefined, min: number, max: number): number => {
    const value = Number(raw);
    if (raw === undefined || !Number.isFinite(value) || value < min || value > max) {
      throw new Error(`--${name} must be a number from ${min} to ${max} (got "${raw}")`);
    }
    return value;
  };
  const payments = number('payments', values.payments, 1, 1_000_000);
  const kills = number('kills', values.kills, 0, 10_000);
  const faultRate = number('fault-rate', values['fault-rate'], 0, 0.9);
  const concurrency = number('concurrency', values.concurrency, 1, 256);
  const seed = values.seed === undefined ? Math.floor(Math.random() * 2 ** 31) : number('seed', values.seed, 0, 2 ** 31);
  const holdMinutes = number('hold-minutes', values['hold-minutes'], 1, 60);
  const settleTimeoutMs =
    1000 * (values['settle-timeout-s'] === undefined ? Math.max(180, holdMinutes * 60 + 120, payments / 20) : number('settle-timeout-s', values['settle-timeout-s'], 1, 86400));

  let databaseUrl = values['database-url'];
  let stopPostgres: (() => Promise<void>) | null = null;
  let dataDir: string | null = null;
  if (!databaseUrl) {
    dataDir = mkdtempSync(join(tmpdir(), 'booking-chaos-pg-'));
    chmodSync(dataDir, 0o755);
    const pg = await startEmbeddedPostgres({ dataDir, persistent: false });
    databaseUrl = `${pg.baseUrl}/booking_chaos`;
    stopPostgres = () => pg.stop();
  }
  try {
    const report = await runChaos({
      databaseUrl,
      payments,
      kills,
      faultRate,
      concurrency,
      seed,
      settleTimeoutMs,
      holdMinutes,
      reconcileIntervalMs: number('reconcile-interval-ms', values['reconcile-interval-ms'], 100, 600_000),
      cwd: process.cwd(),
      log: (line) => process.stdout.write(`${line}\n`),
    });
    process.stdout.write(`${values.json ? JSON.stringify(report, null, 2) : formatChaosReport(report)}\n`);
    return report.violations.length === 0 ? 0 : 1;
  } finally {
    await stopPostgres?.();
    if (dataDir) rmSync(dataDir, { recursive: true, force: true });
  }
}

main().then(
  (code) => process.exit(code),
  (error) => {
    process.stderr.write(`chaos run failed: ${error instanceof Error ? (error.stack ?? error.message) : String(error)}\n`);
    process.exit(2);
  },
);
