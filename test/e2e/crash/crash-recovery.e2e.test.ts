import { ConfirmPaymentDocument, CreateEventDocument, HoldSeatDocument } from '../../generated/graphql';
import { print } from 'graphql';
import fetch from 'node-fetch';
import { JwtIdentity } from '../../../src/auth/identity';
import { expectMoneyInvariants } from '../../support/money-invariants';
import { startServerProcess, type ServerProcess } from '../../support/server-process';
import { startSimulatorHarness, type SimulatorHarness } from '../../support/simulator-harness';
import { openTestDatabase, resetDatabase, testDatabaseUrl } from '../../support/test-database';
import { TEST_JWT_SECRET } from '../../support/test-app';
import type { MikroORM } from '@mikro-orm/postgresql';

/**
 * The process is SIGKILLed at each failpoint of the payment path, restarted, and within the
 * reconciliation interval every paid payment backs one confirmed booking or is cancelled exactly once.
 */
let orm: MikroORM;
let simulator: SimulatorHarness;
const identity = new JwtIdentity(TEST_JWT_SECRET);
const RECONCILE_INTERVAL_MS = 1000;

beforeAll(async () => {
  orm = await openTestDatabase();
  simulator = await startSimulatorHarness();
});
afterAll(async () => {
  await simulator.close();
  await orm.close(true);
});

function serverEnv(failpoints?: string): Record<string, string> {
  return {
    DATABASE_URL: testDatabaseUrl(),
    JWT_SECRET: TEST_JWT_SECRET,
    PORTONE_API_URL: simulator.url,
    PORTONE_IMP_KEY: simulator.impKey,
    PORTONE_IMP_SECRET: simulator.impSecret,
    PORTONE_CONNECT_TIMEOUT_MS: '500',
    PORTONE_RESPONSE_TIMEOUT_MS: '1500',
    REFUND_BACKOFF_BASE_MS: '200',
    REFUND_BACKOFF_MAX_MS: '1000',
    RECONCILE_INTERVAL_MS: String(RECONCILE_INTERVAL_MS),
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
      await expectMoneyInvariants({ orm, simulator });
      return;
    } catch (error) {
      if (Date.now() > deadline) throw error;
      await new Promise((resolve) => setTimeout(resolve, 250));
    }
  }
}

describe.each([
  ['after-gateway-read', 0],
  ['before-decision-commit', -1000],
  ['after-decision-commit', -1000],
  ['after-cancel-sent', -1000],
  ['after-decision-commit', 0],
])('killed at %s (amount off by %d)', (failpoint, amountDelta) => {
  test('restart recovers: the payment backs one confirmed booking or is cancelled exactly once', async () => {
    await resetDatabase(orm);
    await simulator.reset();
    let server = await startServerProcess(serverEnv(`${failpoint}=kill`));
    try {
      const admin = await identity.sign('admin', { roles: ['admin'] });
      const buyer = await identity.sign('crash-buyer');
      const created = await gql(
        server,
        CreateEventDocument,
        { input: { title: 'Crash test', startsAt: new Date(Date.now() + 86400_000).toISOString(), seats: [{ label: 'A1', price: 20000 }] } },
        admin,
      );
      const held = await gql(server, HoldSeatDocument, { input: { seatId: created.data.createEvent.seats[0].id } }, buyer);
      const reservation = held.data.holdSeat;
      const impUid = await simulator.pay({ merchantUid: reservation.merchantUid, amount: reservation.amount + amountDelta });

      // The process dies somewhere inside this call; the client sees the connection drop.
      await gql(server, ConfirmPaymentDocument, { input: { reservationId: reservation.id, paymentId: impUid, merchantUid: reservation.merchantUid } }, buyer).catch(
        () => undefined,
      );
      await server.exited;
      expect(server.child.signalCode).toBe('SIGKILL');

      server = await startServerProcess(serverEnv());
      await waitForInvariants(RECONCILE_INTERVAL_MS * 15 + 25000);
      const applied = (await simulator.cancelRequests(impUid)).filter((c) => c.applied);
      expect(applied).toHaveLength(amountDelta === 0 ? 0 : 1);
    } finally {
      await server.kill();
    }
  });
});
