import fc from 'fast-check';
import { ReservationStatus } from '../../src/booking/reservation.entity';
import { gatewayBalance, type GatewayPayment } from '../../src/gateway/payment-gateway';
import { verifyPayment, type ReservationFacts } from '../../src/payment/settlement/payment-verification';
import { RefundReason } from '../../src/payment/refunds/refund.entity';

const now = new Date('2026-12-01T12:00:00Z');
const live = { allowSandbox: false };
const reservation: ReservationFacts = {
  status: ReservationStatus.HELD,
  amount: 50000,
  merchantUid: 'bk_20261201_abc',
  expiresAt: new Date(now.getTime() + 60_000),
  eventStartsAt: new Date(now.getTime() + 86_400_000),
  seatTakenByOther: false,
};
const payment: GatewayPayment = {
  gatewayPaymentId: 'imp_1',
  merchantUid: 'bk_20261201_abc',
  status: 'PAID',
  amount: 50000,
  cancelledAmount: 0,
  currency: 'KRW',
  paidAt: now,
  cancellations: [],
  sandbox: false,
  payMethod: 'card',
  isVirtualAccount: false,
};

describe('verifyPayment', () => {
  test('an exact match confirms', () => {
    expect(verifyPayment(reservation, payment, now, live)).toEqual({ kind: 'CONFIRM' });
  });

  test.each([
    ['READY' as const],
    ['FAILED' as const],
    ['CANCELLED' as const],
  ])('status %s with nothing left is not paid: nothing to refund', (status) => {
    expect(verifyPayment(reservation, { ...payment, status, cancelledAmount: status === 'CANCELLED' ? payment.amount : 0 }, now, live)).toMatchObject({
      kind: 'NOT_PAID',
    });
  });

  test.each([
    ['amount', { amount: 100 }, {}, RefundReason.AMOUNT_MISMATCH],
    ['partly cancelled', { cancelledAmount: 10 }, {}, RefundReason.AMOUNT_MISMATCH],
    ['merchant uid', { merchantUid: 'bk_other' }, {}, RefundReason.MERCHANT_UID_MISMATCH],
    ['currency', { currency: 'USD' }, {}, RefundReason.CURRENCY_MISMATCH],
    ['cancelled reservation', {}, { status: ReservationStatus.CANCELLED }, RefundReason.RESERVATION_CANCELLED],
    ['confirmed by another payment', {}, { status: ReservationStatus.CONFIRMED }, RefundReason.DUPLICATE_PAYMENT],
    ['expired hold, seat taken', {}, { status: ReservationStatus.EXPIRED, seatTakenByOther: true }, RefundReason.SEAT_UNAVAILABLE],
    ['event started', {}, { eventStartsAt: new Date(now.getTime() - 1) }, RefundReason.SEAT_UNAVAILABLE],
  ])('%s → refund', (_name, paymentChange, reservationChange, reason) => {
    const verdict = verifyPayment({ ...reservation, ...reservationChange }, { ...payment, ...paymentChange }, now, live);
    expect(verdict).toMatchObject({ kind: 'REFUND', reason });
  });

  test('a late payment whose seat is still free is confirmed', () => {
    const late = { ...reservation, status: ReservationStatus.EXPIRED, expiresAt: new Date(now.getTime() - 3600_000) };
    expect(verifyPayment(late, payment, now, live)).toEqual({ kind: 'CONFIRM' });
  });

  test('property: only an exact match of status, amount, order id and currency on a free seat confirms', () => {
    fc.assert(
      fc.property(
        fc.record({
          status: fc.constantFrom('READY', 'PAID', 'FAILED', 'CANCELLED') as fc.Arbitrary<GatewayPayment['status']>,
          amount: fc.oneof(fc.constant(50000), fc.integer({ min: 0, max: 10_000_000 })),
          cancelledAmount: fc.oneof(fc.constant(0), fc.integer({ min: 0, max: 50000 })),
          merchantUid: fc.oneof(fc.constant('bk_20261201_abc'), fc.string()),
          currency: fc.oneof(fc.constant('KRW'), fc.constantFrom('USD', 'krw', 'JPY', '')),
          sandbox: fc.boolean(),
        }),
        fc.record({
          status: fc.constantFrom(...Object.values(ReservationStatus)),
          seatTakenByOther: fc.boolean(),
        }),
        (paymentChange, reservationChange) => {
          const p = { ...payment, ...paymentChange };
          const r = { ...reservation, ...reservationChange };
          const verdict = verifyPayment(r, p, now, live);
          const exact =
            !p.sandbox &&
            p.status === 'PAID' &&
            p.amount === r.amount &&
            p.cancelledAmount === 0 &&
            p.merchantUid === r.merchantUid &&
            p.currency === 'KRW' &&
            (r.status === ReservationStatus.HELD || r.status === ReservationStatus.EXPIRED) &&
            !r.seatTakenByOther;
          expect(verdict.kind === 'CONFIRM').toBe(exact);
          // Money that was not taken is never "refunded"; money that was taken is never ignored. Whether
          // money is held is the balance, not the status string: a partly cancelled payment is still paid.
          const holdsMoney = !p.sandbox && (p.status === 'PAID' || (p.status === 'CANCELLED' && p.paidAt !== null && p.amount - p.cancelledAmount > 0));
          expect(verdict.kind === 'NOT_PAID').toBe(!holdsMoney);
        },
      ),
      { numRuns: 2000 },
    );
  });

  test('property: any paid amount other than the price snapshot is refunded, deterministically', () => {
    fc.assert(
      fc.property(fc.integer({ min: 1, max: 10_000_000 }), (amount) => {
        const a = verifyPayment(reservation, { ...payment, amount }, now, live);
        const b = verifyPayment(reservation, { ...payment, amount }, now, live);
        expect(a).toEqual(b);
        expect(a.kind === 'CONFIRM').toBe(amount === reservation.amount);
      }),
    );
  });

  test('a sandbox payment is not a payment unless sandbox payments are allowed', () => {
    expect(verifyPayment(reservation, { ...payment, sandbox: true }, now, live).kind).toBe('NOT_PAID');
    expect(verifyPayment(reservation, { ...payment, sandbox: true }, now, { allowSandbox: true })).toEqual({ kind: 'CONFIRM' });
  });

  test('a partial cancel reported with status CANCELLED still holds money: refunded, not ignored', () => {
    const verdict = verifyPayment(reservation, { ...payment, status: 'CANCELLED', cancelledAmount: 10000 }, now, live);
    expect(verdict).toMatchObject({ kind: 'REFUND', reason: RefundReason.AMOUNT_MISMATCH });
  });

  test('a 0-won paid record is a mismatch, not a fault', () => {
    expect(verifyPayment(reservation, { ...payment, amount: 0 }, now, live)).toMatchObject({ kind: 'REFUND', reason: RefundReason.AMOUNT_MISMATCH });
  });

  test('gateway balances are exact decimals', () => {
    fc.assert(
      fc.property(fc.integer({ min: 0, max: 10_000_000 }), fc.integer({ min: 0, max: 10_000_000 }), (a, b) => {
        const [paid, cancelled] = [Math.max(a, b) / 100, Math.min(a, b) / 100];
        expect(Math.round(gatewayBalance({ amount: paid, cancelledAmount: cancelled }) * 100)).toBe(Math.max(a, b) - Math.min(a, b));
      }),
    );
    expect(gatewayBalance({ amount: 10.4, cancelledAmount: 0.4 })).toBe(10);
  });
});
