import fetch from 'node-fetch';
import { HoldSeatDocument, RetryRefundDocument } from '../../generated/graphql';
import { createEventViaApi } from '../../support/fixtures';
import { expectMoneyInvariants } from '../../support/money-invariants';
import { confirmAs, paymentRowsOf, refundRowsOf, reservationRow, type SimulatorControl, simulatorControl, SyncedClock } from '../../support/money-holes';
import { startTestApp, type TestApp } from '../../support/test-app';
import { waitFor } from '../../support/wait';

/**
 * Issue 10, stories 1, 2 and 6 and load finding (a): reconciliation as a payment sweep. Each test
 * starts from the state the story describes and calls `reconciliation.run()` by hand. Our clock and
 * PortOne's move together (the sweep's window is in PortOne's clock).
 */
const clock = new SyncedClock();
let t: TestApp;
let sim: SimulatorControl;
let allowPending = false;

beforeAll(async () => {
  t = await startTestApp({
    clock,
    // The attackers here hold and confirm hundreds of times: lift the per-buyer hold cap and rate limits.
    env: {
      REFUND_BACKOFF_BASE_MS: '100',
      REFUND_BACKOFF_MAX_MS: '400',
      HOLD_MAX_PER_BUYER_PER_EVENT: '1000',
      RATE_LIMIT_HOLD_SEAT_PER_BUYER: '0',
      RATE_LIMIT_CONFIRM_PAYMENT_PER_BUYER: '0',
    },
  });
  sim = simulatorControl(t.simulator.url);
});
afterAll(async () => {
  await t.close();
});
beforeEach(async () => {
  await t.reset();
  clock.reset();
  allowPending = false;
  // The sweep's first run on an empty database: the stored cursor starts before anything the test does.
  await t.app.services.reconciliation.run();
});
afterEach(async () => {
  await expectMoneyInvariants(t, { allowPending });
});

const HOLD_AND_GRACE_SECONDS = 15 * 60;
const reconcile = () => t.app.services.reconciliation.run();

async function hold(token: string, seatId: string) {
  const result = await t.gql(HoldSeatDocument, { input: { seatId } }, { token });
  if (!result.data) throw new Error(`holdSeat failed: ${JSON.stringify(result.errors)}`);
  return result.data.holdSeat;
}

/** Runs `work` over `items`, `width` at a time (a crowd of clients, not one request per millisecond). */
async function inParallel<T, R>(items: T[], width: number, work: (item: T) => Promise<R>): Promise<R[]> {
  const results: R[] = new Array(items.length);
  let next = 0;
  await Promise.all(
    Array.from({ length: width }, async () => {
      while (next < items.length) {
        const index = next++;
        results[index] = await work(items[index]);
      }
    }),
  );
  return results;
}

function seats(count: number) {
  return Array.from({ length: count }, (_, i) => ({ label: `S${i + 1}`, price: 50000 }));
}

