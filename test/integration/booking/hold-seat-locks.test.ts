import { Client } from 'pg';
import { createEventViaApi } from '../../support/fixtures';
import { testDatabaseUrl } from '../../support/test-database';
import { startTestApp, type TestApp } from '../../support/test-app';
import { waitFor } from '../../support/wait';

/**
 * holdSeat takes its locks in one statement (seat row, then the buyer's hold-limit advisory lock); the
 * order must still be seat first, as everywhere else, or two holds could deadlock. Here another
 * transaction holds the seat row: the hold must wait for it without owning the advisory lock meanwhile.
 */
const HOLD = 'mutation Hold($input: HoldSeatInput!) { holdSeat(input: $input) { id status } }';

let t: TestApp;
let other: Client;

beforeAll(async () => {
  t = await startTestApp({ startWorker: false });
  other = new Client({ connectionString: testDatabaseUrl() });
  await other.connect();
});
afterAll(async () => {
  await other.end();
  await t.close();
});

test('the hold-limit lock is requested only once the seat row lock is held', async () => {
  await t.reset();
  const event = await createEventViaApi(t);
  const seatId = event.seats[0].id;
  await other.query('begin');
  await other.query('select id from seat where id = $1 for update', [seatId]);

  const pending = t.gql(HOLD, { input: { seatId } }, { token: await t.tokenFor('waiting-buyer') });
  // The hold's backend waits on the seat row (a transactionid/tuple lock), not yet on anything else.
  const waiting = await waitFor(async () => {
    // Activity statistics are a snapshot per transaction, and this session is inside one.
    await other.query('select pg_stat_clear_snapshot()');
    const { rows } = await other.query<{ pid: number }>(
      `select pid from pg_stat_activity where wait_event_type = 'Lock' and query ilike '%for update of s%' and pid <> pg_backend_pid()`,
    );
    return rows[0]?.pid ?? null;
  });
  const { rows: advisory } = await other.query(`select 1 from pg_locks where locktype = 'advisory' and pid = $1`, [waiting]);
  expect(advisory).toHaveLength(0);

  await other.query('commit');
  const result = await pending;
  expect(result.data).toMatchObject({ holdSeat: { status: 'HELD' } });
});
