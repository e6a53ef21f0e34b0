import { ConfirmPaymentDocument, CreateEventDocument, HoldSeatDocument } from '../../generated/graphql';
import { print } from 'graphql';
import fetch from 'node-fetch';
import type { MikroORM } from '@mikro-orm/postgresql';
import { JwtIdentity } from '../../../src/auth/identity';
import { expectMoneyInvariantsV2 } from '../../support/money-invariants-portone-v2';
import { startServerProcess, type ServerProcess } from '../../support/server-process';
import { startSimulatorHarnessV2, type SimulatorHarnessV2 } from '../../support/simulator-harness-v2';
import { openTestDatabase, resetDatabase, testDatabaseUrl } from '../../support/test-database';
import { TEST_JWT_SECRET } from '../../support/test-app';

/**
 * crash-recovery.e2e.test.ts with PORTONE_VERSION=v2: a process is SIGKILLed at each failpoint of the
 * payment path, and after a restart the V2 sweep settles every payment: it backs one confirmed booking or
 * is cancelled exactly once. To keep CI time down, the four crashing processes start together (each one
 * takes one payment through to its failpoint, one after the other) and one restart recovers them all.
 */
let orm: MikroORM;
let v2: SimulatorHarnessV2;
const identity = new JwtIdentity(TEST_JWT_SECRET);
const RECONCILE_INTERVAL_MS = 1000;

beforeAll(async () => {
  orm = await openTestDatabase();
  v2 = await startSimulatorHarnessV2();
});
afterAll(async () => {
  await v2.close();
  await orm.close(true);
});

function serverEnv(failpoints?: string, reconcileIntervalMs = RECONCILE_INTERVAL_MS): Record<string, string> {
  return {
    DATABASE_URL: testDatabaseUrl(),
    JWT_SECRET: TEST_JWT_SECRET,
    PORTONE_VERSION: 'v2',
    PORTONE_API_URL: v2.url,
    PORTONE_API_SECRET: v2.apiSecret,
    PORTONE_STORE_ID: v2.storeId,
    PORTONE_WEBHOOK_SECRET: v2.webhookSecrets.join(','),
    PORTONE_CONNECT_TIMEOUT_MS: '500',
    PORTONE_RESPONSE_TIMEOUT_MS: '1500',
    REFUND_BACKOFF_BASE_MS: '200',
    REFUND_BACKOFF_MAX_MS: '1000',
    RECONCILE_INTERVAL_MS: String(reconcileIntervalMs),
    RECONCILE_GRACE_MS: '2000',
    ...(failpoints ? { FAILPOINTS: failpoints } : {}),
  };
}

async function gql(server: ServerProcess, document: Parameters<typeof print>[0], variables: unknown, token: string) {
  const response = await fetch(`${server.url}/graphql`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', authorization: `Bearer ${token}` },
    body: JSON.stringify({ query: print(document), variables }),
  });
  return (await response.json()) as { data?: any; errors?: Array<{ message: string; extensions?: { code?: string } }> };
}

async function waitForInvariants(timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    try {
      await expectMoneyInvariantsV2({ orm, v2 });
      return;
    } catch (error) {
      if (Date.now() > deadline) throw error;
      await new Promise((resolve) => setTimeout(resolve, 250));
    }
  }
}

/** Ordered so that no crashed flow leaves work (a queued refund) a later, still armed process could pick up. */
const CASES: Array<[failpoint: string, amountDelta: number]> = [
  ['after-gateway-read', 0],
  ['before-decision-commit', -1000],
  ['after-decision-commit', 0],
  ['after-cancel-sent', -1000],
];

test('V2: killed at each failpoint, one restart recovers every payment (kept ones never cancelled, others cancelled once)', async () => {
  await resetDatabase(orm);
  await v2.reset();
  // The armed processes do not sweep (one-hour interval): a sweep could take another case's payment to its failpoint.
  const crashing = await Promise.all(CASES.map(([failpoint]) => startServerProcess(serverEnv(`${failpoint}=kill`, 3_600_000))));
  let recovery: ServerProcess | null = null;
  try {
    const admin = await identity.sign('admin', { roles: ['admin'] });
    const buyer = await identity.sign('crash-buyer');
    const payments: string[] = [];
    for (const [index, [failpoint, amountDelta]] of CASES.entries()) {
      const server = crashing[index];
      const created = await gql(
        server,
        CreateEventDocument,
        { input: { title: `Crash at ${failpoint}`, startsAt: new Date(Date.now() + 86400_000).toISOString(), seats: [{ label: 'A1', price: 20000 }] } },
        admin,
      );
      const reservation = (await gql(server, HoldSeatDocument, { input: { seatId: created.data.createEvent.seats[0].id } }, buyer)).data.holdSeat;
      // V2: the window is opened with paymentId = reservation.merchantUid.
      const paymentId = await v2.pay({ merchantUid: reservation.merchantUid, amount: reservation.amount + amountDelta });
      payments.push(paymentId);
      await gql(server, ConfirmPaymentDocument, { input: { reservationId: reservation.id, paymentId, merchantUid: reservation.merchantUid } }, buyer).catch(
        () => undefined,
      );
      await server.exited;
      expect([failpoint, server.child.signalCode]).toEqual([failpoint, 'SIGKILL']);
    }
    // The armed processes scheduled the next sweep an hour away; the restarted one sweeps now.
    await orm.em.getConnection().execute(`delete from graphile_worker._private_jobs where key = 'reconcile'`);
    recovery = await startServerProcess(serverEnv());
    await waitForInvariants(RECONCILE_INTERVAL_MS * 15 + 25000);
    for (const [index, [failpoint, amountDelta]] of CASES.entries()) {
      const cancels = await v2.cancelRequests(payments[index]);
      expect([failpoint, cancels.filter((c) => c.applied).length]).toEqual([failpoint, amountDelta === 0 ? 0 : 1]);
      // Every cancel of the one refund, before and after the crash, carried the same Idempotency-Key.
      expect(new Set(cancels.map((c) => c.idempotencyKey)).size).toBeLessThanOrEqual(1);
    }
  } finally {
    for (const server of crashing) await server.kill();
    await recovery?.kill();
  }
});
