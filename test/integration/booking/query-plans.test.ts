import { Reservation } from '../../../src/booking/reservation.entity';
import { createEventViaApi } from '../../support/fixtures';
import { captureStatements } from '../../support/sql-statements';
import { testDatabaseUrl } from '../../support/test-database';
import { startTestApp, type TestApp } from '../../support/test-app';

/**
 * The hot paths' queries are served by indexes once the tables are big: ~100k reservations (each seat of
 * past events has one CONFIRMED or HELD reservation and nine EXPIRED ones), 10k seats, 5k payments, 1k
 * refunds, bulk loaded and ANALYZEd. holdSeat's and bookingStatuses' statements are the ones the app
 * really sends (captured, with their values inlined as MikroORM sends them); the confirm path's main
 * look-ups are written out below and should follow its implementation.
 */
const SCANNED = /Seq Scan on (reservation|payment|refund|seat)\b/;
const HOLD = 'mutation Hold($input: HoldSeatInput!) { holdSeat(input: $input) { id status } }';

let t: TestApp;
const database = new URL(testDatabaseUrl()).pathname.slice(1);
let sample: { reservationId: string; merchantUid: string; seatId: string; gatewayPaymentId: string; refundedPaymentId: string };

async function bulkLoad(): Promise<void> {
  const connection = t.orm.em.getConnection();
  await connection.execute(`
    create temporary table bulk_seat on commit drop as
      select gen_random_uuid() as id, n, (n - 1) / 1000 as event_n from generate_series(1, 10000) n;
    create temporary table bulk_event on commit drop as
      select event_n, gen_random_uuid() as id from (select distinct event_n from bulk_seat) e;
    insert into event (id, title, starts_at, created_at)
      select id, 'past ' || event_n, now() - interval '30 days', now() - interval '60 days' from bulk_event;
    insert into seat (id, event_id, label, price)
      select s.id, e.id, 'B' || s.n, 50000 from bulk_seat s join bulk_event e using (event_n);
    insert into reservation (id, seat_id, buyer_id, status, amount, merchant_uid, expires_at, confirmed_at, created_at, updated_at)
      select gen_random_uuid(), s.id, 'bulk-buyer-' || ((s.n * 10 + k) % 5000),
             (case when k > 0 then 'EXPIRED' when s.n % 2 = 0 then 'CONFIRMED' else 'HELD' end)::reservation_status,
             50000, 'bulk-' || gen_random_uuid(), now() - interval '59 days',
             case when k = 0 and s.n % 2 = 0 then now() - interval '59 days' end, now() - interval '60 days', now() - interval '59 days'
        from bulk_seat s cross join generate_series(0, 9) k;
    insert into payment (id, gateway_payment_id, reservation_id, merchant_uid, amount, currency, decision, decided_by, decided_at)
      select gen_random_uuid(), 'imp_' || r.merchant_uid, r.id, r.merchant_uid, r.amount, 'KRW', 'CONFIRMED', 'bulk', r.confirmed_at
        from reservation r where r.status = 'CONFIRMED';
    insert into refund (id, gateway_payment_id, reservation_id, amount, reason, status, attempts, created_at, updated_at, give_up_at)
      select gen_random_uuid(), 'imp_refunded_' || r.merchant_uid, r.id, r.amount, 'AMOUNT_MISMATCH', 'SUCCEEDED', 1,
             now() - interval '59 days', now() - interval '59 days', now()
        from reservation r where r.status = 'EXPIRED' and r.buyer_id like '%7' limit 1000;
    analyze event; analyze seat; analyze reservation; analyze payment; analyze refund;
  `);
}

async function planOf(sql: string): Promise<string[]> {
  const rows: Array<{ 'QUERY PLAN': string }> = await t.orm.em.getConnection().execute(`explain ${sql}`);
  return rows.map((row) => row['QUERY PLAN']);
}

async function expectIndexed(sql: string): Promise<void> {
  const plan = await planOf(sql);
  // The whole plan in the failure message says what to index.
  expect({ sql, scans: plan.filter((line) => SCANNED.test(line)) }).toEqual({ sql, scans: [] });
}

beforeAll(async () => {
  t = await startTestApp({ startWorker: false });
  await t.reset();
  await bulkLoad();
  const [row] = await t.orm.em.getConnection().execute<Array<{ id: string; merchant_uid: string; seat_id: string; gateway_payment_id: string }>>(
    `select r.id, r.merchant_uid, r.seat_id, p.gateway_payment_id from reservation r join payment p on p.reservation_id = r.id limit 1`,
  );
  const [refunded] = await t.orm.em.getConnection().execute<Array<{ gateway_payment_id: string }>>('select gateway_payment_id from refund limit 1');
  sample = { reservationId: row.id, merchantUid: row.merchant_uid, seatId: row.seat_id, gatewayPaymentId: row.gateway_payment_id, refundedPaymentId: refunded.gateway_payment_id };
}, 120_000);
afterAll(async () => {
  await t.reset();
  await t.close();
});

