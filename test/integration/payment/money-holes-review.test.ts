import fc from 'fast-check';
import { CancelReservationDocument, HoldSeatDocument } from '../../generated/graphql';
import type { SettlementSource } from '../../../src/payment/settlement/settlement-outcome';
import { createEventViaApi } from '../../support/fixtures';
import { expectMoneyInvariants } from '../../support/money-invariants';
import { confirmAs, endHold, holdSeatAs, paymentRowsOf, refundRowsOf, reservationRow, type SimulatorControl, simulatorControl, sleep } from '../../support/money-holes';
import { useTestApp } from '../../support/test-app';
import { waitFor } from '../../support/wait';

/**
 * Adversarial review of the rewritten money path (settle: read, decide, act; a refund created already
 * claimed, whose first attempt cancels with the decision's own PortOne read). Interleavings are forced
 * by holding the seat's row lock from the test: settle has read PortOne and waits for the lock, and the
 * world changes in between.
 */
const t = useTestApp({
    env: { REFUND_BACKOFF_BASE_MS: '100', REFUND_BACKOFF_MAX_MS: '200' },
    simulator: { partialCancelStatus: 'cancelled' },
  }, { afterEachTest: (app) => expectMoneyInvariants(app) });
let sim: SimulatorControl;

beforeAll(() => {
  sim = simulatorControl(t.simulator.url);
});

async function waitingOnSeat(): Promise<number> {
  const rows = (await t.orm.em
    .getConnection()
    .execute(`select count(*)::int as n from pg_stat_activity where datname = current_database() and wait_event_type = 'Lock' and query like '%locked_seat%'`)) as Array<{ n: number }>;
  return rows[0].n;
}

/** Runs `meanwhile` while settle, having read PortOne already, waits for the seat's lock (`waiters` of them). */
async function withSeatLocked<T>(seatId: string, start: () => Promise<T>, meanwhile: () => Promise<void>, waiters = 1): Promise<T> {
  const blocker = await t.orm.em.getKnex().transaction();
  let started: Promise<T> | undefined;
  try {
    await blocker.raw('select id from seat where id = ? for update', [seatId]);
    started = start();
    // settle's PortOne read is done and its locking statement is waiting on the seat.
    await waitFor(async () => ((await waitingOnSeat()) >= waiters ? true : null), 10_000, 20);
    await meanwhile();
  } finally {
    await blocker.commit();
  }
  return started!;
}

