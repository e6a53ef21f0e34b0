import type { MikroORM } from '@mikro-orm/postgresql';
import fetch from 'node-fetch';
import pino from 'pino';
import { JwtIdentity } from '../../src/auth/identity';
import { openDatabase } from '../../src/db/database';
import { startPortOneSimulator, type PortOneSimulator } from '../../src/gateway/portone/sim/portone-simulator';
import { SimulatorControlClient } from '../../src/gateway/portone/sim/simulator-control.client';
import type { Fault, FaultKind, SimulatorEndpoint } from '../../src/gateway/portone/sim/simulator-state';
import { migrateJobQueue } from '../../src/payment/adapters/payment-worker';
import { checkMoneyInvariants, countByClass, type Violation } from '../../test/support/money-invariants-v2';
import { ServerInstance } from './server-instance';

/**
 * The chaos run of issue 10: one PostgreSQL, one PortOne simulator (in this process, injecting faults at
 * random), two API servers as child processes on that one database, killed with SIGKILL independently
 * and restarted, while buyers pay with a realistic mix. Then faults stop, the system settles by itself
 * (bounded wait) and the money invariants are checked against the simulator's ledger.
 */

export type FlowKind =
  | 'exact'
  | 'tampered'
  | 'doublePay'
  | 'confirmReplay'
  | 'closedBrowser'
  | 'lostWebhook'
  | 'notOurs'
  | 'sandbox'
  /** Holds, never pays, and confirms a made-up payment id or another buyer's payment (NOT_FOUND / PAYMENT_ALREADY_USED). */
  | 'bogusConfirm'
  /** Pays and confirms; then the merchant cancels the payment at PortOne's console, in full or in part. */
  | 'consoleCancel';

/** Share of each buyer behaviour (sums to 100). */
export const FLOW_MIX: Array<[FlowKind, number]> = [
  ['exact', 51],
  ['consoleCancel', 4],
  ['bogusConfirm', 5],
  ['tampered', 6],
  ['doublePay', 5],
  ['confirmReplay', 5],
  ['closedBrowser', 10],
  ['lostWebhook', 6],
  ['notOurs', 4],
  ['sandbox', 4],
];

export interface ChaosOptions {
  /** postgres://…/<database>; created and migrated if missing. */
  databaseUrl: string;
  payments: number;
  kills: number;
  /** Share of PortOne API calls that fail (0..1) while faults are on. */
  faultRate: number;
  concurrency: number;
  seed: number;
  /** How long the system may take to settle after the traffic and faults stop. */
  settleTimeoutMs: number;
  holdMinutes: number;
  reconcileIntervalMs: number;
  cwd: string;
  log: (line: string) => void;
}

export interface ChaosReport {
  options: Omit<ChaosOptions, 'log' | 'databaseUrl' | 'cwd'>;
  flows: Record<string, number>;
  answers: Record<string, number>;
  kills: number;
  restarts: number;
  faultsInjected: Record<string, number>;
  database: Record<string, Record<string, number>>;
  ledger: Record<string, number>;
  violations: Violation[];
  violationsByClass: Record<string, number>;
  settledAfterMs: number | null;
  diagnostics: string[];
  elapsedMs: { startup: number; traffic: number; settle: number; total: number };
}

const JWT_SECRET = 'chaos-only-JW18jeWbQgZyT9Hst_IAg3pdxfqMgiF4';
const IMP_KEY = 'chaos-imp-key';
const IMP_SECRET = 'chaos-imp-secret';
const SEAT_PRICE = 20000;
const SEATS_PER_EVENT = 2000;

/** Small seeded PRNG (mulberry32) so a run's mix and fault pattern can be repeated. */
function prng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

interface GqlAnswer {
  data?: Record<string, any> | null;
  errors?: Array<{ message: string; extensions?: { code?: string } }>;
}