describe('story 1: reconciliation settles payments of reservations that already have a decision', () => {
  // Today: the second payment stays paid; no cancel request is ever sent for it (cancel list is []).
  test('story 1: a second payment whose webhook was lost is refunded DUPLICATE_PAYMENT by the sweep', async () => {
    const event = await createEventViaApi(t);
    const token = await t.tokenFor('double-clicker');
    const reservation = await hold(token, event.seats[0].id);
    const first = await sim.createPayment({ merchantUid: reservation.merchantUid, amount: reservation.amount });
    const second = await sim.createPayment({ merchantUid: reservation.merchantUid, amount: reservation.amount });
    expect((await confirmAs(t, token, reservation, first.imp_uid)).data?.confirmPayment.__typename).toBe('PaymentConfirmed');

    await clock.advance(sim, HOLD_AND_GRACE_SECONDS);
    await reconcile();

    const cancels = await sim.cancelRequests(second.imp_uid);
    expect(cancels.map((c) => ({ amount: c.amount, checksum: c.checksum, applied: c.applied }))).toEqual([
      { amount: reservation.amount, checksum: reservation.amount, applied: true },
    ]);
    expect(await sim.payment(second.imp_uid)).toMatchObject({ status: 'cancelled', cancel_amount: reservation.amount });
    expect(await refundRowsOf(t.orm, second.imp_uid)).toEqual([
      expect.objectContaining({ reason: 'DUPLICATE_PAYMENT', status: 'SUCCEEDED', amount: reservation.amount, reservationId: reservation.id }),
    ]);
    // The first payment still backs the booking, untouched.
    expect(await sim.cancelRequests(first.imp_uid)).toEqual([]);
    expect((await reservationRow(t.orm, reservation.id)).status).toBe('CONFIRMED');
  });

  // Today: the reservation stays HELD and the correct payment is never decided (payment rows []).
  test('story 1: a correct payment made after a refunded one, its webhook lost, confirms the booking', async () => {
    const event = await createEventViaApi(t);
    const token = await t.tokenFor('second-try');
    const reservation = await hold(token, event.seats[0].id);
    const tampered = await sim.createPayment({ merchantUid: reservation.merchantUid, amount: reservation.amount - 1000 });
    expect((await confirmAs(t, token, reservation, tampered.imp_uid)).data?.confirmPayment).toMatchObject({
      __typename: 'PaymentRefunded',
      reason: 'AMOUNT_MISMATCH',
      refund: { status: 'SUCCEEDED' },
    });
    const correct = await sim.createPayment({ merchantUid: reservation.merchantUid, amount: reservation.amount });

    await clock.advance(sim, HOLD_AND_GRACE_SECONDS);
    await reconcile();

    expect(await paymentRowsOf(t.orm, correct.imp_uid)).toEqual([
      expect.objectContaining({ decision: 'CONFIRMED', amount: reservation.amount, reservationId: reservation.id }),
    ]);
    expect((await reservationRow(t.orm, reservation.id)).status).toBe('CONFIRMED');
    expect(await sim.cancelRequests(correct.imp_uid)).toEqual([]);
    expect(await sim.payment(correct.imp_uid)).toMatchObject({ status: 'paid', cancel_amount: 0 });
    expect((await sim.cancelRequests(tampered.imp_uid)).filter((c) => c.applied)).toHaveLength(1);
  });
});

describe('story 2: the sweep has no 24 h window, no 200-row limit, and cannot be starved', () => {
  // Today: the deposit 25 h after the hold ended is never seen (payment rows [], reservation EXPIRED).
  test('story 2: a late virtual-account deposit, its webhook lost, is settled by a sweep more than 24 h later', async () => {
    const event = await createEventViaApi(t);
    const token = await t.tokenFor('late-depositor');
    const reservation = await hold(token, event.seats[0].id);
    await reconcile(); // the sweep's first run: nothing yet
    await clock.advance(sim, 13 * 60);
    await reconcile(); // the hold has ended (today this marks the reservation EXPIRED); nothing paid

    // The buyer reopens the payment window: a virtual account is issued, and deposited into later.
    await clock.advance(sim, 2 * 60);
    const vbank = await sim.createPayment({ merchantUid: reservation.merchantUid, amount: reservation.amount, status: 'ready', payMethod: 'vbank' });
    await clock.advance(sim, 5 * 60);
    await sim.setStatus(vbank.imp_uid, 'paid', false);
    // No reconciliation ran for a day (PortOne's listing down, our process down: any reason).
    await clock.advance(sim, 25 * 3600);
    await reconcile();

    expect(await paymentRowsOf(t.orm, vbank.imp_uid)).toEqual([
      expect.objectContaining({ decision: 'CONFIRMED', amount: reservation.amount, reservationId: reservation.id }),
    ]);
    expect((await reservationRow(t.orm, reservation.id)).status).toBe('CONFIRMED');
    expect(await sim.cancelRequests(vbank.imp_uid)).toEqual([]);
  });

  // Today: each run re-reads the same 200 reported reservations; the victim's payment is never decided.
  test('story 2: 200 bogus confirmPayment calls (NOT_FOUND) do not starve the sweep', async () => {
    const event = await createEventViaApi(t, seats(200));
    const victimEvent = await createEventViaApi(t, seats(1));
    const victimToken = await t.tokenFor('victim');
    const victim = await hold(victimToken, victimEvent.seats[0].id);
    const paid = await sim.createPayment({ merchantUid: victim.merchantUid, amount: victim.amount });

    const attacker = await t.tokenFor('attacker');
    const bogus = await inParallel(event.seats.slice(0, 200), 8, async (seat) => {
      const reservation = await hold(attacker, seat.id);
      return confirmAs(t, attacker, reservation, `imp_bogus_${seat.label}`);
    });
    expect(bogus.every((r) => r.errors?.[0]?.extensions?.code === 'NOT_FOUND')).toBe(true);

    await clock.advance(sim, HOLD_AND_GRACE_SECONDS);
    for (let run = 0; run < 3; run++) await reconcile();

    expect(await paymentRowsOf(t.orm, paid.imp_uid)).toEqual([expect.objectContaining({ decision: 'CONFIRMED', reservationId: victim.id })]);
    expect((await reservationRow(t.orm, victim.id)).status).toBe('CONFIRMED');
    expect(await sim.cancelRequests(paid.imp_uid)).toEqual([]);
  }, 120_000);
});