test('every statement of holdSeat (a stale hold to expire included) uses an index', async () => {
  const event = await createEventViaApi(t);
  const seatId = event.seats[0].id;
  const first = await t.gql<{ holdSeat: { id: string } }, unknown>(HOLD, { input: { seatId } }, { token: await t.tokenFor('bulk-buyer-7') });
  await t.orm.em.fork().nativeUpdate(Reservation, { id: first.data!.holdSeat.id }, { expiresAt: new Date(Date.now() - 1000 - t.config.holdPaymentGraceMs) });
  const token = await t.tokenFor('bulk-buyer-17');

  const capture = captureStatements({ database });
  try {
    expect((await t.gql(HOLD, { input: { seatId } }, { token })).data).toMatchObject({ holdSeat: { status: 'HELD' } });
  } finally {
    capture.stop();
  }
  const planned = capture.statements.filter((sql) => /^(select|insert|update|with)\b/i.test(sql));
  expect(planned.length).toBeGreaterThanOrEqual(4);
  for (const sql of planned) await expectIndexed(sql);
});

test("bookingStatuses' query uses an index (a partner of two events asking about 100 bookings)", async () => {
  const connection = t.orm.em.getConnection();
  const events: Array<{ id: string }> = await connection.execute(`select id from event where title like 'past %' order by title limit 2`);
  const uids: Array<{ merchant_uid: string }> = await connection.execute(
    `select r.merchant_uid from reservation r join seat s on s.id = r.seat_id where s.event_id = ? and r.status = 'CONFIRMED' limit 100`,
    [events[0].id],
  );
  const capture = captureStatements({ database });
  try {
    const found = await t.app.services.partners.bookingStatuses(t.orm.em.fork(), events.map((e) => e.id), uids.map((u) => u.merchant_uid));
    expect(found).toHaveLength(100);
  } finally {
    capture.stop();
  }
  expect(capture.statements).toHaveLength(1);
  await expectIndexed(capture.statements[0]);
});

test('every statement of a kept confirmPayment uses an index', async () => {
  const event = await createEventViaApi(t);
  const token = await t.tokenFor('bulk-buyer-27');
  const hold = await t.gql<{ holdSeat: { id: string; merchantUid: string; amount: number } }, unknown>(
    'mutation Hold($input: HoldSeatInput!) { holdSeat(input: $input) { id merchantUid amount } }',
    { input: { seatId: event.seats[0].id } },
    { token },
  );
  const { id, merchantUid, amount } = hold.data!.holdSeat;
  const paymentId = await t.simulator.pay({ merchantUid, amount });
  const capture = captureStatements({ database });
  try {
    const confirmed = await t.gql<{ confirmPayment: { __typename: string } }, unknown>(
      'mutation Confirm($input: ConfirmPaymentInput!) { confirmPayment(input: $input) { __typename } }',
      { input: { reservationId: id, paymentId, merchantUid } },
      { token },
    );
    expect(confirmed.data).toEqual({ confirmPayment: { __typename: 'PaymentConfirmed' } });
  } finally {
    capture.stop();
  }
  const planned = capture.statements.filter((sql) => /^(select|insert|update|with)\b/i.test(sql));
  // The buyer's reservation read and the one statement that writes the decision, at least.
  expect(planned.length).toBeGreaterThanOrEqual(2);
  for (const sql of planned) await expectIndexed(sql);
});

describe('the confirm path look-ups use an index', () => {
  const lookups: Array<[string, () => string]> = [
    ['reservation by id', () => `select * from reservation where id = '${sample.reservationId}' for update`],
    ['reservation by merchant_uid', () => `select * from reservation where merchant_uid = '${sample.merchantUid}'`],
    ['payment by gateway_payment_id', () => `select * from payment where gateway_payment_id = '${sample.gatewayPaymentId}'`],
    ['refund by gateway_payment_id', () => `select * from refund where gateway_payment_id = '${sample.refundedPaymentId}'`],
    [
      'the HELD or CONFIRMED reservations of a seat',
      () => `select * from reservation where seat_id = '${sample.seatId}' and status in ('HELD', 'CONFIRMED') for update`,
    ],
    ['payments of a reservation', () => `select * from payment where reservation_id = '${sample.reservationId}'`],
    ['refunds of a reservation', () => `select * from refund where reservation_id = '${sample.reservationId}'`],
    ['the seat, locked', () => `select * from seat where id = '${sample.seatId}' for update`],
  ];
  test.each(lookups)('%s', async (_name, sql) => {
    await expectIndexed(sql());
  });
});

test('the check can fail: a look-up by an unindexed column is a sequential scan', async () => {
  const plan = await planOf(`select * from reservation where buyer_id || '' = 'bulk-buyer-1'`);
  expect(plan.some((line) => SCANNED.test(line))).toBe(true);
});