export async function runChaos(options: ChaosOptions): Promise<ChaosReport> {
  const t0 = Date.now();
  const random = prng(options.seed);
  const log = options.log;
  const identity = new JwtIdentity(JWT_SECRET);
  const flows: Record<string, number> = {};
  const answers: Record<string, number> = {};
  const faultsInjected: Record<string, number> = {};
  const count = (table: Record<string, number>, key: string) => (table[key] = (table[key] ?? 0) + 1);

  // --- PostgreSQL schema first, once: two servers must not race to create it ---------------------
  const orm: MikroORM = await openDatabase(options.databaseUrl, pino({ level: 'silent' }), { preferTs: true, pool: { min: 0, max: 4 } });
  await migrateJobQueue(options.databaseUrl, pino({ level: 'silent' }));

  // --- PortOne simulator with random faults ------------------------------------------------------
  let faultsOn = true;
  const simulator: PortOneSimulator = await startPortOneSimulator({ impKey: IMP_KEY, impSecret: IMP_SECRET, control: true });
  const takeScripted = simulator.state.takeFault.bind(simulator.state);
  const kinds: FaultKind[] = ['http500', 'http503', 'reset', 'latency'];
  simulator.state.takeFault = (endpoint: SimulatorEndpoint): Fault | null => {
    const scripted = takeScripted(endpoint);
    if (scripted || !faultsOn || random() >= options.faultRate) return scripted;
    const kind: FaultKind = endpoint === 'cancel' && random() < 0.4 ? 'applyThenLose' : kinds[Math.floor(random() * kinds.length)];
    count(faultsInjected, `${endpoint}:${kind}`);
    return { endpoint, kind, remaining: 0, latencyMs: kind === 'latency' ? 2500 : undefined };
  };
  const control = new SimulatorControlClient(simulator.url);

  // --- two servers on one database ----------------------------------------------------------------
  const env = {
    DATABASE_URL: options.databaseUrl,
    JWT_SECRET,
    PORTONE_API_URL: simulator.url,
    PORTONE_IMP_KEY: IMP_KEY,
    PORTONE_IMP_SECRET: IMP_SECRET,
    PORTONE_CONNECT_TIMEOUT_MS: '500',
    PORTONE_RESPONSE_TIMEOUT_MS: '2000',
    REFUND_BACKOFF_BASE_MS: '200',
    REFUND_BACKOFF_MAX_MS: '3000',
    REFUND_RETRY_WINDOW_MS: String(3600_000),
    RECONCILE_INTERVAL_MS: String(options.reconcileIntervalMs),
    RECONCILE_GRACE_MS: '2000',
    HOLD_MINUTES: String(options.holdMinutes),
  };
  // Each server's address is a front that stays bound for the whole run (see ServerInstance): no port race.
  const servers: ServerInstance[] = [];
  const restarts: Array<Promise<void>> = [];
  let report: ChaosReport | null = null;
  try {
    for (const name of ['server-a', 'server-b']) servers.push(await ServerInstance.open(name, env, options.cwd));
    for (const server of servers) await server.start();
    const startupMs = Date.now() - t0;
    log(`chaos: PostgreSQL, simulator and 2 servers up in ${(startupMs / 1000).toFixed(1)} s`);

    const upServer = async (): Promise<ServerInstance> => {
      for (let i = 0; i < 400; i += 1) {
        const up = servers.filter((s) => s.up);
        if (up.length > 0) return up[Math.floor(random() * up.length)];
        await sleep(100);
      }
      throw new Error('no server came back within 40 s');
    };
    /** A client request to whichever server is up; a dropped connection is retried on a server that is up. */
    const gql = async (query: string, variables: Record<string, unknown>, token: string, retries = 4): Promise<GqlAnswer | null> => {
      for (let attempt = 0; attempt <= retries; attempt += 1) {
        const server = await upServer();
        try {
          const response = await fetch(`${server.url}/graphql`, {
            method: 'POST',
            headers: { 'content-type': 'application/json', authorization: `Bearer ${token}` },
            body: JSON.stringify({ query, variables }),
            timeout: 30_000,
          });
          if (response.status >= 500 && response.headers.get('content-type')?.includes('json') !== true) throw new Error(`HTTP ${response.status}`);
          return (await response.json()) as GqlAnswer;
        } catch {
          await sleep(150 + random() * 300);
        }
      }
      return null;
    };
    const tokens = new Map<string, string>();
    const tokenFor = async (user: string, roles: string[] = []) => {
      const key = `${user}:${roles.join(',')}`;
      if (!tokens.has(key)) tokens.set(key, await identity.sign(user, { roles }));
      return tokens.get(key)!;
    };

    // --- seats -----------------------------------------------------------------------------------
    const admin = await tokenFor('chaos-admin', ['admin']);
    const seatIds: string[] = [];
    const wanted = Math.ceil(options.payments * 1.05) + 10;
    for (let e = 0; seatIds.length < wanted; e += 1) {
      const size = Math.min(SEATS_PER_EVENT, wanted - seatIds.length);
      const created = await gql(
        `mutation($input: CreateEventInput!) { createEvent(input: $input) { seats { id } } }`,
        {
          input: {
            title: `Chaos ${e}`,
            startsAt: new Date(Date.now() + 30 * 86400_000).toISOString(),
            seats: Array.from({ length: size }, (_, i) => ({ label: `E${e}-${i}`, price: SEAT_PRICE })),
          },
        },
        admin,
      );
      if (!created?.data) throw new Error(`createEvent failed: ${JSON.stringify(created?.errors)}`);
      seatIds.push(...created.data.createEvent.seats.map((s: { id: string }) => s.id));
    }

    // --- buyers ----------------------------------------------------------------------------------
    const HOLD = `mutation($input: HoldSeatInput!) { holdSeat(input: $input) { id merchantUid amount } }`;
    const CONFIRM = `mutation($input: ConfirmPaymentInput!) { confirmPayment(input: $input) { __typename ... on PaymentRefunded { reason } } }`;
    const answerOf = (answer: GqlAnswer | null): string => {
      if (!answer) return 'no answer';
      if (answer.errors?.length) return answer.errors[0].extensions?.code ?? 'error';
      const value = answer.data?.confirmPayment;
      return value?.__typename === 'PaymentRefunded' ? `PaymentRefunded:${value.reason}` : (value?.__typename ?? 'no data');
    };
    const pay = async (input: { merchantUid: string; amount: number; sandbox?: boolean; webhook: boolean }): Promise<string> => {
      // PortOne's notification goes through the load balancer: to a server that is up when the payment is made.
      const up = servers.filter((x) => x.up);
      const pool = up.length > 0 ? up : servers;
      const target = pool[Math.floor(random() * pool.length)];
      const response = await fetch(`${simulator.url}/__control/payments`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({
          merchant_uid: input.merchantUid,
          amount: input.amount,
          sandbox: input.sandbox ?? false,
          notice_url: `${target.url}/webhooks/portone`,
          webhook: input.webhook,
        }),
      });
      const body = (await response.json()) as { imp_uid: string };
      return body.imp_uid;
    };
    const pickKind = (): FlowKind => {
      let roll = random() * 100;
      for (const [kind, share] of FLOW_MIX) {
        if ((roll -= share) < 0) return kind;
      }
      return 'exact';
    };

    const recentPayments: string[] = [];
    let nextSeat = 0;
    let completed = 0;
    const flow = async (n: number): Promise<void> => {
      const kind = pickKind();
      count(flows, kind);
      const buyer = await tokenFor(`chaos-buyer-${n % 500}`);
      const seatId = seatIds[nextSeat++ % seatIds.length];
      const held = await gql(HOLD, { input: { seatId } }, buyer);
      const reservation = held?.data?.holdSeat as { id: string; merchantUid: string; amount: number } | undefined;
      if (!reservation) {
        count(answers, `${kind}:hold ${held?.errors?.[0]?.extensions?.code ?? 'no answer'}`);
        return;
      }
      const confirm = async (paymentId: string) => {
        const answer = await gql(CONFIRM, { input: { reservationId: reservation.id, paymentId, merchantUid: reservation.merchantUid } }, buyer, 1);
        count(answers, `${kind}:${answerOf(answer)}`);
      };
      const exact = { merchantUid: reservation.merchantUid, amount: reservation.amount };
      switch (kind) {
        case 'exact': {
          const paymentId = await pay({ ...exact, webhook: true });
          recentPayments[n % 64] = paymentId;
          await confirm(paymentId);
          break;
        }
        case 'bogusConfirm': {
          const others = recentPayments.filter(Boolean);
          await confirm(random() < 0.5 || others.length === 0 ? `imp_bogus_${options.seed}_${n}` : others[Math.floor(random() * others.length)]);
          break;
        }
        case 'tampered':
          await confirm(await pay({ ...exact, amount: reservation.amount - 1000, webhook: true }));
          break;
        case 'doublePay': {
          const first = await pay({ ...exact, webhook: true });
          await pay({ ...exact, webhook: random() < 0.5 });
          await confirm(first);
          break;
        }
        case 'confirmReplay': {
          const paymentId = await pay({ ...exact, webhook: true });
          await confirm(paymentId);
          await confirm(paymentId);
          break;
        }
        case 'closedBrowser':
          await pay({ ...exact, webhook: true });
          count(answers, `${kind}:no confirm`);
          break;
        case 'lostWebhook':
          await pay({ ...exact, webhook: false });
          count(answers, `${kind}:no confirm`);
          break;
        case 'notOurs':
          await confirm(await pay({ merchantUid: `othershop_${options.seed}_${n}`, amount: 990000, webhook: true }));
          break;
        case 'sandbox':
          await confirm(await pay({ ...exact, sandbox: true, webhook: true }));
          break;
        case 'consoleCancel': {
          const paymentId = await pay({ ...exact, webhook: true });
          await confirm(paymentId);
          // Two in three in full (the booking must end, its seat freed); the rest in part (an operator decides).
          const full = random() < 2 / 3;
          await control.consoleCancel(paymentId, full ? undefined : 5000);
          count(answers, `${kind}:${full ? 'cancelled in full' : 'cancelled 5000'} at the console`);
          break;
        }
      }
    };

    // --- traffic, with kills spread over it ------------------------------------------------------
    const tTraffic = Date.now();
    let next = 0;
    const workers = Array.from({ length: options.concurrency }, async () => {
      while (next < options.payments) {
        const n = next++;
        try {
          await flow(n);
        } catch (error) {
          count(answers, `flow failed: ${(error as Error).message.slice(0, 80)}`);
        }
        completed += 1;
      }
    });
    const killer = (async () => {
      for (let k = 0; k < options.kills; k += 1) {
        const threshold = ((k + 1) * options.payments) / (options.kills + 1);
        while (completed < threshold && completed < options.payments) await sleep(50);
        if (completed >= options.payments && k > 0) {
          // Traffic ended first (few payments): keep killing at a steady pace so every kill still happens.
          await sleep(500);
        }
        const candidates = servers.filter((s) => s.up);
        if (candidates.length === 0) {
          await sleep(500);
          k -= 1;
          continue;
        }
        const victim = candidates[Math.floor(random() * candidates.length)];
        await victim.kill();
        log(`chaos: SIGKILL ${victim.name} (kill ${k + 1}/${options.kills}, ${completed}/${options.payments} payments done)`);
        restarts.push(
          (async () => {
            await sleep(200 + random() * 1000);
            await victim.start();
          })(),
        );
      }
    })();
    await Promise.all([...workers, killer]);
    await Promise.all(restarts);
    const trafficMs = Date.now() - tTraffic;
    log(`chaos: ${options.payments} payment flows done in ${(trafficMs / 1000).toFixed(1)} s; faults off, settling`);

    // --- settle ----------------------------------------------------------------------------------
    faultsOn = false;
    const tSettle = Date.now();
    const connection = orm.em.getConnection();
    const query = (sql: string) => connection.execute(sql);
    let violations: Violation[] = [];
    let settledAfterMs: number | null = null;
    for (;;) {
      violations = await checkMoneyInvariants(query, await control.ledger(), { allowPending: false });
      if (violations.length === 0) {
        settledAfterMs = Date.now() - tSettle;
        break;
      }
      if (Date.now() - tSettle > options.settleTimeoutMs) break;
      await sleep(2000);
    }
    const settleMs = Date.now() - tSettle;

    // What the lead needs to start from: the reservations behind unsettled payments, and the job queue.
    const diagnostics: string[] = [];
    for (const v of violations.filter((x) => x.class === 'I1-UNSETTLED').slice(0, 5)) {
      const uid = /order (\S+)/.exec(v.detail)?.[1];
      const rows = await query(
        `select status, expires_at, payment_reported_at, reconciled_at from reservation where merchant_uid = '${uid?.replace(/'/g, '') ?? ''}'`,
      );
      diagnostics.push(`${v.gatewayPaymentId} ${uid}: ${JSON.stringify(rows[0] ?? null)}`);
    }
    for (const row of await query(
      `select task_identifier as task, count(*)::int as n, count(locked_at)::int as locked, min(run_at) as next_run, max(attempts)::int as max_attempts, max(last_error) as last_error
         from graphile_worker.jobs group by task_identifier`,
    )) {
      diagnostics.push(`jobs ${JSON.stringify(row)}`);
    }
    diagnostics.push(`database now ${JSON.stringify((await query('select now() as now'))[0])}`);

    const grouped = async (sql: string) =>
      Object.fromEntries((await query(sql)).map((r) => [String(r.k), Number(r.n)])) as Record<string, number>;
    const ledger = await control.ledger();
    report = {
      options: {
        payments: options.payments,
        kills: options.kills,
        faultRate: options.faultRate,
        concurrency: options.concurrency,
        seed: options.seed,
        settleTimeoutMs: options.settleTimeoutMs,
        holdMinutes: options.holdMinutes,
        reconcileIntervalMs: options.reconcileIntervalMs,
      },
      flows,
      answers,
      kills: servers.reduce((sum, s) => sum + s.kills, 0),
      restarts: servers.reduce((sum, s) => sum + s.starts, 0) - servers.length,
      faultsInjected,
      database: {
        reservations: await grouped(`select status::text as k, count(*)::int as n from reservation group by 1`),
        decisions: await grouped(`select decision::text as k, count(*)::int as n from payment group by 1`),
        refunds: await grouped(`select reason::text || '/' || status::text as k, count(*)::int as n from refund group by 1`),
      },
      ledger: {
        payments: ledger.payments.length,
        paid: ledger.payments.filter((p) => p.status === 'paid').length,
        cancelled: ledger.payments.filter((p) => p.status === 'cancelled').length,
        cancelRequests: ledger.cancelRequests.length,
        cancelsApplied: ledger.cancelRequests.filter((c) => c.applied).length,
        webhooksSent: ledger.webhooks.length,
        webhooksFailed: ledger.webhooks.filter((w) => w.httpStatus === null || w.httpStatus >= 500).length,
        ...Object.fromEntries(
          Object.entries(
            ledger.webhooks.reduce<Record<string, number>>((acc, w) => {
              const key = `webhook ${w.httpStatus ?? (w.error ?? 'no answer').slice(0, 40)}`;
              acc[key] = (acc[key] ?? 0) + 1;
              return acc;
            }, {}),
          ),
        ),
      },
      violations,
      violationsByClass: countByClass(violations),
      settledAfterMs,
      diagnostics,
      elapsedMs: { startup: startupMs, traffic: trafficMs, settle: settleMs, total: Date.now() - t0 },
    };
    return report;
  } finally {
    faultsOn = false;
    await Promise.allSettled(restarts);
    for (const server of servers) await server.stop().catch(() => undefined);
    if (!report) for (const server of servers) log(`--- ${server.name} output (tail) ---\n${server.output()}`);
    await simulator.close();
    await orm.close(true);
  }
}

