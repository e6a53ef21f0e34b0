import type { ListingRequestRecord } from '../../../src/gateway/portone/sim/simulator-state';
import { SweepCursor } from '../../../src/payment/reconciliation/sweep-cursor.entity';
import { createEventViaApi } from '../../support/fixtures';
import { expectMoneyInvariants } from '../../support/money-invariants';
import { holdSeatAs, paymentRowsOf, type SimulatorControl, simulatorControl, SyncedClock } from '../../support/money-holes';
import { useTestApp } from '../../support/test-app';

/**
 * Issue 10, "record sweep progress so a crash resumes where it stopped": a sweep that stops mid-walk (a
 * listing request fails, or the run's page budget is spent) leaves its cursor at the end of the last
 * window it read to the end, and the next run starts there (less the overlap), not from the beginning.
 * One payment per page, so that a handful of payments makes a walk of many windows; the simulator's
 * ledger records every listing request's window, so each run's reads can be told apart and checked.
 */
const clock = new SyncedClock();
const OVERLAP_MS = 5000;
/** The sweep's listing calls per listing per run (`sweepMaxPagesPerRun` in src/app.ts). */
const PAGES_PER_RUN = 100;
const t = useTestApp(
  {
    clock,
    env: {
      RECONCILE_SWEEP_PAGE_SIZE: '1',
      RECONCILE_SWEEP_OVERLAP_MS: String(OVERLAP_MS),
      HOLD_MAX_PER_BUYER_PER_EVENT: '1000',
      RATE_LIMIT_HOLD_SEAT_PER_BUYER: '0',
    },
  },
  { afterEachTest: (app) => expectMoneyInvariants(app) },
);
let sim: SimulatorControl;

beforeAll(() => {
  sim = simulatorControl(t.simulator.url);
});
beforeEach(async () => {
  // After useTestApp's reset: the sweep's first run on an empty database stores its cursors, and every
  // later run resumes from them.
  clock.reset();
  await reconcile();
});

const reconcile = () => t.app.services.reconciliation.run();

/** `count` buyers pay for their holds, one every `spacingSeconds` (both clocks move), webhooks lost. */
async function paidOverTime(count: number, spacingSeconds: number) {
  const event = await createEventViaApi(t, Array.from({ length: count }, (_, i) => ({ label: `S${i + 1}`, price: 10000 + i })));
  const paid = [];
  for (const seat of event.seats) {
    const { reservation } = await holdSeatAs(t, 'buyer', seat.id);
    const payment = await sim.createPayment({ merchantUid: reservation.merchantUid, amount: reservation.amount });
    paid.push({ reservationId: reservation.id, impUid: payment.imp_uid, paidAtMs: payment.paid_at * 1000 });
    await clock.advance(sim, spacingSeconds);
  }
  return paid;
}

async function cursorMs(listing: string): Promise<number> {
  return (await t.orm.em.fork().findOneOrFail(SweepCursor, { listing })).sweptUntil.getTime();
}

/** The `paid` listing requests PortOne received since the ledger held `since` listing requests. */
async function paidListingsSince(since: number): Promise<ListingRequestRecord[]> {
  return (await sim.ledger()).listingRequests.slice(since).filter((r) => r.status === 'paid');
}

const listingCount = async () => (await sim.ledger()).listingRequests.length;

async function decisionsOf(payments: Array<{ impUid: string }>): Promise<string[]> {
  return Promise.all(payments.map(async (p) => (await paymentRowsOf(t.orm, p.impUid))[0]?.decision ?? 'UNDECIDED'));
}

/** Payments listed at or before the cursor were settled; those a second or more after it were not read yet. */
async function expectSettledUpTo(payments: Array<{ impUid: string; paidAtMs: number }>, cursor: number) {
  const behind = payments.filter((p) => p.paidAtMs <= cursor);
  const ahead = payments.filter((p) => p.paidAtMs > cursor + 1000);
  expect(behind.length).toBeGreaterThan(0);
  expect(ahead.length).toBeGreaterThan(0);
  expect(await decisionsOf(behind)).toEqual(behind.map(() => 'CONFIRMED'));
  expect(await decisionsOf(ahead)).toEqual(ahead.map(() => 'UNDECIDED'));
}

test('a listing request failing partway through the walk leaves the cursor where that read began; the next run resumes there and settles the rest', async () => {
  const startCursor = await cursorMs('paid');
  const payments = await paidOverTime(8, 15);

  const beforeFirst = await listingCount();
  // Faults are drawn in the order injected: eight listing requests pass (a 0 ms delay), the ninth gets a 503.
  await sim.fault({ endpoint: 'list', kind: 'latency', latencyMs: 0, times: 8 });
  await sim.fault({ endpoint: 'list', kind: 'http503', times: 1 });
  const first = await reconcile();
  expect(first.errors).toBeGreaterThan(0);

  const firstReads = await paidListingsSince(beforeFirst);
  expect(firstReads.map((r) => r.fault)).toEqual([...Array(8).fill('latency'), 'http503']);
  const failed = firstReads[8];
  const cursor = await cursorMs('paid');
  expect(cursor).toBeGreaterThan(startCursor);
  // The windows are read oldest first and contiguous: the last one read to its end stops where the failed one starts.
  expect(Math.floor(cursor / 1000)).toBe(failed.from);
  await expectSettledUpTo(payments, cursor);

  const beforeSecond = await listingCount();
  const secondStartedAt = clock.now().getTime();
  const second = await reconcile();
  expect(second.errors).toBe(0);
  const secondReads = await paidListingsSince(beforeSecond);
  // Resumed at the cursor less the overlap: nothing before it is read again.
  const resumeFrom = Math.floor((cursor - OVERLAP_MS) / 1000);
  expect(secondReads[0].from).toBe(resumeFrom);
  expect(Math.min(...secondReads.map((r) => r.from!))).toBe(resumeFrom);
  expect(resumeFrom).toBeGreaterThan(firstReads[0].from!);
  expect(await decisionsOf(payments)).toEqual(payments.map(() => 'CONFIRMED'));
  // Caught up: the cursor is where the second run started, not somewhere behind it.
  expect(await cursorMs('paid')).toBeGreaterThanOrEqual(secondStartedAt - 1000);
});

