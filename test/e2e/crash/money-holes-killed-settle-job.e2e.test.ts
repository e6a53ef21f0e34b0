import type { MikroORM } from '@mikro-orm/postgresql';
import { print } from 'graphql';
import fetch from 'node-fetch';
import { JwtIdentity } from '../../../src/auth/identity';
import { CreateEventDocument, HoldSeatDocument } from '../../generated/graphql';
import { expectMoneyInvariants } from '../../support/money-invariants';
import { paymentRowsOf, reservationRow, simulatorControl } from '../../support/money-holes';
import { startServerProcess, type ServerProcess } from '../../support/server-process';
import { startSimulatorHarness, type SimulatorHarness } from '../../support/simulator-harness';
import { TEST_JWT_SECRET } from '../../support/test-app';
import { openTestDatabase, resetDatabase, testDatabaseUrl } from '../../support/test-database';
import { waitFor } from '../../support/wait';

/**
 * Issue 10, load finding (c): the process running a webhook's settle job is SIGKILLed. graphile-worker
 * keeps such a job locked for 4 hours; another instance must settle the payment within a few
 * reconciliation intervals (here 1 s each) and release the dead worker's lock well before that.
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
  return (await response.json()) as { data?: any; errors?: unknown[] };
}

async function settleJob(impUid: string): Promise<{ locked_by: string | null } | undefined> {
  const rows: Array<{ locked_by: string | null }> = await orm.em
    .getConnection()
    .execute('select locked_by from graphile_worker._private_jobs where key = ?', [`settle:${impUid}`]);
  return rows[0];
}

// Today: nobody settles the payment (the job stays locked for 4 h; reconciliation skips the live hold): the first waitFor times out.
test('load (c): a settle job locked by a killed process is taken over within a few reconciliation intervals', async () => {
  await resetDatabase(orm);
  await simulator.reset();
  const sim = simulatorControl(simulator.url);
  let server = await startServerProcess(serverEnv('after-gateway-read=kill'));
  try {
    const admin = await identity.sign('admin', { roles: ['admin'] });
    const buyer = await identity.sign('webhook-only-buyer');
    const created = await gql(
      server,
      CreateEventDocument,
      { input: { title: 'Kill test', startsAt: new Date(Date.now() + 86400_000).toISOString(), seats: [{ label: 'A1', price: 20000 }] } },
      admin,
    );
    const reservation = (await gql(server, HoldSeatDocument, { input: { seatId: created.data.createEvent.seats[0].id } }, buyer)).data.holdSeat;
    // The buyer closed the browser: only PortOne's notification tells us; the process dies settling it.
    const payment = await sim.createPayment({ merchantUid: reservation.merchantUid, amount: reservation.amount, noticeUrl: `${server.url}/webhooks/portone` });
    await Promise.race([server.exited, new Promise((_, reject) => setTimeout(() => reject(new Error('the server was not killed')), 20_000))]);
    expect(server.child.signalCode).toBe('SIGKILL');
    const lockedBy = (await settleJob(payment.imp_uid))?.locked_by;
    expect(lockedBy).toEqual(expect.any(String));

    server = await startServerProcess(serverEnv());
    // The payment is settled by the other instance within a few reconciliation intervals...
    await waitFor(async () => (await paymentRowsOf(orm, payment.imp_uid)).length > 0, RECONCILE_INTERVAL_MS * 10 + 10_000, 250);
    // ...and the dead worker's lock is released long before graphile-worker's 4 hours. How long a lock
    // must be held before it counts as a dead worker's is the server's choice (a live but slow worker
    // must keep its job); a minute and a half is plenty here.
    await waitFor(async () => (await settleJob(payment.imp_uid))?.locked_by !== lockedBy, 90_000, 500);
    expect(await paymentRowsOf(orm, payment.imp_uid)).toEqual([expect.objectContaining({ decision: 'CONFIRMED' })]);
    expect((await reservationRow(orm, reservation.id)).status).toBe('CONFIRMED');
    expect(await sim.cancelRequests(payment.imp_uid)).toEqual([]);
    await expectMoneyInvariants({ orm, simulator });
  } finally {
    await server.kill();
  }
}, 180_000);