describe('the first attempt cancels with the decision read: a balance changed in between', () => {
  test('a partial cancel by someone else between our read and our cancel: the rest is still refunded, not left NEEDS_ATTENTION', async () => {
    const event = await createEventViaApi(t);
    const seatId = event.seats[0].id;
    const { token, reservation } = await holdSeatAs(t, 'stale-read', seatId);
    // Paid 1,000 too much: refunded AMOUNT_MISMATCH.
    const payment = await sim.createPayment({ merchantUid: reservation.merchantUid, amount: reservation.amount + 1000 });

    const result = await withSeatLocked(
      seatId,
      () => confirmAs(t, token, reservation, payment.imp_uid),
      () => sim.cancelThroughApiAsSomeoneElse(payment.imp_uid, 1000),
    );
    expect(result.errors).toBeUndefined();
    expect(result.data?.confirmPayment).toMatchObject({ __typename: 'PaymentRefunded', reason: 'AMOUNT_MISMATCH' });

    const refund = await waitFor(async () => {
      const [row] = await refundRowsOf(t.orm, payment.imp_uid);
      return row && row.status !== 'PENDING' ? row : null;
    }, 15_000);
    expect({ status: refund.status, lastError: refund.lastError }).toEqual({ status: 'SUCCEEDED', lastError: null });
    expect(await sim.payment(payment.imp_uid)).toMatchObject({ cancel_amount: reservation.amount + 1000 });
    const applied = (await sim.cancelRequests(payment.imp_uid)).filter((c) => c.applied && c.reason.startsWith('booking refund'));
    expect(applied.map((c) => ({ amount: c.amount, checksum: c.checksum }))).toEqual([{ amount: reservation.amount, checksum: reservation.amount }]);
  }, 30_000);
  test('generated: whatever part (or all) someone else cancels in between, the refund ends SUCCEEDED with the payment fully cancelled, once', async () => {
    await fc.assert(
      fc.asyncProperty(fc.integer({ min: 1, max: 20 }), fc.boolean(), async (tenths, overpaid) => {
        const event = await createEventViaApi(t);
        const seatId = event.seats[0].id;
        const { token, reservation } = await holdSeatAs(t, 'stale-read-generated', seatId);
        const paid = overpaid ? reservation.amount + 1000 : reservation.amount - 1000;
        // 1 to 20 twentieths of what was paid; 20 is all of it.
        const cancelledMeanwhile = Math.round((paid * tenths) / 20);
        const payment = await sim.createPayment({ merchantUid: reservation.merchantUid, amount: paid });
        const result = await withSeatLocked(
          seatId,
          () => confirmAs(t, token, reservation, payment.imp_uid),
          () => sim.cancelThroughApiAsSomeoneElse(payment.imp_uid, cancelledMeanwhile),
        );
        expect(result.data?.confirmPayment).toMatchObject({ __typename: 'PaymentRefunded', reason: 'AMOUNT_MISMATCH' });
        const refund = await waitFor(async () => {
          const [row] = await refundRowsOf(t.orm, payment.imp_uid);
          return row && row.status !== 'PENDING' ? row : null;
        }, 15_000);
        expect(refund.status).toBe('SUCCEEDED');
        expect(await sim.payment(payment.imp_uid)).toMatchObject({ cancel_amount: paid });
        const ours = (await sim.cancelRequests(payment.imp_uid)).filter((c) => c.applied && c.reason.startsWith('booking refund'));
        expect(ours.map((c) => c.amount)).toEqual(cancelledMeanwhile === paid ? [] : [paid - cancelledMeanwhile]);
      }),
      { numRuns: 8 },
    );
  }, 120_000);
});

describe('one payment settled by several paths at once (DECIDED_MEANWHILE)', () => {
  type Scenario = 'exact' | 'overpaid' | 'late-seat-free';
  const sources = fc.constantFrom<SettlementSource>('CLIENT_CONFIRM', 'WEBHOOK', 'RECONCILIATION');

  test('all of them wait on the seat after reading PortOne: one decision, at most one cancel, every path answers it', async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.constantFrom<Scenario>('exact', 'overpaid', 'late-seat-free'),
        fc.array(sources, { minLength: 2, maxLength: 4 }),
        async (scenario, paths) => {
          const event = await createEventViaApi(t);
          const seatId = event.seats[0].id;
          const { token, reservation } = await holdSeatAs(t, `race-${scenario}`, seatId);
          if (scenario === 'late-seat-free') await endHold(t.orm, reservation.id, 10 * 60_000);
          const paid = scenario === 'overpaid' ? reservation.amount + 1000 : reservation.amount;
          const payment = await sim.createPayment({ merchantUid: reservation.merchantUid, amount: paid });
          const settle = (source: SettlementSource) =>
            source === 'CLIENT_CONFIRM'
              ? confirmAs(t, token, reservation, payment.imp_uid).then((r) => {
                  if (r.errors) throw new Error(`confirmPayment: ${JSON.stringify(r.errors)}`);
                  const answer = r.data!.confirmPayment as { __typename: string; refund?: { id: string } };
                  return { kind: answer.__typename === 'PaymentConfirmed' ? 'CONFIRMED' : 'REFUNDED', refundId: answer.refund?.id ?? null };
                })
              : t.app.services.settlement
                  .settle(t.orm.em.fork(), payment.imp_uid, { source })
                  .then((o) => ({ kind: o.kind, refundId: o.kind === 'REFUNDED' ? o.refund.id : null }));

          const answers = await withSeatLocked(seatId, () => Promise.all(paths.map(settle)), async () => undefined, paths.length);

          const decisions = await paymentRowsOf(t.orm, payment.imp_uid);
          expect(decisions).toHaveLength(1);
          if (scenario === 'overpaid') {
            const [refund] = await refundRowsOf(t.orm, payment.imp_uid);
            expect(answers).toEqual(paths.map(() => ({ kind: 'REFUNDED', refundId: refund.id })));
            await waitFor(async () => ((await refundRowsOf(t.orm, payment.imp_uid))[0].status === 'SUCCEEDED' ? true : null), 15_000);
            expect((await reservationRow(t.orm, reservation.id)).status).not.toBe('CONFIRMED');
            const ours = (await sim.cancelRequests(payment.imp_uid)).filter((c) => c.reason.startsWith('booking refund'));
            expect(ours.filter((c) => c.applied).map((c) => c.amount)).toEqual([paid]);
          } else {
            expect(answers).toEqual(paths.map(() => ({ kind: 'CONFIRMED', refundId: null })));
            expect(decisions[0]).toMatchObject({ decision: 'CONFIRMED', reservationId: reservation.id, amount: paid });
            expect((await reservationRow(t.orm, reservation.id)).status).toBe('CONFIRMED');
            expect(await refundRowsOf(t.orm, payment.imp_uid)).toEqual([]);
            expect(await sim.cancelRequests(payment.imp_uid)).toEqual([]);
          }
        },
      ),
      { numRuns: 8 },
    );
  }, 120_000);
});

