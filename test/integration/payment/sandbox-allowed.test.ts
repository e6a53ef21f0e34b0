import { createEventViaApi } from '../../support/fixtures';
import { expectMoneyInvariants } from '../../support/money-invariants';
import { confirmAs, holdSeatAs, paymentRowsOf, reservationRow, simulatorControl } from '../../support/money-holes';
import { useTestApp } from '../../support/test-app';

/**
 * Issue 10, story 5, the other side: PORTONE_ALLOW_SANDBOX=true (a test deployment on a test channel)
 * reaches the app through loadConfig, and a sandbox payment is then a payment like any other. With the
 * default, it is refused: money-holes-refunds.test.ts, story 5.
 */
const t = useTestApp({ env: { PORTONE_ALLOW_SANDBOX: 'true' } }, { afterEachTest: (app) => expectMoneyInvariants(app) });

beforeEach(async () => {
  // The sweep's first run on an empty database stores its cursors before anything the test does.
  await t.app.services.reconciliation.run();
});

test('the setting is read from the environment', () => {
  expect(t.config.portone.allowSandbox).toBe(true);
});

test('with PORTONE_ALLOW_SANDBOX=true a sandbox payment confirms the booking and is kept', async () => {
  const event = await createEventViaApi(t);
  const { token, reservation } = await holdSeatAs(t, 'tester', event.seats[0].id);
  const sim = simulatorControl(t.simulator.url);
  const payment = await sim.createPayment({ merchantUid: reservation.merchantUid, amount: reservation.amount, sandbox: true });

  const result = await confirmAs(t, token, reservation, payment.imp_uid);
  expect(result.data?.confirmPayment.__typename).toBe('PaymentConfirmed');
  expect((await reservationRow(t.orm, reservation.id)).status).toBe('CONFIRMED');
  expect(await paymentRowsOf(t.orm, payment.imp_uid)).toEqual([expect.objectContaining({ decision: 'CONFIRMED', reservationId: reservation.id })]);
  expect(await sim.cancelRequests(payment.imp_uid)).toEqual([]);
  expect(await sim.payment(payment.imp_uid)).toMatchObject({ status: 'paid', cancel_amount: 0 });
});

test('with PORTONE_ALLOW_SANDBOX=true a sandbox payment whose webhook was lost is confirmed by the sweep', async () => {
  const event = await createEventViaApi(t);
  const { reservation } = await holdSeatAs(t, 'tester-closed-the-browser', event.seats[0].id);
  const sim = simulatorControl(t.simulator.url);
  const payment = await sim.createPayment({ merchantUid: reservation.merchantUid, amount: reservation.amount, sandbox: true });

  const report = await t.app.services.reconciliation.run();
  expect(report).toMatchObject({ settled: 1, errors: 0 });
  expect((await reservationRow(t.orm, reservation.id)).status).toBe('CONFIRMED');
  expect(await sim.cancelRequests(payment.imp_uid)).toEqual([]);
});
