import { Failpoints } from '../../../src/failpoints';
import { refundAttemptLeaseMs } from '../../../src/payment/refunds/refund-attempts';
import { ConfirmPaymentDocument, HoldSeatDocument } from '../../generated/graphql';
import { createEventViaApi } from '../../support/fixtures';
import { expectMoneyInvariants } from '../../support/money-invariants';
import { refundRowsOf, simulatorControl, sleep, type SimulatorControl } from '../../support/money-holes';
import { startTestApp, type TestApp } from '../../support/test-app';
import { waitFor } from '../../support/wait';

/**
 * Review: a refund is created already claimed (attempt 1, leased) by its decision, and its first attempt
 * runs in the request after commit. When that attempt never happens (the process failed right after the
 * commit), the backup job due at lease end, or else reconciliation's overdue requeue, must still cancel
 * the payment exactly once. The lease is short here (it follows the PortOne timeouts): about 9 s.
 */
let t: TestApp;
let sim: SimulatorControl;
const failpoints = new Failpoints();

beforeAll(async () => {
  t = await startTestApp({
    failpoints,
    startWorker: true,
    env: {
      PORTONE_CONNECT_TIMEOUT_MS: '200',
      PORTONE_RESPONSE_TIMEOUT_MS: '300',
      HTTP_CONNECTION_TIMEOUT_MS: '5000',
      REFUND_BACKOFF_BASE_MS: '100',
      REFUND_BACKOFF_MAX_MS: '200',
      RECONCILE_GRACE_MS: '500',
    },
  });
  sim = simulatorControl(t.simulator.url);
});
afterAll(async () => {
  await t.close();
});
beforeEach(async () => {
  await t.reset();
  failpoints.disable();
});
afterEach(async () => {
  failpoints.disable();
  await expectMoneyInvariants(t);
});

async function overpaidAndDecidedWithoutFirstAttempt() {
  const event = await createEventViaApi(t);
  const token = await t.tokenFor('first-attempt-lost');
  const reservation = (await t.gql(HoldSeatDocument, { input: { seatId: event.seats[0].id } }, { token })).data!.holdSeat;
  const payment = await sim.createPayment({ merchantUid: reservation.merchantUid, amount: reservation.amount + 1000 });
  failpoints.enable('after-decision-commit', 'throw');
  await t.gql(ConfirmPaymentDocument, { input: { reservationId: reservation.id, paymentId: payment.imp_uid, merchantUid: reservation.merchantUid } }, { token });
  failpoints.disable();
  const [refund] = await refundRowsOf(t.orm, payment.imp_uid);
  // Decided and leased to a first attempt that never ran: nothing was sent to PortOne.
  expect(refund).toMatchObject({ status: 'PENDING', attempts: 1 });
  expect(await sim.cancelRequests(payment.imp_uid)).toEqual([]);
  return { reservation, payment, refund };
}

test('the first attempt never runs after the decision committed: the backup job at lease end cancels once', async () => {
  const { reservation, payment } = await overpaidAndDecidedWithoutFirstAttempt();
  const done = await waitFor(async () => {
    const [row] = await refundRowsOf(t.orm, payment.imp_uid);
    return row.status !== 'PENDING' ? row : null;
  }, refundAttemptLeaseMs(t.config.portone) + 15_000, 200);
  expect(done).toMatchObject({ status: 'SUCCEEDED', attempts: 2, lastError: null });
  const applied = (await sim.cancelRequests(payment.imp_uid)).filter((c) => c.applied);
  expect(applied.map((c) => c.amount)).toEqual([reservation.amount + 1000]);
}, 60_000);

test('the backup job was lost too: reconciliation finds the refund overdue after the lease and cancels once', async () => {
  const { reservation, payment, refund } = await overpaidAndDecidedWithoutFirstAttempt();
  const removed = (await t.orm.em.getConnection().execute(`select (graphile_worker.remove_job(?)).id is not null as removed`, [`refund:${refund.id}`])) as Array<{
    removed: boolean;
  }>;
  expect(removed[0].removed).toBe(true);
  // Past the lease and reconciliation's grace: overdue.
  await sleep(refundAttemptLeaseMs(t.config.portone) + 1_000);
  expect((await refundRowsOf(t.orm, payment.imp_uid))[0].status).toBe('PENDING');
  await t.app.services.reconciliation.run();
  const done = await waitFor(async () => {
    const [row] = await refundRowsOf(t.orm, payment.imp_uid);
    return row.status !== 'PENDING' ? row : null;
  }, 15_000, 200);
  expect(done).toMatchObject({ status: 'SUCCEEDED', lastError: null });
  const applied = (await sim.cancelRequests(payment.imp_uid)).filter((c) => c.applied);
  expect(applied.map((c) => c.amount)).toEqual([reservation.amount + 1000]);
}, 60_000);