describe('load finding (a): replayed confirms cannot starve reconciliation', () => {
  // Today: 200 PAYMENT_ALREADY_USED replays sort first in every run; none of the 3 lost-webhook payments is decided.
  test('load (a): 200 replays of a used payment (PAYMENT_ALREADY_USED) do not keep 3 paid buyers from being settled', async () => {
    const event = await createEventViaApi(t, seats(200));
    const ownEvent = await createEventViaApi(t, seats(1));
    const victimEvent = await createEventViaApi(t, seats(3));
    const attacker = await t.tokenFor('replayer');
    const own = await hold(attacker, ownEvent.seats[0].id);
    const ownPayment = await sim.createPayment({ merchantUid: own.merchantUid, amount: own.amount });
    expect((await confirmAs(t, attacker, own, ownPayment.imp_uid)).data?.confirmPayment.__typename).toBe('PaymentConfirmed');

    const victims = [];
    for (const seat of victimEvent.seats) {
      const token = await t.tokenFor(`closed-the-browser-${seat.label}`);
      const reservation = await hold(token, seat.id);
      victims.push({ reservation, payment: await sim.createPayment({ merchantUid: reservation.merchantUid, amount: reservation.amount }) });
    }
    const replays = await inParallel(event.seats, 8, async (seat) => {
      const reservation = await hold(attacker, seat.id);
      return confirmAs(t, attacker, reservation, ownPayment.imp_uid);
    });
    expect(replays.every((r) => r.errors?.[0]?.extensions?.code === 'PAYMENT_ALREADY_USED')).toBe(true);

    await clock.advance(sim, HOLD_AND_GRACE_SECONDS);
    for (let run = 0; run < 3; run++) await reconcile();

    for (const { reservation, payment } of victims) {
      expect({ merchantUid: reservation.merchantUid, decisions: await paymentRowsOf(t.orm, payment.imp_uid) }).toEqual({
        merchantUid: reservation.merchantUid,
        decisions: [expect.objectContaining({ decision: 'CONFIRMED', reservationId: reservation.id })],
      });
      expect(await sim.cancelRequests(payment.imp_uid)).toEqual([]);
    }
    expect(await sim.cancelRequests(ownPayment.imp_uid)).toEqual([]);
  }, 120_000);
});