describe("a late payment meets another buyer's hold on the same seat", () => {
  type Second = 'live-hold' | 'stale-hold';

  test('both payments settle at once, in either order: one CONFIRMED booking on the seat, the other payment fully cancelled', async () => {
    await fc.assert(
      fc.asyncProperty(fc.constantFrom<Second>('live-hold', 'stale-hold'), fc.boolean(), async (second, lateFirst) => {
        const event = await createEventViaApi(t);
        const seatId = event.seats[0].id;
        const late = await holdSeatAs(t, 'late-payer', seatId);
        // Past its end and the payment grace: the next buyer may take the seat (holdSeat expires it).
        await endHold(t.orm, late.reservation.id, 10 * 60_000);
        const next = await holdSeatAs(t, 'next-buyer', seatId);
        // A stale second hold: still HELD in the table, its end and grace passed too.
        if (second === 'stale-hold') await endHold(t.orm, next.reservation.id, 10 * 60_000);
        const latePayment = await sim.createPayment({ merchantUid: late.reservation.merchantUid, amount: late.reservation.amount });
        const nextPayment = await sim.createPayment({ merchantUid: next.reservation.merchantUid, amount: next.reservation.amount });
        const both = lateFirst ? [late, next] : [next, late];
        const payments = lateFirst ? [latePayment, nextPayment] : [nextPayment, latePayment];

        const answers = await withSeatLocked(
          seatId,
          async () => {
            // Queued on the seat in this order.
            const first = confirmAs(t, both[0].token, both[0].reservation, payments[0].imp_uid);
            await waitFor(async () => ((await waitingOnSeat()) >= 1 ? true : null), 10_000, 20);
            const secondAnswer = confirmAs(t, both[1].token, both[1].reservation, payments[1].imp_uid);
            return Promise.all([first, secondAnswer]);
          },
          async () => undefined,
          2,
        );
        for (const answer of answers) expect(answer.errors).toBeUndefined();
        const kinds = answers.map((a) => (a.data!.confirmPayment as { __typename: string }).__typename);
        expect(kinds.sort()).toEqual(['PaymentConfirmed', 'PaymentRefunded']);
        // Who keeps the seat: the first to decide, unless the other's hold was live (then the late payer yields).
        const keeperIsLate = second === 'stale-hold' && lateFirst;
        const keeper = keeperIsLate ? late : next;
        const loser = keeperIsLate ? next : late;
        expect((await reservationRow(t.orm, keeper.reservation.id)).status).toBe('CONFIRMED');
        expect((await reservationRow(t.orm, loser.reservation.id)).status).not.toBe('CONFIRMED');
        const loserPayment = keeperIsLate ? nextPayment : latePayment;
        await waitFor(async () => ((await refundRowsOf(t.orm, loserPayment.imp_uid))[0]?.status === 'SUCCEEDED' ? true : null), 15_000);
        expect((await refundRowsOf(t.orm, loserPayment.imp_uid))[0]).toMatchObject({ reason: 'SEAT_UNAVAILABLE', amount: loser.reservation.amount });
        expect(await sim.cancelRequests((keeperIsLate ? latePayment : nextPayment).imp_uid)).toEqual([]);
        const confirmedOnSeat = (await t.orm.em
          .getConnection()
          .execute(`select count(*)::int as n from reservation where seat_id = ? and status = 'CONFIRMED'`, [seatId])) as Array<{ n: number }>;
        expect(confirmedOnSeat[0].n).toBe(1);
      }),
      { numRuns: 8 },
    );
  }, 120_000);
});