export function formatChaosReport(report: ChaosReport): string {
  const table = (values: Record<string, number>) =>
    Object.entries(values)
      .sort(([a], [b]) => a.localeCompare(b))
      .map(([k, v]) => `    ${k.padEnd(48)} ${v}`)
      .join('\n');
  const seconds = (ms: number) => `${(ms / 1000).toFixed(1)} s`;
  return [
    `chaos summary (seed ${report.options.seed}): ${report.options.payments} payments, ${report.kills} SIGKILLs (${report.restarts} restarts), fault rate ${report.options.faultRate}`,
    `  elapsed: startup ${seconds(report.elapsedMs.startup)}, traffic ${seconds(report.elapsedMs.traffic)}, settle ${seconds(report.elapsedMs.settle)}, total ${seconds(report.elapsedMs.total)}`,
    `  settled: ${report.settledAfterMs === null ? `NO (still violated after ${seconds(report.options.settleTimeoutMs)})` : `after ${seconds(report.settledAfterMs)}`}`,
    '  flows:',
    table(report.flows),
    '  client answers:',
    table(report.answers),
    '  PortOne faults injected:',
    table(report.faultsInjected),
    '  reservations:',
    table(report.database.reservations),
    '  decisions:',
    table(report.database.decisions),
    '  refunds (reason/status):',
    table(report.database.refunds),
    '  simulator ledger:',
    table(report.ledger),
    `  violations: ${report.violations.length}`,
    table(report.violationsByClass),
    ...report.violations.slice(0, 15).map((v) => `    ${v.class} ${v.gatewayPaymentId ?? ''}: ${v.detail}`),
    ...(report.violations.length > 0 ? ['  diagnostics:', ...report.diagnostics.map((d) => `    ${d}`)] : []),
  ].join('\n');
}