test('a run whose page budget is spent mid-walk leaves the cursor after the last window read; the following runs resume there until all is settled', async () => {
  // One page per payment: sixty payments take well over a run's budget of listing calls to walk.
  const payments = await paidOverTime(60, 2);

  const beforeFirst = await listingCount();
  const first = await reconcile();
  expect(first.errors).toBe(0);
  const firstReads = await paidListingsSince(beforeFirst);
  // The budget counts windows (their first pages); a window's further pages are read to its end uncounted.
  expect(firstReads.filter((r) => r.page === 1)).toHaveLength(PAGES_PER_RUN);
  let cursor = await cursorMs('paid');
  // The budget ran out in the window after the last one read to its end, or just as that one was read.
  const last = firstReads[firstReads.length - 1];
  expect(Math.floor(cursor / 1000) === last.from || Math.ceil(cursor / 1000) === last.to).toBe(true);
  await expectSettledUpTo(payments, cursor);

  let resumedRuns = 0;
  for (let run = 0; run < 5 && (await decisionsOf(payments)).includes('UNDECIDED'); run++) {
    const before = await listingCount();
    const report = await reconcile();
    expect(report.errors).toBe(0);
    const reads = await paidListingsSince(before);
    expect(reads.filter((r) => r.page === 1).length).toBeLessThanOrEqual(PAGES_PER_RUN);
    // Each run starts at the previous one's cursor less the overlap, never at the first run's start.
    expect(reads[0].from).toBe(Math.floor((cursor - OVERLAP_MS) / 1000));
    expect(Math.min(...reads.map((r) => r.from!))).toBe(reads[0].from);
    const next = await cursorMs('paid');
    expect(next).toBeGreaterThan(cursor);
    cursor = next;
    resumedRuns += 1;
  }
  expect(resumedRuns).toBeGreaterThan(0);
  expect(await decisionsOf(payments)).toEqual(payments.map(() => 'CONFIRMED'));
}, 120_000);

test('a payment PortOne lists just before the stored cursor (within the overlap) is found by the next run', async () => {
  const event = await createEventViaApi(t);
  const { reservation } = await holdSeatAs(t, 'late-listed', event.seats[0].id);
  await reconcile();
  const cursor = await cursorMs('paid');

  // PortOne shows the payment paid two seconds before that run's cursor: its clock behind ours, or its
  // listing late. The run that set the cursor did not see it.
  const { now } = await sim.freezeClock(true);
  const back = now - (Math.floor(cursor / 1000) - 2);
  await sim.advanceClock(-back);
  const payment = await sim.createPayment({ merchantUid: reservation.merchantUid, amount: reservation.amount });
  await sim.advanceClock(back);
  await sim.freezeClock(false);
  expect(payment.paid_at * 1000).toBeLessThan(cursor);
  expect(payment.paid_at * 1000).toBeGreaterThan(cursor - OVERLAP_MS);

  await clock.advance(sim, 30);
  const before = await listingCount();
  await reconcile();
  const reads = await paidListingsSince(before);
  expect(await paymentRowsOf(t.orm, payment.imp_uid)).toEqual([expect.objectContaining({ decision: 'CONFIRMED', reservationId: reservation.id })]);
  expect(reads[0].from).toBe(Math.floor((cursor - OVERLAP_MS) / 1000));
});

test('a crowd of payments within two seconds, more pages than one run may read at one per page, is read to its end and settled', async () => {
  // The window cannot be split below two seconds; stopping inside it at the budget would restart it at
  // page 1 on every run and never get past it.
  const crowd = PAGES_PER_RUN + 5;
  const event = await createEventViaApi(t, Array.from({ length: crowd }, (_, i) => ({ label: `C${i + 1}`, price: 10000 })));
  const payments = [];
  // PortOne's clock is frozen at one second while the crowd pays (making the holds takes longer than that).
  const { now: crowdSecond } = await sim.freezeClock(true);
  for (const seat of event.seats) {
    const { reservation } = await holdSeatAs(t, 'crowd', seat.id);
    const payment = await sim.createPayment({ merchantUid: reservation.merchantUid, amount: reservation.amount });
    expect(payment.paid_at).toBe(crowdSecond);
    payments.push({ impUid: payment.imp_uid });
  }
  await sim.freezeClock(false);
  await clock.advance(sim, 30);

  for (let run = 0; run < 3 && (await decisionsOf(payments)).includes('UNDECIDED'); run++) await reconcile();
  expect(await decisionsOf(payments)).toEqual(payments.map(() => 'CONFIRMED'));
  // And the cursor got past the crowd's second, so later runs are not stuck re-reading it.
  expect(await cursorMs('paid')).toBeGreaterThan(crowdSecond * 1000 + 1000);
}, 120_000);