describe('two payments for one reservation decided at once (the locking read sees the latest row)', () => {
  test('both wait on the seat: one backs the booking, the other is refunded DUPLICATE_PAYMENT, whatever the paths', async () => {
    await fc.assert(
      fc.asyncProperty(fc.constantFrom<SettlementSource>('CLIENT_CONFIRM', 'WEBHOOK'), fc.constantFrom<SettlementSource>('CLIENT_CONFIRM', 'WEBHOOK', 'RECONCILIATION'), async (firstPath, secondPath) => {
        const event = await createEventViaApi(t);
        const seatId = event.seats[0].id;
        const { token, reservation } = await holdSeatAs(t, 'paid-twice', seatId);
        const payments = [
          await sim.createPayment({ merchantUid: reservation.merchantUid, amount: reservation.amount }),
          await sim.createPayment({ merchantUid: reservation.merchantUid, amount: reservation.amount }),
        ];
        const settle = async (source: SettlementSource, impUid: string) => {
          if (source === 'CLIENT_CONFIRM') {
            const r = await confirmAs(t, token, reservation, impUid);
            if (r.errors) throw new Error(`confirmPayment: ${JSON.stringify(r.errors)}`);
            return (r.data!.confirmPayment as { __typename: string }).__typename === 'PaymentConfirmed' ? 'CONFIRMED' : 'REFUNDED';
          }
          return (await t.app.services.settlement.settle(t.orm.em.fork(), impUid, { source })).kind;
        };
        const kinds = await withSeatLocked(
          seatId,
          async () => {
            const first = settle(firstPath, payments[0].imp_uid);
            await waitFor(async () => ((await waitingOnSeat()) >= 1 ? true : null), 10_000, 20);
            return Promise.all([first, settle(secondPath, payments[1].imp_uid)]);
          },
          async () => undefined,
          2,
        );
        expect(kinds).toEqual(['CONFIRMED', 'REFUNDED']);
        expect(await paymentRowsOf(t.orm, payments[0].imp_uid)).toEqual([expect.objectContaining({ decision: 'CONFIRMED' })]);
        expect(await paymentRowsOf(t.orm, payments[1].imp_uid)).toEqual([expect.objectContaining({ decision: 'REFUND', refundReason: 'DUPLICATE_PAYMENT' })]);
        await waitFor(async () => ((await refundRowsOf(t.orm, payments[1].imp_uid))[0]?.status === 'SUCCEEDED' ? true : null), 15_000);
        expect((await reservationRow(t.orm, reservation.id)).status).toBe('CONFIRMED');
        expect(await sim.cancelRequests(payments[0].imp_uid)).toEqual([]);
      }),
      { numRuns: 6 },
    );
  }, 120_000);
});