describe('story 6: a payment cancelled outside our server after CONFIRMED', () => {
  async function confirmedBooking(buyer: string, noticeUrl?: string) {
    const event = await createEventViaApi(t);
    const token = await t.tokenFor(buyer);
    const reservation = await hold(token, event.seats[0].id);
    const payment = await sim.createPayment({ merchantUid: reservation.merchantUid, amount: reservation.amount, noticeUrl });
    expect((await confirmAs(t, token, reservation, payment.imp_uid)).data?.confirmPayment.__typename).toBe('PaymentConfirmed');
    return { event, token, reservation, payment };
  }

  /** `source`: who saw the cancel (the sweep, the webhook, a repeated confirmPayment); the event names it. */
  async function expectCancelledAtGateway(booking: Awaited<ReturnType<typeof confirmedBooking>>, source: 'RECONCILIATION' | 'WEBHOOK' | 'CLIENT_CONFIRM') {
    const { reservation, payment, event } = booking;
    expect((await reservationRow(t.orm, reservation.id)).status).toBe('CANCELLED');
    const refunds = await refundRowsOf(t.orm, payment.imp_uid);
    expect(refunds).toEqual([
      expect.objectContaining({ reason: 'CANCELLED_AT_GATEWAY', status: 'SUCCEEDED', amount: reservation.amount, reservationId: reservation.id }),
    ]);
    // Logged once, with what PortOne showed, for whoever looks into the booking later...
    const logged = await t.orm.em
      .getConnection()
      .execute(`select outcome, reservation_id, refund_id, details from payment_event where gateway_payment_id = ? and kind = 'EXTERNAL_CANCEL'`, [payment.imp_uid]);
    expect(logged).toEqual([
      {
        outcome: 'BOOKING_CANCELLED',
        reservation_id: reservation.id,
        refund_id: refunds[0].id,
        details: { source, paid: reservation.amount, cancelled: reservation.amount, balance: 0 },
      },
    ]);
    // ...and counted where operators watch (each test starts from an empty database).
    const metrics = await (await fetch(t.url.replace(/\/graphql$/, '/metrics'))).text();
    expect(metrics).toContain('booking_refunds{status="SUCCEEDED",reason="CANCELLED_AT_GATEWAY"} 1\n');
    // We sent nothing: the money was already given back by someone else.
    expect(await sim.cancelRequests(payment.imp_uid)).toEqual([]);
    // The seat is free again.
    const next = await t.gql(HoldSeatDocument, { input: { seatId: event.seats[0].id } }, { token: await t.tokenFor('next-buyer') });
    expect(next.data?.holdSeat.status).toBe('HELD');
  }

  // Today: the booking stays CONFIRMED (reconciliation never looks at CONFIRMED bookings).
  test('story 6: a full console cancel is noticed by the sweep: booking CANCELLED, seat freed, CANCELLED_AT_GATEWAY refund', async () => {
    const booking = await confirmedBooking('console-cancelled');
    await sim.consoleCancel(booking.payment.imp_uid);
    await clock.advance(sim, 60);
    await reconcile();
    await expectCancelledAtGateway(booking, 'RECONCILIATION');
  });

  // Today: the `cancelled` notification's settle returns the recorded CONFIRMED outcome; waitFor times out.
  test('story 6: the `cancelled` webhook of a console cancel moves the booking to CANCELLED', async () => {
    const booking = await confirmedBooking('webhook-cancelled', t.url.replace(/\/graphql$/, '/webhooks/portone'));
    await sim.consoleCancel(booking.payment.imp_uid);
    await waitFor(async () => (await reservationRow(t.orm, booking.reservation.id)).status === 'CANCELLED', 10_000);
    await expectCancelledAtGateway(booking, 'WEBHOOK');
  });

  // Today: the repeated confirmPayment answers the recorded PaymentConfirmed; the booking stays CONFIRMED.
  test('story 6: a later confirmPayment of a payment cancelled at the console moves the booking to CANCELLED', async () => {
    const booking = await confirmedBooking('reconfirmed');
    await sim.consoleCancel(booking.payment.imp_uid);
    await confirmAs(t, booking.token, booking.reservation, booking.payment.imp_uid);
    await expectCancelledAtGateway(booking, 'CLIENT_CONFIRM');
  });

  // Today: no refund row is recorded for the partial cancel (refund rows []); the booking stays CONFIRMED silently.
  test('story 6: a partial console cancel leaves the booking CONFIRMED with a NEEDS_ATTENTION refund of the balance; retryRefund cancels the rest', async () => {
    const booking = await confirmedBooking('partially-cancelled');
    const { reservation, payment } = booking;
    await sim.consoleCancel(payment.imp_uid, 10000);
    await clock.advance(sim, 60);
    await reconcile();

    expect((await reservationRow(t.orm, reservation.id)).status).toBe('CONFIRMED');
    const [refund] = await refundRowsOf(t.orm, payment.imp_uid);
    expect(refund).toMatchObject({ reason: 'CANCELLED_AT_GATEWAY', status: 'NEEDS_ATTENTION', amount: reservation.amount - 10000 });
    expect(await sim.cancelRequests(payment.imp_uid)).toEqual([]);

    const admin = await t.tokenFor('admin', ['admin']);
    const retried = await t.gql(RetryRefundDocument, { id: refund.id }, { token: admin });
    expect(retried.errors).toBeUndefined();
    await waitFor(async () => (await refundRowsOf(t.orm, payment.imp_uid))[0].status === 'SUCCEEDED', 10_000);
    const cancels = await sim.cancelRequests(payment.imp_uid);
    expect(cancels.map((c) => ({ amount: c.amount, checksum: c.checksum, applied: c.applied }))).toEqual([
      { amount: reservation.amount - 10000, checksum: reservation.amount - 10000, applied: true },
    ]);
    expect(await sim.payment(payment.imp_uid)).toMatchObject({ status: 'cancelled', cancel_amount: reservation.amount });
    expect((await reservationRow(t.orm, reservation.id)).status).toBe('CANCELLED');
  });
});
