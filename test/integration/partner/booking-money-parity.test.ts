import fc from 'fast-check';
import { createPaymentLoaders } from '../../../src/payment/graphql/payment.loaders';
import { RefundView } from '../../../src/payment/graphql/payment.types';
import type { Refund } from '../../../src/payment/refunds/refund.entity';
import { createEventViaApi } from '../../support/fixtures';
import { startTestApp, type TestApp } from '../../support/test-app';

/**
 * bookingStatuses reads each booking's money in its own query (src/partner/partner.service.ts); the
 * payment module's `moneyByReservationId` loader is the rule it must follow: which payment's amount is
 * "paid" and which refund is shown. Generated histories of payments and refunds (ties in time included)
 * must give both the same answer.
 */
let t: TestApp;
let seatIds: string[];
const EVENT_ID = { value: '' };

beforeAll(async () => {
  t = await startTestApp({ startWorker: false });
  await t.reset();
  const event = await createEventViaApi(
    t,
    Array.from({ length: 8 }, (_, i) => ({ label: `P${i}`, price: 10000 })),
  );
  EVENT_ID.value = event.id;
  seatIds = event.seats.map((s) => s.id);
});
afterAll(async () => {
  await t.close();
});

const instant = fc.integer({ min: 0, max: 3 }).map((minute) => new Date(Date.UTC(2026, 0, 1, 0, minute)));
const payment = fc.record({
  confirmed: fc.boolean(),
  amount: fc.integer({ min: 1, max: 40 }).map((halves) => 10000 + halves / 2),
  decidedAt: instant,
  refund: fc.option(instant, { nil: null }),
});
const history = fc.array(payment, { maxLength: 3 });

test('the paid amount and the refund shown match the payment module loader for generated histories', async () => {
  await fc.assert(
    fc.asyncProperty(fc.array(history, { minLength: 1, maxLength: seatIds.length }), async (histories) => {
      const connection = t.orm.em.getConnection();
      await connection.execute('delete from refund; delete from payment; delete from reservation;');
      const merchantUids: string[] = [];
      let n = 0;
      for (const [i, payments] of histories.entries()) {
        const merchantUid = `bk_parity_${i}`;
        merchantUids.push(merchantUid);
        const [{ id }] = await connection.execute<Array<{ id: string }>>(
          `insert into reservation (id, seat_id, buyer_id, status, amount, merchant_uid, expires_at, created_at, updated_at)
           values (gen_random_uuid(), ?, 'buyer', 'EXPIRED', 10000, ?, now(), now(), now()) returning id`,
          [seatIds[i], merchantUid],
        );
        // At most one CONFIRMED decision per reservation (a unique index says so).
        let confirmedOnce = false;
        for (const p of payments) {
          const confirmed: boolean = p.confirmed && !confirmedOnce;
          confirmedOnce ||= confirmed;
          const gatewayPaymentId = `imp_parity_${n++}`;
          await connection.execute(
            `insert into payment (id, gateway_payment_id, reservation_id, merchant_uid, amount, currency, decision, decided_by, decided_at)
             values (gen_random_uuid(), ?, ?, ?, ?, 'KRW', ?, 'test', ?)`,
            [gatewayPaymentId, id, merchantUid, p.amount, confirmed ? 'CONFIRMED' : 'REFUND', p.decidedAt],
          );
          if (p.refund) {
            await connection.execute(
              `insert into refund (id, gateway_payment_id, reservation_id, amount, reason, status, attempts, next_attempt_at,
                                   succeeded_at, last_error, created_at, updated_at, give_up_at)
               values (gen_random_uuid(), ?, ?, ?, 'AMOUNT_MISMATCH', ?, 1, ?, ?, 'PG said no', ?, ?, now())`,
              [gatewayPaymentId, id, p.amount, confirmed ? 'SUCCEEDED' : 'PENDING', p.refund, confirmed ? p.refund : null, p.refund, p.refund],
            );
          }
        }
      }

      const statuses = await t.app.services.partners.bookingStatuses(t.orm.em.fork(), [EVENT_ID.value], merchantUids);
      const loader = createPaymentLoaders(t.orm.em.fork()).moneyByReservationId;
      expect(statuses).toHaveLength(histories.length);
      for (const status of statuses) {
        const money = await loader.load(status.id);
        // The partner's refund is plain data, the loader's an entity: compared as the views partners get.
        const view = (refund: unknown) => refund && { ...RefundView.from(refund as Refund, { forOperator: false }), pollAfterSeconds: null };
        expect({ uid: status.merchantUid, paid: status.paidAmount, refund: view(status.refund) }).toEqual({
          uid: status.merchantUid,
          paid: money.payment ? money.payment.amount : null,
          refund: view(money.refund),
        });
      }
    }),
    { numRuns: 25 },
  );
});
