import { CancelReservationDocument, RetryRefundDocument } from '../../generated/graphql';
import { createEventViaApi } from '../../support/fixtures';
import { expectMoneyInvariants } from '../../support/money-invariants';
import { confirmAs, holdSeatAs, refundRowsOf, reservationRow, type SimulatorControl, simulatorControl, startAndWaitUntilBlocked } from '../../support/money-holes';
import { useTestApp, type TestApp } from '../../support/test-app';

/**
 * The server's one lock order (seat, reservation, payment, refund; src/db/transaction-retry.ts) on the
 * paths that end a booking whose payment PortOne shows cancelled outside this server: the external
 * cancel (a repeated confirm, a webhook or the sweep), the buyer's cancel and an admin's retryRefund all
 * write the same reservation and the same refund. Taken in opposite orders they deadlock; the victim's
 * transaction is retried once, so the answers alone would not show it: every statement error of the
 * app's database connections is counted here instead.
 *
 * The interleaving is forced: the test holds the refund table while the racers start, so each one stops
 * at its first touch of a refund row, holding whatever it locked before; then all go at once.
 */
const t = useTestApp(
  { env: { REFUND_BACKOFF_BASE_MS: '100', REFUND_BACKOFF_MAX_MS: '400', RATE_LIMIT_CONFIRM_PAYMENT_PER_BUYER: '0' } },
  { afterEachTest: (app) => expectMoneyInvariants(app) },
);
let sim: SimulatorControl;
const abortedForLocks: string[] = [];

beforeAll(() => {
  sim = simulatorControl(t.simulator.url);
  t.orm.em.getKnex().on('query-error', (error: { code?: string; message?: string }) => {
    if (error.code === '40P01' || error.code === '40001') abortedForLocks.push(`${error.code}: ${error.message}`);
  });
});
beforeEach(() => {
  abortedForLocks.length = 0;
});

/** A CONFIRMED booking whose payment someone cancelled in part (the refund waits for an operator) and then in full. */
async function bookingCancelledOutsideInTwoSteps(t: TestApp, buyer: string) {
  const event = await createEventViaApi(t, [{ label: 'A1', price: 50000 }]);
  const { token, reservation } = await holdSeatAs(t, buyer, event.seats[0].id);
  const payment = await sim.createPayment({ merchantUid: reservation.merchantUid, amount: reservation.amount });
  expect((await confirmAs(t, token, reservation, payment.imp_uid)).data?.confirmPayment.__typename).toBe('PaymentConfirmed');
  await sim.consoleCancel(payment.imp_uid, 10000);
  await confirmAs(t, token, reservation, payment.imp_uid);
  const [refund] = await refundRowsOf(t.orm, payment.imp_uid);
  expect(refund).toMatchObject({ reason: 'CANCELLED_AT_GATEWAY', status: 'NEEDS_ATTENTION' });
  await sim.consoleCancel(payment.imp_uid);
  return { token, reservation, payment, refund };
}

type Racer = 'externalCancel' | 'buyerCancel' | 'adminRetry';
const RACES: Racer[][] = [
  ['adminRetry', 'externalCancel'],
  ['externalCancel', 'adminRetry'],
  ['adminRetry', 'buyerCancel'],
  ['buyerCancel', 'adminRetry'],
  ['externalCancel', 'buyerCancel', 'adminRetry'],
];

test.each(RACES.flatMap((race) => [race, race]).map((race, i) => [i, race.join(' + ')] as const))(
  'race %i: %s on one booking and its refund: no deadlock, no internal error, the booking ends cancelled with its refund SUCCEEDED',
  async (i, names) => {
    const racers = names.split(' + ') as Racer[];
    const { token, reservation, payment, refund } = await bookingCancelledOutsideInTwoSteps(t, `racer-${i}`);
    const admin = await t.tokenFor('admin', ['admin']);
    const start: Record<Racer, () => Promise<{ errors?: Array<{ message: string; extensions?: Record<string, unknown> }> }>> = {
      externalCancel: () => confirmAs(t, token, reservation, payment.imp_uid),
      buyerCancel: () => t.gql(CancelReservationDocument, { input: { reservationId: reservation.id } }, { token }),
      adminRetry: () => t.gql(RetryRefundDocument, { id: refund.id }, { token: admin }),
    };

    const blocker = await t.orm.em.getKnex().transaction();
    const answers: Array<ReturnType<(typeof start)[Racer]>> = [];
    try {
      await blocker.raw('lock table refund in access exclusive mode');
      // In this order to their first touch of a refund row (or to a lock an earlier racer holds).
      for (const racer of racers) answers.push((await startAndWaitUntilBlocked(t.orm, start[racer])).running);
    } finally {
      await blocker.commit();
    }
    const settled = await Promise.all(answers);

    expect(abortedForLocks).toEqual([]);
    // The buyer's cancel may find the booking already ended by another racer: that refusal is its answer.
    const unexpected = settled.flatMap((answer, n) =>
      (answer.errors ?? [])
        .filter((error) => !(racers[n] === 'buyerCancel' && error.extensions?.code === 'BAD_USER_INPUT'))
        .map((error) => ({ racer: racers[n], code: error.extensions?.code, message: error.message })),
    );
    expect(unexpected).toEqual([]);
    expect((await reservationRow(t.orm, reservation.id)).status).toBe('CANCELLED');
    expect(await refundRowsOf(t.orm, payment.imp_uid)).toEqual([expect.objectContaining({ id: refund.id, reason: 'CANCELLED_AT_GATEWAY', status: 'SUCCEEDED' })]);
    // Someone else gave the money back: we never send a cancel of our own.
    expect(await sim.cancelRequests(payment.imp_uid)).toEqual([]);
    expect(await sim.payment(payment.imp_uid)).toMatchObject({ status: 'cancelled', cancel_amount: reservation.amount });
  },
  30_000,
);
