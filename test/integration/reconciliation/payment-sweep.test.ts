import { Reservation, ReservationStatus } from '../../../src/booking/reservation.entity';
import { SweepCursor } from '../../../src/payment/reconciliation/sweep-cursor.entity';
import { HoldSeatDocument } from '../../generated/graphql';
import { createEventViaApi } from '../../support/fixtures';
import { expectMoneyInvariants } from '../../support/money-invariants';
import { useTestApp } from '../../support/test-app';

/**
 * The sweep walks PortOne's listing in windows that each fit one page (RECONCILE_SWEEP_PAGE_SIZE=4 here),
 * so a payment can never slip between two page reads, and it settles exactly the payments of ours that
 * are undecided: nothing twice, nothing of other shops.
 */
const t = useTestApp({ env: { RECONCILE_SWEEP_PAGE_SIZE: '4' } }, { afterEachTest: expectMoneyInvariants });

test('thirty payments spread over the last minute, webhooks lost, 4 per page: one run settles each once', async () => {
  const seats = Array.from({ length: 30 }, (_, i) => ({ label: `S${i + 1}`, price: 10000 + i }));
  const event = await createEventViaApi(t, seats);
  const reservations = [];
  for (const seat of event.seats) {
    const hold = await t.gql(HoldSeatDocument, { input: { seatId: seat.id } }, { token: await t.tokenFor(`buyer-${seat.label}`) });
    reservations.push(hold.data!.holdSeat);
  }
  // Paid one per two seconds over the last minute (PortOne's clock set back, then forward).
  await t.simulator.control.advanceClock(-61);
  const impUids: string[] = [];
  for (const [i, reservation] of reservations.entries()) {
    impUids.push(await t.simulator.pay({ merchantUid: reservation.merchantUid, amount: reservation.amount }));
    if (i % 2 === 1) await t.simulator.control.advanceClock(2);
    // Another shop's payments on the same account sit between ours; they are never touched.
    if (i % 5 === 0) await t.simulator.pay({ merchantUid: `other_shop_${i}`, amount: 1000 });
  }
  await t.simulator.control.advanceClock(61 - 30);

  const report = await t.app.services.reconciliation.run();
  expect(report).toMatchObject({ settled: 30, errors: 0 });
  const statuses = await t.orm.em.fork().find(Reservation, { id: { $in: reservations.map((r) => r.id) } });
  expect(statuses.map((r) => r.status)).toEqual(reservations.map(() => ReservationStatus.CONFIRMED));
  const cursor = await t.orm.em.fork().findOneOrFail(SweepCursor, { listing: 'paid' });
  expect(cursor.sweptUntil.getTime()).toBeGreaterThan(Date.now() - 60_000);

  const again = await t.app.services.reconciliation.run();
  expect(again.settled).toBe(0);
});

test('a payment the sweep could not settle (PortOne down for reads) is queued, and the cursor waits before it until it is settled', async () => {
  const event = await createEventViaApi(t);
  const hold = await t.gql(HoldSeatDocument, { input: { seatId: event.seats[0].id } }, { token: await t.tokenFor('buyer') });
  const impUid = await t.simulator.pay({ merchantUid: hold.data!.holdSeat.merchantUid, amount: hold.data!.holdSeat.amount });
  await t.simulator.fault({ endpoint: 'getPayment', kind: 'http503', times: 1000 });
  const report = await t.app.services.reconciliation.run();
  expect(report.settled).toBe(0);
  expect(report.errors).toBeGreaterThan(0);
  const queued: unknown[] = await t.orm.em
    .getConnection()
    .execute(`select 1 from graphile_worker._private_jobs where key = ?`, [`settle:${impUid}`]);
  expect(queued).toHaveLength(1);
  // The cursor did not move past the window holding it: the next run lists it again.
  expect(await t.orm.em.fork().findOne(SweepCursor, { listing: 'paid' })).toBeNull();
  await t.simulator.clearFaults();
  await t.app.services.reconciliation.run();
  expect(await t.orm.em.fork().findOne(SweepCursor, { listing: 'paid' })).not.toBeNull();
  const reservation = await t.orm.em.fork().findOneOrFail(Reservation, hold.data!.holdSeat.id);
  expect(reservation.status).toBe(ReservationStatus.CONFIRMED);
});