describe('the buyer cancels the hold while the decision waits for the reservation row', () => {
  test('the decision sees the cancel it waited for: RESERVATION_CANCELLED, refunded, never CONFIRMED', async () => {
    const event = await createEventViaApi(t);
    const { token, reservation } = await holdSeatAs(t, 'cancels-while-paying', event.seats[0].id);
    const payment = await sim.createPayment({ merchantUid: reservation.merchantUid, amount: reservation.amount });
    // The buyer's cancel (it locks the reservation only) holds the row while the decision has the seat.
    const cancel = await t.orm.em.getKnex().transaction();
    let confirming: ReturnType<typeof confirmAs> | undefined;
    try {
      await cancel.raw('select id from reservation where id = ? for update', [reservation.id]);
      confirming = confirmAs(t, token, reservation, payment.imp_uid);
      await waitFor(async () => ((await waitingOnSeat()) >= 1 ? true : null), 10_000, 20);
      await cancel.raw(`update reservation set status = 'CANCELLED', cancelled_at = now(), version = version + 1 where id = ?`, [reservation.id]);
      await cancel.commit();
    } catch (error) {
      await cancel.rollback();
      throw error;
    }
    const result = await confirming!;
    expect(result.errors).toBeUndefined();
    expect(result.data?.confirmPayment).toMatchObject({ __typename: 'PaymentRefunded', reason: 'RESERVATION_CANCELLED' });
    expect((await reservationRow(t.orm, reservation.id)).status).toBe('CANCELLED');
    await waitFor(async () => ((await refundRowsOf(t.orm, payment.imp_uid))[0]?.status === 'SUCCEEDED' ? true : null), 15_000);
  }, 30_000);
});

describe('PortOne cancels the payment while its confirmation waits for the seat', () => {
  test("the webhook's settle reads it cancelled before any decision exists; the booking confirmed after is ended by reconciliation", async () => {
    await t.app.services.reconciliation.run(); // the sweep's cursor starts before anything below
    const event = await createEventViaApi(t);
    const seatId = event.seats[0].id;
    const { token, reservation } = await holdSeatAs(t, 'cancelled-meanwhile', seatId);
    const payment = await sim.createPayment({ merchantUid: reservation.merchantUid, amount: reservation.amount });

    const result = await withSeatLocked(
      seatId,
      () => confirmAs(t, token, reservation, payment.imp_uid),
      async () => {
        await sim.consoleCancel(payment.imp_uid);
        // The cancel's notification is settled now: no decision recorded yet, and PortOne says cancelled.
        const webhook = await t.app.services.settlement.settle(t.orm.em.fork(), payment.imp_uid, { source: 'WEBHOOK' });
        expect(webhook.kind).toBe('NOT_PAID');
      },
    );
    // The confirmation read PortOne before the cancel: it keeps the booking.
    expect(result.data?.confirmPayment).toMatchObject({ __typename: 'PaymentConfirmed' });

    await t.app.services.reconciliation.run();
    expect((await reservationRow(t.orm, reservation.id)).status).toBe('CANCELLED');
    expect(await refundRowsOf(t.orm, payment.imp_uid)).toEqual([expect.objectContaining({ reason: 'CANCELLED_AT_GATEWAY', status: 'SUCCEEDED' })]);
    expect((await sim.cancelRequests(payment.imp_uid)).filter((c) => c.reason.startsWith('booking refund'))).toEqual([]);
  }, 30_000);
});

