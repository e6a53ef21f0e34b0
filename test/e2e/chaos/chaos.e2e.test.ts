import { formatChaosReport, runChaos } from '../../../scripts/chaos/chaos-run';

/**
 * The chaos run of `npm run chaos` at CI size: two servers on one database, SIGKILLed and restarted
 * independently, 20 % PortOne faults, a realistic buyer mix; afterwards every money invariant holds
 * against the simulator's ledger. `npm run chaos -- --payments 10000 --kills 50` is the full size.
 */
const PAYMENTS = Number(process.env.CHAOS_PAYMENTS ?? 300);
const KILLS = Number(process.env.CHAOS_KILLS ?? 4);
const SETTLE_TIMEOUT_MS = Number(process.env.CHAOS_SETTLE_TIMEOUT_MS ?? 90_000);

jest.setTimeout(SETTLE_TIMEOUT_MS + 600_000);

test(`chaos: ${PAYMENTS} payments, ${KILLS} SIGKILLs of two servers, 20 % PortOne faults: no money invariant violated`, async () => {
  const base = process.env.TEST_PG_BASE_URL;
  if (!base) throw new Error('TEST_PG_BASE_URL is not set: run through jest (global setup starts PostgreSQL)');
  const report = await runChaos({
    databaseUrl: `${base}/booking_chaos_${process.env.JEST_WORKER_ID ?? '1'}_${Date.now()}`,
    payments: PAYMENTS,
    kills: KILLS,
    faultRate: 0.2,
    concurrency: 8,
    seed: Number(process.env.CHAOS_SEED ?? 20261125),
    settleTimeoutMs: SETTLE_TIMEOUT_MS,
    holdMinutes: 1,
    reconcileIntervalMs: 1000,
    cwd: process.cwd(),
    log: (line) => process.stdout.write(`${line}\n`),
  });
  process.stdout.write(`${formatChaosReport(report)}\n`);
  expect(report.kills).toBe(KILLS);
  // By class: the summary above names the payments.
  expect(report.violationsByClass).toEqual({});
});
