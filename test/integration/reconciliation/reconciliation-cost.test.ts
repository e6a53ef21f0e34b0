import type { SimulatorLedger } from '../../../src/gateway/portone/sim/simulator-control.client';
import { createEventViaApi } from '../../support/fixtures';
import { expectMoneyInvariants } from '../../support/money-invariants';
import { confirmAs, holdSeatAs, paymentRowsOf, type SimulatorControl, simulatorControl, SyncedClock } from '../../support/money-holes';
import { useTestApp } from '../../support/test-app';

/**
 * Issue 10: what a reconciliation run costs at PortOne. The sweep follows payments, so abandoned holds
 * cost nothing; a reservation a client reported paying for is read by order id, but backing off, so
 * bogus reports cannot make every run re-read them. Counted from the simulator's per-endpoint tally.
 */
const clock = new SyncedClock();
/** A reported reservation's first re-read waits this long, then doubles (`reportBackoffBaseMs` in src/app.ts). */
const REPORT_BACKOFF_BASE_SECONDS = 30;
const HOLD_AND_GRACE_SECONDS = 15 * 60;
const t = useTestApp(
  { clock, env: { HOLD_MAX_PER_BUYER_PER_EVENT: '1000', RATE_LIMIT_HOLD_SEAT_PER_BUYER: '0', RATE_LIMIT_CONFIRM_PAYMENT_PER_BUYER: '0' } },
  { afterEachTest: (app) => expectMoneyInvariants(app) },
);
let sim: SimulatorControl;

beforeAll(() => {
  sim = simulatorControl(t.simulator.url);
});
beforeEach(() => sweepStarted()); // after useTestApp's reset

const reconcile = () => t.app.services.reconciliation.run();

/** Clocks in step, and the sweep's first run done on what is there (its cursors stored). */
async function sweepStarted(): Promise<void> {
  clock.reset();
  await reconcile();
}

/** Empty database and simulator, then as every test starts. */
async function fromNothing(): Promise<void> {
  await t.reset();
  await sweepStarted();
}

/** Requests PortOne received during `work`, per endpoint. */
async function requestsDuring<T>(work: () => Promise<T>): Promise<{ result: T; calls: SimulatorLedger['apiCalls'] }> {
  const before = (await sim.ledger()).apiCalls;
  const result = await work();
  const after = (await sim.ledger()).apiCalls;
  const calls = Object.fromEntries(
    Object.entries(after)
      .map(([endpoint, n]) => [endpoint, n! - (before[endpoint as keyof typeof before] ?? 0)])
      .filter(([, n]) => n !== 0),
  );
  return { result, calls };
}

test('a reservation reported paid while PortOne says NOT_FOUND is read by order id on the next run, then only once its backoff has passed', async () => {
  const event = await createEventViaApi(t);
  const { token, reservation } = await holdSeatAs(t, 'reporter', event.seats[0].id);
  const confirmed = await confirmAs(t, token, reservation, 'imp_that_portone_never_made');
  expect(confirmed.errors?.[0]?.extensions?.code).toBe('NOT_FOUND');

  /** Advances both clocks, runs reconciliation, and says how many order-id reads it made. */
  const readsAfter = async (seconds: number) => {
    await clock.advance(sim, seconds);
    const { result, calls } = await requestsDuring(reconcile);
    return { findAll: calls.findAll ?? 0, reportedChecked: result.reportedChecked };
  };

  expect(await readsAfter(0)).toEqual({ findAll: 1, reportedChecked: 1 });
  // Two more runs inside the first backoff (30 s): neither reads it again.
  for (const seconds of [10, 10]) expect(await readsAfter(seconds)).toEqual({ findAll: 0, reportedChecked: 0 });
  expect(await readsAfter(11)).toEqual({ findAll: 1, reportedChecked: 1 });
  // The next wait is twice as long (60 s).
  for (const seconds of [REPORT_BACKOFF_BASE_SECONDS, 15]) expect(await readsAfter(seconds)).toEqual({ findAll: 0, reportedChecked: 0 });
  expect(await readsAfter(16)).toEqual({ findAll: 1, reportedChecked: 1 });
});

test('a reported reservation whose payment PortOne shows later is settled by its next order-id read, listings down or not', async () => {
  const event = await createEventViaApi(t);
  const { token, reservation } = await holdSeatAs(t, 'early-reporter', event.seats[0].id);
  // The buyer's page reports the payment before PortOne answers for it (a slow PG, say).
  expect((await confirmAs(t, token, reservation, 'imp_not_yet_visible')).errors?.[0]?.extensions?.code).toBe('NOT_FOUND');
  await reconcile();
  const payment = await sim.createPayment({ merchantUid: reservation.merchantUid, amount: reservation.amount });
  await clock.advance(sim, REPORT_BACKOFF_BASE_SECONDS + 1);
  // Every listing fails in this run: only the order-id read can find the payment.
  await sim.fault({ endpoint: 'list', kind: 'http503', times: 3 });
  const { result, calls } = await requestsDuring(reconcile);
  expect(calls.findAll).toBe(1);
  expect(result).toMatchObject({ reportedChecked: 1, settled: 1 });
  expect(await paymentRowsOf(t.orm, payment.imp_uid)).toEqual([expect.objectContaining({ decision: 'CONFIRMED', reservationId: reservation.id })]);
});

test('a run costs PortOne the same requests with 5 or 200 abandoned holds: the cost follows payments', async () => {
  /** `abandoned` holds that end unpaid, and one buyer whose webhook was lost; the requests of the run after the holds end. */
  const runAfterAbandonedHolds = async (abandoned: number) => {
    await fromNothing();
    const abandonedSeats = (await createEventViaApi(t, Array.from({ length: abandoned }, (_, i) => ({ label: `S${i + 1}`, price: 20000 })))).seats;
    expect(abandonedSeats).toHaveLength(abandoned);
    const [paidSeat] = (await createEventViaApi(t)).seats;
    for (let i = 0; i < abandonedSeats.length; i += 20) {
      await Promise.all(abandonedSeats.slice(i, i + 20).map((seat) => holdSeatAs(t, 'window-shopper', seat.id)));
    }
    const { reservation } = await holdSeatAs(t, 'buyer', paidSeat.id);
    const payment = await sim.createPayment({ merchantUid: reservation.merchantUid, amount: reservation.amount });
    await clock.advance(sim, HOLD_AND_GRACE_SECONDS);
    const { result, calls } = await requestsDuring(reconcile);
    expect(result).toMatchObject({ expired: abandoned, settled: 1, errors: 0 });
    expect(await paymentRowsOf(t.orm, payment.imp_uid)).toEqual([expect.objectContaining({ decision: 'CONFIRMED' })]);
    return calls;
  };

  const few = await runAfterAbandonedHolds(5);
  const many = await runAfterAbandonedHolds(200);
  expect(few.list).toBeGreaterThan(0);
  expect(many).toEqual(few);
}, 120_000);