describe('one GraphQL request confirms and then cancels (the request loaders primed by the decision)', () => {
  const CONFIRM_THEN_CANCEL = `
    mutation ConfirmThenCancel($confirm: ConfirmPaymentInput!, $cancel: CancelReservationInput!) {
      confirmPayment(input: $confirm) {
        __typename
        ... on PaymentConfirmed { amount reservation { id status seat { id label event { id title } } refund { id } } }
      }
      cancelReservation(input: $cancel) { id status seat { id label event { id title } } refund { id status amount reason } }
    }`;

  test('the cancel answers with its own refund, not the confirmation primed "no refund"; one cancel, the booking ended', async () => {
    const event = await createEventViaApi(t);
    const { token, reservation } = await holdSeatAs(t, 'confirm-then-cancel', event.seats[0].id);
    const payment = await sim.createPayment({ merchantUid: reservation.merchantUid, amount: reservation.amount });
    const result = await t.gql<
      {
        confirmPayment: { __typename: string; reservation: { status: string; refund: unknown } };
        cancelReservation: { status: string; seat: { id: string; event: { id: string } }; refund: { status: string; amount: number; reason: string } | null };
      },
      unknown
    >(
      CONFIRM_THEN_CANCEL,
      { confirm: { reservationId: reservation.id, paymentId: payment.imp_uid, merchantUid: reservation.merchantUid }, cancel: { reservationId: reservation.id } },
      { token },
    );
    expect(result.errors).toBeUndefined();
    expect(result.data?.confirmPayment).toMatchObject({ __typename: 'PaymentConfirmed', reservation: { status: 'CONFIRMED', refund: null } });
    expect(result.data?.cancelReservation).toMatchObject({
      status: 'CANCELLED',
      seat: { id: event.seats[0].id, event: { id: event.id } },
      refund: { reason: 'BUYER_CANCELLED', amount: reservation.amount },
    });
    await waitFor(async () => ((await refundRowsOf(t.orm, payment.imp_uid))[0]?.status === 'SUCCEEDED' ? true : null), 15_000);
    expect((await sim.cancelRequests(payment.imp_uid)).filter((c) => c.applied).map((c) => c.amount)).toEqual([reservation.amount]);
  }, 30_000);
});

describe('a repeated confirmation of a booking PortOne shows partly cancelled outside this server', () => {
  const CONFIRM_WITH_REFUND = `
    mutation ConfirmWithRefund($input: ConfirmPaymentInput!) {
      confirmPayment(input: $input) {
        __typename
        ... on PaymentConfirmed { reservation { id status refund { status reason amount } } }
      }
    }`;

  test("the answer's reservation shows the refund waiting for an operator, as a later read of it does", async () => {
    const event = await createEventViaApi(t);
    const { token, reservation } = await holdSeatAs(t, 'partly-cancelled-outside', event.seats[0].id);
    const payment = await sim.createPayment({ merchantUid: reservation.merchantUid, amount: reservation.amount });
    const input = { reservationId: reservation.id, paymentId: payment.imp_uid, merchantUid: reservation.merchantUid };
    type Answer = { confirmPayment: { __typename: string; reservation: { status: string; refund: { status: string; reason: string; amount: number } | null } } };
    const first = await t.gql<Answer, unknown>(CONFIRM_WITH_REFUND, { input }, { token });
    expect(first.data?.confirmPayment).toMatchObject({ __typename: 'PaymentConfirmed', reservation: { status: 'CONFIRMED', refund: null } });

    await sim.consoleCancel(payment.imp_uid, 1000);
    const again = await t.gql<Answer, unknown>(CONFIRM_WITH_REFUND, { input }, { token });
    expect(again.errors).toBeUndefined();
    const [refund] = await refundRowsOf(t.orm, payment.imp_uid);
    expect(refund).toMatchObject({ reason: 'CANCELLED_AT_GATEWAY', status: 'NEEDS_ATTENTION' });
    expect(again.data?.confirmPayment).toMatchObject({
      __typename: 'PaymentConfirmed',
      reservation: { status: 'CONFIRMED', refund: { reason: 'CANCELLED_AT_GATEWAY', status: 'NEEDS_ATTENTION', amount: refund.amount } },
    });
    // The buyer then cancels: the rest is refunded and nothing is left for an operator.
    const cancelled = await t.gql(CancelReservationDocument, { input: { reservationId: reservation.id } }, { token });
    expect(cancelled.errors).toBeUndefined();
    await waitFor(async () => ((await refundRowsOf(t.orm, payment.imp_uid))[0].status === 'SUCCEEDED' ? true : null), 15_000);
    expect(await sim.payment(payment.imp_uid)).toMatchObject({ cancel_amount: reservation.amount });
  }, 30_000);
});

