import { expectMoneyInvariants } from '../../support/money-invariants';
import { paymentRowsOf, reservationRow, simulatorControl } from '../../support/money-holes';
import { CRASH_TEST_RECONCILE_INTERVAL_MS, crashTestServerEnv, holdOneSeatOverHttp, startServerProcess } from '../../support/server-process';
import { useSimulatorHarness } from '../../support/simulator-harness';
import { useTestDatabase } from '../../support/test-database';
import { waitFor } from '../../support/wait';

/**
 * Issue 10, load finding (c): the process running a webhook's settle job is SIGKILLed. graphile-worker
 * keeps such a job locked for 4 hours; another instance must settle the payment within a few
 * reconciliation intervals (here 1 s each) and release the dead worker's lock well before that.
 */
const orm = useTestDatabase();
const simulator = useSimulatorHarness();

async function settleJob(impUid: string): Promise<{ locked_by: string | null } | undefined> {
  const rows: Array<{ locked_by: string | null }> = await orm.em
    .getConnection()
    .execute('select locked_by from graphile_worker._private_jobs where key = ?', [`settle:${impUid}`]);
  return rows[0];
}

// Today: nobody settles the payment (the job stays locked for 4 h; reconciliation skips the live hold): the first waitFor times out.
test('load (c): a settle job locked by a killed process is taken over within a few reconciliation intervals', async () => {
  const sim = simulatorControl(simulator.url);
  let server = await startServerProcess(crashTestServerEnv(simulator, { failpoints: 'after-gateway-read=kill' }));
  try {
    const { reservation } = await holdOneSeatOverHttp(server, { title: 'Kill test', buyerId: 'webhook-only-buyer' });
    // The buyer closed the browser: only PortOne's notification tells us; the process dies settling it.
    const payment = await sim.createPayment({ merchantUid: reservation.merchantUid, amount: reservation.amount, noticeUrl: `${server.url}/webhooks/portone` });
    await Promise.race([server.exited, new Promise((_, reject) => setTimeout(() => reject(new Error('the server was not killed')), 20_000))]);
    expect(server.child.signalCode).toBe('SIGKILL');
    const lockedBy = (await settleJob(payment.imp_uid))?.locked_by;
    expect(lockedBy).toEqual(expect.any(String));

    server = await startServerProcess(crashTestServerEnv(simulator));
    // The payment is settled by the other instance within a few reconciliation intervals...
    await waitFor(async () => (await paymentRowsOf(orm, payment.imp_uid)).length > 0, CRASH_TEST_RECONCILE_INTERVAL_MS * 10 + 10_000, 250);
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
