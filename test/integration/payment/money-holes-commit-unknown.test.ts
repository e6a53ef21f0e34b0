import { ConfirmPaymentDocument, HoldSeatDocument } from '../../generated/graphql';
import { createEventViaApi } from '../../support/fixtures';
import { expectMoneyInvariants } from '../../support/money-invariants';
import { paymentRowsOf, refundRowsOf, reservationRow, simulatorControl, sleep, type SimulatorControl } from '../../support/money-holes';
import { startPgProxy, type PgProxy } from '../../support/pg-proxy';
import { startTestApp, type TestApp } from '../../support/test-app';
import { testDatabaseUrl } from '../../support/test-database';

/**
 * Issue 10, story 7: the decision's commit reaches PostgreSQL and commits, but the connection is lost
 * before the answer and the database stays unreachable for a while. The app reaches the database
 * through a proxy that does exactly that; its pool gives up on a connection after 2 s.
 */
let proxy: PgProxy;
let t: TestApp;
let sim: SimulatorControl;

beforeAll(async () => {
  proxy = await startPgProxy(testDatabaseUrl());
  t = await startTestApp({
    startWorker: false,
    database: { url: proxy.url, overrides: { driverOptions: { acquireConnectionTimeout: 2000 } } },
  });
  sim = simulatorControl(t.simulator.url);
});
afterAll(async () => {
  await t.close();
  await proxy.close();
});
beforeEach(async () => {
  proxy.restore();
  await t.reset();
});
afterEach(async () => {
  proxy.restore();
  await expectMoneyInvariants(t);
});

/**
 * Both ways a decision commits: a buyer confirming a hold as read writes it in one statement (its own
 * transaction); a late payment (the hold ended) is decided under lock, in a transaction block.
 */
const ways = [
  { name: 'the one-statement confirmation of a hold as read', holdEnded: false },
  { name: 'the locking transaction of a late payment', holdEnded: true },
];

// Before issue 10: the compensating cancel ran anyway: the CONFIRMED booking's payment was cancelled in full.
test.each(ways)('story 7 ($name): a decision whose commit outcome is unknown sends no compensating cancel; the committed booking keeps its payment', async ({ holdEnded }) => {
  const event = await createEventViaApi(t);
  const token = await t.tokenFor('unlucky-commit');
  const held = await t.gql(HoldSeatDocument, { input: { seatId: event.seats[0].id } }, { token });
  const reservation = held.data!.holdSeat;
  const payment = await sim.createPayment({ merchantUid: reservation.merchantUid, amount: reservation.amount });
  if (holdEnded) {
    await t.orm.em.getConnection().execute(`update reservation set status = 'EXPIRED', expires_at = now() - interval '1 hour' where id = ?`, [reservation.id]);
  }

  const lost = proxy.loseCommitOf(/insert into "?payment"?\s/i);
  const result = await t.gql(
    ConfirmPaymentDocument,
    { input: { reservationId: reservation.id, paymentId: payment.imp_uid, merchantUid: reservation.merchantUid } },
    { token },
  );
  await lost;
  await sleep(500);
  proxy.restore();

  // The buyer is told something went wrong, and nothing else: the webhook or the sweep decides later.
  expect(result.errors?.[0]?.extensions?.code).toBe('INTERNAL_SERVER_ERROR');
  expect(await sim.cancelRequests(payment.imp_uid)).toEqual([]);
  expect(await sim.payment(payment.imp_uid)).toMatchObject({ status: 'paid', cancel_amount: 0 });
  // The decision did commit: the booking stands.
  expect((await reservationRow(t.orm, reservation.id)).status).toBe('CONFIRMED');
  expect(await paymentRowsOf(t.orm, payment.imp_uid)).toEqual([expect.objectContaining({ decision: 'CONFIRMED' })]);
  expect(await refundRowsOf(t.orm, payment.imp_uid)).toEqual([]);

  // Once the database answers, the sweep finds nothing to undo.
  await t.app.services.reconciliation.run();
  expect(await sim.cancelRequests(payment.imp_uid)).toEqual([]);
  expect((await reservationRow(t.orm, reservation.id)).status).toBe('CONFIRMED');
}, 30_000);
