import fc from 'fast-check';
import { createEventViaApi } from '../../support/fixtures';
import { expectMoneyInvariants } from '../../support/money-invariants';
import { confirmAs, holdSeatAs, paymentRowsOf, refundRowsOf, reservationRow, simulatorControl, type SimulatorControl } from '../../support/money-holes';
import { useTestApp } from '../../support/test-app';
import { waitFor } from '../../support/wait';

/**
 * Review of the buyer's confirmation written by one statement on the row read before PortOne
 * (`recordConfirmation` sent alone). confirm-as-read.service.test.ts changes the row while PortOne is
 * asked, before the statement starts. Here the change commits while the statement itself waits for a
 * lock: its snapshot is older than the change, so only the re-check PostgreSQL makes on the locked row
 * (and whatever else the statement locks) can see it.
 */
const t = useTestApp({}, { afterEachTest: (app) => expectMoneyInvariants(app) });
let sim: SimulatorControl;

beforeAll(() => {
  sim = simulatorControl(t.simulator.url);
});

/** The confirmation's own statement (the one that compares the row), waiting on a row lock. */
async function statementWaiting(marker: string): Promise<true | null> {
  const rows = (await t.orm.em
    .getConnection()
    .execute(`select count(*)::int as n from pg_stat_activity where datname = current_database() and wait_event_type = 'Lock' and query like ?`, [`%${marker}%`])) as Array<{ n: number }>;
  return rows[0].n > 0 ? true : null;
}

/** Locks `lockSql` in a transaction of the test's, starts the confirmation, and commits `change` while the statement waits. */
async function changedWhileWaiting<T>(
  lockSql: string,
  lockParams: string[],
  start: () => Promise<T>,
  change: (sql: (text: string, params: string[]) => Promise<unknown>) => Promise<void>,
  marker = 'still_as_read',
): Promise<T> {
  const blocker = await t.orm.em.getKnex().transaction();
  let started: Promise<T> | undefined;
  try {
    await blocker.raw(lockSql, lockParams);
    started = start();
    await waitFor(() => statementWaiting(marker), 10_000, 20);
    await change((text, params) => blocker.raw(text, params));
    await blocker.commit();
  } catch (error) {
    await blocker.rollback();
    throw error;
  }
  return started!;
}

async function heldAndPaid(buyer: string) {
  const event = await createEventViaApi(t, [{ label: 'A1', price: 50000 }]);
  const seatId = event.seats[0].id;
  const { token, reservation } = await holdSeatAs(t, buyer, seatId);
  const payment = await sim.createPayment({ merchantUid: reservation.merchantUid, amount: reservation.amount });
  return { event, seatId, token, reservation, impUid: payment.imp_uid };
}

test('a status-only change (no version bump) commits while the statement waits for the reservation row: the statement sees it', async () => {
  const { token, reservation, impUid } = await heldAndPaid('waits-row');
  // A writer that changes the status and leaves the version (as reconciliation's expiry does).
  const result = await changedWhileWaiting(
    'select id from reservation where id = ? for update',
    [reservation.id],
    () => confirmAs(t, token, reservation, impUid),
    async (sql) => {
      await sql(`update reservation set status = 'CANCELLED', cancelled_at = now() where id = ?`, [reservation.id]);
    },
  );
  expect(result.errors).toBeUndefined();
  expect(result.data?.confirmPayment).toMatchObject({ __typename: 'PaymentRefunded', reason: 'RESERVATION_CANCELLED' });
  expect((await reservationRow(t.orm, reservation.id)).status).toBe('CANCELLED');
  expect(await paymentRowsOf(t.orm, impUid)).toEqual([expect.objectContaining({ decision: 'REFUND', refundReason: 'RESERVATION_CANCELLED' })]);
  await waitFor(async () => ((await refundRowsOf(t.orm, impUid))[0]?.status === 'SUCCEEDED' ? true : null), 15_000);
}, 30_000);

