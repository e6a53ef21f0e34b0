import { Reservation } from '../../../src/booking/reservation.entity';
import { createEventViaApi } from '../../support/fixtures';
import { captureStatements } from '../../support/sql-statements';
import { testDatabaseUrl } from '../../support/test-database';
import { startTestApp, type TestApp } from '../../support/test-app';

/**
 * holdSeat's unit of work, statement by statement (BEGIN and COMMIT count). The bounds are what the
 * implementation achieves; a statement more fails here. The selection asks for nothing a field
 * resolver would read again (seat, refund), so only the mutation's own statements are counted.
 */
const HOLD = 'mutation Hold($input: HoldSeatInput!) { holdSeat(input: $input) { id status merchantUid amount expiresAt } }';

let t: TestApp;
const database = new URL(testDatabaseUrl()).pathname.slice(1);

beforeAll(async () => {
  // No job worker in this process: its polling would land in the capture.
  t = await startTestApp({ startWorker: false });
});
afterAll(async () => {
  await t.close();
});
beforeEach(async () => {
  await t.reset();
});

async function hold(seatId: string, buyer: string) {
  const result = await t.gql<{ holdSeat: { id: string; status: string } }, unknown>(HOLD, { input: { seatId } }, { token: await t.tokenFor(buyer) });
  if (!result.data) throw new Error(`holdSeat failed: ${JSON.stringify(result.errors)}`);
  return result.data.holdSeat;
}

/** Runs `work` and returns the statements the app sent to this worker's database meanwhile. */
async function statementsOf(work: () => Promise<unknown>): Promise<string[]> {
  const capture = captureStatements({ database });
  try {
    await work();
  } finally {
    capture.stop();
  }
  return capture.statements;
}

test('a hold on a free seat is 5 statements in one transaction: BEGIN, lock, read, insert, COMMIT', async () => {
  const event = await createEventViaApi(t);
  // Warm: the pool has its connections and nothing is done for the first time below.
  await hold(event.seats[0].id, 'warm-up');
  const token = await t.tokenFor('buyer-1');
  const statements = await statementsOf(() => t.gql(HOLD, { input: { seatId: event.seats[1].id } }, { token }));

  expect(statements.length).toBeLessThanOrEqual(5);
  expect(statements[0]).toMatch(/^begin/i);
  expect(statements[1]).toMatch(/for update/i);
  expect(statements.filter((sql) => /^insert into "?reservation"?/i.test(sql))).toHaveLength(1);
  expect(statements[statements.length - 1]).toMatch(/^commit/i);
});

test('stale holds on the seat cost one statement more (their expiry), and only then', async () => {
  const event = await createEventViaApi(t);
  const seatId = event.seats[0].id;
  const stale = await hold(seatId, 'early');
  await t.orm.em.fork().nativeUpdate(Reservation, { id: stale.id }, { expiresAt: new Date(Date.now() - 1000 - t.config.holdPaymentGraceMs) });
  const token = await t.tokenFor('late');

  const statements = await statementsOf(() => t.gql(HOLD, { input: { seatId } }, { token }));

  expect(statements.length).toBeLessThanOrEqual(6);
  expect(statements.filter((sql) => /^update "?reservation"?/i.test(sql))).toHaveLength(1);
  expect((await t.orm.em.fork().findOneOrFail(Reservation, stale.id)).status).toBe('EXPIRED');
});

test('holding again what you hold writes nothing: 4 statements, no insert', async () => {
  const event = await createEventViaApi(t);
  const first = await hold(event.seats[0].id, 'buyer-2');
  const token = await t.tokenFor('buyer-2');

  let again: unknown;
  const statements = await statementsOf(async () => {
    again = await t.gql(HOLD, { input: { seatId: event.seats[0].id } }, { token });
  });

  expect(again).toMatchObject({ data: { holdSeat: { id: first.id, status: 'HELD' } } });
  expect(statements.length).toBeLessThanOrEqual(4);
  expect(statements.some((sql) => /^(insert|update)\b/i.test(sql))).toBe(false);
});