describe("a repeated confirmation of an older refunded payment", () => {
  test("the answer's reservation shows the reservation's latest refund, as a read of the reservation does", async () => {
    const event = await createEventViaApi(t);
    const { token, reservation } = await holdSeatAs(t, 'paid-wrong-twice', event.seats[0].id);
    const older = await sim.createPayment({ merchantUid: reservation.merchantUid, amount: reservation.amount + 1000 });
    const newer = await sim.createPayment({ merchantUid: reservation.merchantUid, amount: reservation.amount + 2000 });
    expect((await confirmAs(t, token, reservation, older.imp_uid)).data?.confirmPayment).toMatchObject({ __typename: 'PaymentRefunded' });
    await sleep(20); // the newer refund is created later
    expect((await confirmAs(t, token, reservation, newer.imp_uid)).data?.confirmPayment).toMatchObject({ __typename: 'PaymentRefunded' });
    const [newerRefund] = await refundRowsOf(t.orm, newer.imp_uid);

    const again = await confirmAs(t, token, reservation, older.imp_uid);
    expect(again.errors).toBeUndefined();
    const answer = again.data!.confirmPayment as { refund: { id: string }; reservation: { refund: { id: string } | null } };
    expect(answer.refund.id).toBe((await refundRowsOf(t.orm, older.imp_uid))[0].id);
    expect(answer.reservation.refund?.id).toBe(newerRefund.id);
  }, 30_000);
});

describe('a late payment and a crowd of new holds on its seat at once (one lock order)', () => {
  test('no deadlock, no INTERNAL_ERROR: the late payer keeps the seat or one new holder does and the payment is cancelled', async () => {
    await fc.assert(
      fc.asyncProperty(fc.integer({ min: 1, max: 4 }), fc.boolean(), fc.nat({ max: 30 }), async (holders, pastGrace, staggerMs) => {
        const event = await createEventViaApi(t);
        const seatId = event.seats[0].id;
        const late = await holdSeatAs(t, 'late-in-crowd', seatId);
        await endHold(t.orm, late.reservation.id, pastGrace ? 10 * 60_000 : 10_000);
        const payment = await sim.createPayment({ merchantUid: late.reservation.merchantUid, amount: late.reservation.amount });
        const tokens = await Promise.all(Array.from({ length: holders }, (_, i) => t.tokenFor(`crowd-${i}`)));
        const holds = tokens.map(async (token, i) => {
          await sleep((i * staggerMs) % 31);
          return t.gql(HoldSeatDocument, { input: { seatId } }, { token });
        });
        const [confirmed, ...held] = await Promise.all([confirmAs(t, late.token, late.reservation, payment.imp_uid), ...holds]);
        expect(confirmed.errors).toBeUndefined();
        for (const h of held) expect(h.errors?.[0]?.extensions?.code ?? 'OK').toMatch(/^(OK|SEAT_UNAVAILABLE)$/);
        const winners = held.filter((h) => !h.errors);
        const answer = confirmed.data!.confirmPayment as { __typename: string; reason?: string };
        if (answer.__typename === 'PaymentConfirmed') {
          expect(winners).toEqual([]);
          expect(await refundRowsOf(t.orm, payment.imp_uid)).toEqual([]);
        } else {
          expect(pastGrace).toBe(true);
          expect(answer.reason).toBe('SEAT_UNAVAILABLE');
          expect(winners).toHaveLength(1);
          await waitFor(async () => ((await refundRowsOf(t.orm, payment.imp_uid))[0]?.status === 'SUCCEEDED' ? true : null), 15_000);
        }
        const active = (await t.orm.em
          .getConnection()
          .execute(`select count(*)::int as n from reservation where seat_id = ? and status in ('HELD', 'CONFIRMED')`, [seatId])) as Array<{ n: number }>;
        expect(active[0].n).toBe(1);
      }),
      { numRuns: 10 },
    );
  }, 120_000);
});