test("the hold ends and another buyer's hold is written while the statement waits for the seat: refunded SEAT_UNAVAILABLE, the new hold untouched", async () => {
  const { seatId, token, reservation, impUid } = await heldAndPaid('waits-seat');
  const result = await changedWhileWaiting(
    'select id from seat where id = ? for update',
    [seatId],
    () => confirmAs(t, token, reservation, impUid),
    async (sql) => {
      // What holdSeat writes under the seat's lock once our hold is stale.
      await sql(`update reservation set status = 'EXPIRED', expires_at = now() - interval '1 hour', version = version + 1 where id = ?`, [reservation.id]);
      await sql(
        `insert into reservation (id, seat_id, buyer_id, status, amount, merchant_uid, expires_at, created_at, updated_at)
         values (gen_random_uuid(), ?, 'waits-seat-other', 'HELD', 50000, 'bk_waits_' || md5(random()::text), now() + interval '10 minutes', now(), now())`,
        [seatId],
      );
    },
  );
  expect(result.errors).toBeUndefined();
  expect(result.data?.confirmPayment).toMatchObject({ __typename: 'PaymentRefunded', reason: 'SEAT_UNAVAILABLE' });
  expect((await reservationRow(t.orm, reservation.id)).status).toBe('EXPIRED');
  const onSeat = (await t.orm.em
    .getConnection()
    .execute(`select buyer_id, status from reservation where seat_id = ? and status in ('HELD', 'CONFIRMED')`, [seatId])) as Array<{ buyer_id: string; status: string }>;
  expect(onSeat).toEqual([{ buyer_id: 'waits-seat-other', status: 'HELD' }]);
  await waitFor(async () => ((await refundRowsOf(t.orm, impUid))[0]?.status === 'SUCCEEDED' ? true : null), 15_000);
}, 30_000);

type Blocked = 'seat' | 'reservation';
type Change = 'buyer-cancel' | 'cancel-status-only' | 'sweep-expiry' | 'sweep-expiry-and-new-hold' | 'nothing';
const expectedAfter: Record<Change, { answer: string; reason?: string; status: string }> = {
  'buyer-cancel': { answer: 'PaymentRefunded', reason: 'RESERVATION_CANCELLED', status: 'CANCELLED' },
  // A writer that leaves the version alone: the status compare alone must catch it.
  'cancel-status-only': { answer: 'PaymentRefunded', reason: 'RESERVATION_CANCELLED', status: 'CANCELLED' },
  // Reconciliation's expiry changes the status only; a late payment with its seat free is still kept.
  'sweep-expiry': { answer: 'PaymentConfirmed', status: 'CONFIRMED' },
  'sweep-expiry-and-new-hold': { answer: 'PaymentRefunded', reason: 'SEAT_UNAVAILABLE', status: 'EXPIRED' },
  nothing: { answer: 'PaymentConfirmed', status: 'CONFIRMED' },
};

test('generated: whatever another path commits while the statement waits (for the seat or the row), the answer is the one a decision on the changed row gives', async () => {
  await fc.assert(
    fc.asyncProperty(
      fc.constantFrom<Blocked>('seat', 'reservation'),
      fc.constantFrom<Change>('buyer-cancel', 'cancel-status-only', 'sweep-expiry', 'sweep-expiry-and-new-hold', 'nothing'),
      async (blocked, change) => {
        // A new hold needs the seat's key lock, which the waiting statement holds: real holds lock the seat first.
        fc.pre(!(blocked === 'reservation' && change === 'sweep-expiry-and-new-hold'));
        const { seatId, token, reservation, impUid } = await heldAndPaid(`waits-generated`);
        const result = await changedWhileWaiting(
          blocked === 'seat' ? 'select id from seat where id = ? for update' : 'select id from reservation where id = ? for update',
          [blocked === 'seat' ? seatId : reservation.id],
          () => confirmAs(t, token, reservation, impUid),
          async (sql) => {
            if (change === 'buyer-cancel') {
              await sql(`update reservation set status = 'CANCELLED', cancelled_at = now(), version = version + 1 where id = ?`, [reservation.id]);
            }
            if (change === 'cancel-status-only') {
              await sql(`update reservation set status = 'CANCELLED', cancelled_at = now() where id = ?`, [reservation.id]);
            }
            if (change === 'sweep-expiry' || change === 'sweep-expiry-and-new-hold') {
              await sql(`update reservation set status = 'EXPIRED', expires_at = now() - interval '1 hour' where id = ?`, [reservation.id]);
            }
            if (change === 'sweep-expiry-and-new-hold') {
              await sql(
                `insert into reservation (id, seat_id, buyer_id, status, amount, merchant_uid, expires_at, created_at, updated_at)
                 values (gen_random_uuid(), ?, 'waits-generated-other', 'HELD', 50000, 'bk_waits_' || md5(random()::text), now() + interval '10 minutes', now(), now())`,
                [seatId],
              );
            }
          },
        );
        const expected = expectedAfter[change];
        expect(result.errors).toBeUndefined();
        expect(result.data?.confirmPayment).toMatchObject({ __typename: expected.answer, ...(expected.reason ? { reason: expected.reason } : {}) });
        expect((await reservationRow(t.orm, reservation.id)).status).toBe(expected.status);
        expect(await paymentRowsOf(t.orm, impUid)).toHaveLength(1);
        if (expected.reason) await waitFor(async () => ((await refundRowsOf(t.orm, impUid))[0]?.status === 'SUCCEEDED' ? true : null), 15_000);
        else expect(await sim.cancelRequests(impUid)).toEqual([]);
        await expectMoneyInvariants(t);
      },
    ),
    { numRuns: 12 },
  );
}, 120_000);
