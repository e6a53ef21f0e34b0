import fc from 'fast-check';
import { gatewayBalance } from '../../src/gateway/payment-gateway';
import { toGatewayPayment, type V2PaymentBody } from '../../src/gateway/portone/v2/portone-v2.client';

/** The pure mapping from a V2 payment body to the gateway port. */
const base = (overrides: Partial<V2PaymentBody>): V2PaymentBody => ({
  status: 'PAID',
  id: 'order-1',
  storeId: 'store-1',
  amount: { total: 10000, cancelled: 0 },
  currency: 'KRW',
  channel: { type: 'LIVE' },
  method: { type: 'PaymentMethodCard' },
  paidAt: '2026-11-25T01:00:00Z',
  ...overrides,
});

test.each([
  ['CANCELLED with paidAt', base({ status: 'CANCELLED', amount: { total: 10000, cancelled: 10000 } }), 'CANCELLED'],
  ['CANCELLED without paidAt but with what it cancelled (paidAt is optional there)', base({ status: 'CANCELLED', paidAt: undefined, amount: { total: 10000, cancelled: 10000 } }), 'CANCELLED'],
  ['CANCELLED that never was paid (a closed virtual account)', base({ status: 'CANCELLED', paidAt: undefined, cancellations: [], method: { type: 'PaymentMethodVirtualAccount' } }), 'FAILED'],
  ['a status PortOne adds later', base({ status: 'PARTIAL_REFUND_QUEUED' }), 'FAILED'],
  ['PARTIAL_CANCELLED', base({ status: 'PARTIAL_CANCELLED', amount: { total: 10000, cancelled: 1 } }), 'PAID'],
])('%s maps to %s', (_name, body, expected) => {
  expect(toGatewayPayment(body).status).toBe(expected);
});

test('only SUCCEEDED cancellations are listed; REQUESTED ones have not moved money yet', () => {
  const payment = toGatewayPayment(
    base({
      cancellations: [
        { status: 'SUCCEEDED', id: 'c1', totalAmount: 1000, cancelledAt: '2026-11-25T02:00:00Z' },
        { status: 'REQUESTED', id: 'c2', totalAmount: 2000, requestedAt: '2026-11-25T03:00:00Z' },
      ],
      amount: { total: 10000, cancelled: 1000 },
      status: 'PARTIAL_CANCELLED',
    }),
  );
  expect(payment.cancellations.map((c) => c.cancellationId)).toEqual(['c1']);
  expect(gatewayBalance(payment)).toBe(9000);
});

test('property: the balance is total − cancelled, exact in major units (KRW won, USD cents → dollars)', () => {
  fc.assert(
    fc.property(fc.constantFrom('KRW', 'USD', 'JPY'), fc.integer({ min: 0, max: 10_000_000 }), fc.integer({ min: 0, max: 10_000_000 }), (currency, total, cancelledRaw) => {
      const cancelled = Math.min(total, cancelledRaw);
      const payment = toGatewayPayment(base({ status: cancelled > 0 ? 'PARTIAL_CANCELLED' : 'PAID', currency, amount: { total, cancelled } }));
      const scale = currency === 'USD' ? 100 : 1;
      return Math.round(gatewayBalance(payment) * scale) === total - cancelled && payment.amount === total / scale;
    }),
  );
});
