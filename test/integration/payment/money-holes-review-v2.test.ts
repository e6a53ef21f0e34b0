import fc from 'fast-check';
import { Refund } from '../../../src/payment/refunds/refund.entity';
import { ConfirmPaymentDocument, HoldSeatDocument } from '../../generated/graphql';
import { createEventViaApi } from '../../support/fixtures';
import { expectMoneyInvariantsV2 } from '../../support/money-invariants-portone-v2';
import { startTestApp, type TestApp } from '../../support/test-app';
import { waitFor } from '../../support/wait';

/**
 * Review of the rewritten money path on PortOne V2: the first refund attempt cancels with the decision's
 * own read, whose `currentCancellableAmount` guard PortOne refuses once someone else cancelled part of
 * the payment in between (the decision waited on the seat's lock meanwhile).
 */
let t: TestApp;

beforeAll(async () => {
  t = await startTestApp({ portoneVersion: 'v2', env: { REFUND_BACKOFF_BASE_MS: '100', REFUND_BACKOFF_MAX_MS: '200' } });
});
afterAll(async () => {
  await t.close();
});
beforeEach(async () => {
  await t.reset();
});
afterEach(async () => {
  await expectMoneyInvariantsV2(t);
});

test('V2: a console partial cancel between our read and our first cancel: the rest is refunded, SUCCEEDED, never over-refunded', async () => {
  const event = await createEventViaApi(t);
  const seatId = event.seats[0].id;
  const token = await t.tokenFor('stale-read-v2');
  const reservation = (await t.gql(HoldSeatDocument, { input: { seatId } }, { token })).data!.holdSeat;
  const paid = reservation.amount + 1000;
  const paymentId = await t.v2!.pay({ merchantUid: reservation.merchantUid, amount: paid });

  const confirmIt = () => t.gql(ConfirmPaymentDocument, { input: { reservationId: reservation.id, paymentId, merchantUid: reservation.merchantUid } }, { token });
  const blocker = await t.orm.em.getKnex().transaction();
  let confirming: ReturnType<typeof confirmIt> | undefined;
  try {
    await blocker.raw('select id from seat where id = ? for update', [seatId]);
    confirming = confirmIt();
    await waitFor(async () => {
      const rows = (await t.orm.em
        .getConnection()
        .execute(`select count(*)::int as n from pg_stat_activity where datname = current_database() and wait_event_type = 'Lock' and query like '%locked_seat%'`)) as Array<{ n: number }>;
      return rows[0].n > 0 ? true : null;
    }, 10_000, 20);
    await t.v2!.control.consoleCancel(paymentId, { amount: 1000, webhook: false });
  } finally {
    await blocker.commit();
  }
  const result = await confirming!;
  expect(result.errors).toBeUndefined();
  expect(result.data?.confirmPayment).toMatchObject({ __typename: 'PaymentRefunded', reason: 'AMOUNT_MISMATCH' });

  const refund = await waitFor(async () => {
    const row = await t.orm.em.fork().findOne(Refund, { gatewayPaymentId: paymentId });
    return row && row.status !== 'PENDING' ? row : null;
  }, 15_000);
  expect({ status: refund.status, lastError: refund.lastError }).toEqual({ status: 'SUCCEEDED', lastError: null });
  const applied = (await t.v2!.cancelRequests(paymentId)).filter((c) => c.applied);
  expect(applied.map((c) => ({ amount: c.amount, guard: c.guard }))).toEqual([{ amount: reservation.amount, guard: reservation.amount }]);
  expect((await t.v2!.payment(paymentId)).status).toBe('CANCELLED');
}, 30_000);

test('V2: confirm, webhook and reconciliation settle one payment at once, all waiting on the seat: one decision, at most one cancel', async () => {
  await fc.assert(
    fc.asyncProperty(fc.boolean(), async (overpaid) => {
      const event = await createEventViaApi(t);
      const seatId = event.seats[0].id;
      const token = await t.tokenFor('race-v2');
      const reservation = (await t.gql(HoldSeatDocument, { input: { seatId } }, { token })).data!.holdSeat;
      const paid = overpaid ? reservation.amount + 1000 : reservation.amount;
      const paymentId = await t.v2!.pay({ merchantUid: reservation.merchantUid, amount: paid });
      const blocker = await t.orm.em.getKnex().transaction();
      let settling: Promise<string[]> | undefined;
      try {
        await blocker.raw('select id from seat where id = ? for update', [seatId]);
        settling = Promise.all([
          t
            .gql(ConfirmPaymentDocument, { input: { reservationId: reservation.id, paymentId, merchantUid: reservation.merchantUid } }, { token })
            .then((r) => (r.data?.confirmPayment.__typename === 'PaymentConfirmed' ? 'CONFIRMED' : r.data ? 'REFUNDED' : JSON.stringify(r.errors))),
          t.app.services.settlement.settle(t.orm.em.fork(), paymentId, { source: 'WEBHOOK' }).then((o) => o.kind as string),
          t.app.services.settlement.settle(t.orm.em.fork(), paymentId, { source: 'RECONCILIATION' }).then((o) => o.kind as string),
        ]);
        await waitFor(async () => {
          const rows = (await t.orm.em
            .getConnection()
            .execute(`select count(*)::int as n from pg_stat_activity where datname = current_database() and wait_event_type = 'Lock' and query like '%locked_seat%'`)) as Array<{ n: number }>;
          return rows[0].n >= 3 ? true : null;
        }, 10_000, 20);
      } finally {
        await blocker.commit();
      }
      const kinds = await settling!;
      expect(kinds).toEqual(overpaid ? ['REFUNDED', 'REFUNDED', 'REFUNDED'] : ['CONFIRMED', 'CONFIRMED', 'CONFIRMED']);
      if (overpaid) {
        await waitFor(async () => ((await t.orm.em.fork().findOne(Refund, { gatewayPaymentId: paymentId }))?.status === 'SUCCEEDED' ? true : null), 15_000);
        expect((await t.v2!.cancelRequests(paymentId)).filter((c) => c.applied).map((c) => c.amount)).toEqual([paid]);
      } else {
        expect(await t.v2!.cancelRequests(paymentId)).toEqual([]);
      }
    }),
    { numRuns: 4 },
  );
}, 60_000);
