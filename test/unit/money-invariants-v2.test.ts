import type { SimulatorLedger } from '../../src/gateway/portone/sim/simulator-control.client';
import type { CancelRequestRecord, V1Payment } from '../../src/gateway/portone/sim/simulator-state';
import { checkMoneyInvariants, type Query } from '../support/money-invariants-v2';

/** The checker itself: each class fires on the state it names, and a healthy state gives none. */
interface World {
  reservations: Array<{ id: string; merchant_uid: string; status: string; amount: number; seat_id: string }>;
  payments: Array<{ gateway_payment_id: string; decision: string; amount: number; currency: string; reservation_id: string }>;
  refunds: Array<{ id: string; gateway_payment_id: string; status: string; reason: string; amount: number }>;
}

function queryOver(world: World): Query {
  return async (sql) => {
    if (sql.startsWith('select merchant_uid from reservation')) return world.reservations;
    if (sql.includes('from payment p join reservation r')) {
      return world.payments.map((p) => {
        const r = world.reservations.find((x) => x.id === p.reservation_id)!;
        return { ...p, reservation_status: r.status, reservation_amount: r.amount, reservation_merchant_uid: r.merchant_uid };
      });
    }
    if (sql.includes('from refund')) return world.refunds;
    if (sql.startsWith('select id, amount')) return world.reservations.filter((r) => r.status === 'CONFIRMED');
    return []; // the grouped uniqueness queries: no duplicates in these worlds
  };
}

function payment(overrides: Partial<V1Payment>): V1Payment {
  return { imp_uid: 'imp_1', merchant_uid: 'bk_1', amount: 20000, cancel_amount: 0, currency: 'KRW', status: 'paid', paid_at: 1, sandbox: false, pay_method: 'card', cancel_history: [], ...overrides } as V1Payment;
}

function cancel(impUid: string, reason: string, amount: number, checksum: number | undefined): CancelRequestRecord {
  return { at: 1, body: { imp_uid: impUid, amount, checksum, reason }, impUid, applied: true, responseLost: false, outcome: 'applied' };
}

function ledger(payments: V1Payment[], cancelRequests: CancelRequestRecord[] = []): SimulatorLedger {
  return { now: 1, payments, cancelRequests, tokensIssued: [], apiConnections: 0, apiCalls: {}, listingRequests: [], webhooks: [], prepared: [] };
}

const reservation = { id: 'r1', merchant_uid: 'bk_1', status: 'CONFIRMED', amount: 20000, seat_id: 's1' };
const confirmed = { gateway_payment_id: 'imp_1', decision: 'CONFIRMED', amount: 20000, currency: 'KRW', reservation_id: 'r1' };

async function classes(world: World, l: SimulatorLedger, allowPending = false): Promise<string[]> {
  return (await checkMoneyInvariants(queryOver(world), l, { allowPending })).map((v) => v.class).sort();
}

test('a kept booking and a fully refunded payment are fine', async () => {
  const world: World = {
    reservations: [reservation, { id: 'r2', merchant_uid: 'bk_2', status: 'HELD', amount: 20000, seat_id: 's2' }],
    payments: [confirmed, { gateway_payment_id: 'imp_2', decision: 'REFUND', amount: 19000, currency: 'KRW', reservation_id: 'r2' }],
    refunds: [{ id: 'f2', gateway_payment_id: 'imp_2', status: 'SUCCEEDED', reason: 'AMOUNT_MISMATCH', amount: 19000 }],
  };
  const l = ledger(
    [payment({}), payment({ imp_uid: 'imp_2', merchant_uid: 'bk_2', amount: 19000, cancel_amount: 19000, status: 'cancelled' })],
    [cancel('imp_2', 'booking refund: AMOUNT_MISMATCH', 19000, 19000)],
  );
  expect(await classes(world, l)).toEqual([]);
});

test('each hole is named', async () => {
  const world: World = { reservations: [reservation], payments: [confirmed], refunds: [] };
  // A confirmed booking whose payment we cancelled.
  expect(await classes(world, ledger([payment({ cancel_amount: 20000, status: 'cancelled' })], [cancel('imp_1', 'booking refund: X', 20000, 20000)]))).toEqual([
    'I1-BOOKING-WITHOUT-MONEY',
    'I2-KEPT-BOOKING-CANCELLED',
  ]);
  // Another shop's payment cancelled by us; a paid payment of ours nobody decided.
  const foreign = payment({ imp_uid: 'imp_9', merchant_uid: 'othershop_1', cancel_amount: 5, status: 'cancelled' });
  const undecided = payment({ imp_uid: 'imp_3' });
  expect(await classes(world, ledger([payment({}), foreign, undecided], [cancel('imp_9', 'booking refund: MERCHANT_UID_MISMATCH', 5, 5)]))).toEqual([
    'I1-UNSETTLED',
    'NOT-OURS-CANCELLED',
  ]);
  // USD 10.40 cancelled as 10 and called a success.
  const usdWorld: World = {
    reservations: [{ ...reservation, status: 'HELD' }],
    payments: [{ ...confirmed, decision: 'REFUND', amount: 10 }],
    refunds: [{ id: 'f1', gateway_payment_id: 'imp_1', status: 'SUCCEEDED', reason: 'CURRENCY_MISMATCH', amount: 10 }],
  };
  const usd = payment({ amount: 10.4, cancel_amount: 10, currency: 'USD' });
  expect(await classes(usdWorld, ledger([usd], [cancel('imp_1', 'booking refund: CURRENCY_MISMATCH', 10, 10.4)]))).toEqual([
    'I1-REFUND-SUCCEEDED-BALANCE-LEFT',
    'I3-CANCEL-NOT-WHOLE-BALANCE',
  ]);
  // A PENDING refund is fine while faults may be active, a violation after the drain.
  const pendingWorld: World = { ...usdWorld, refunds: [{ ...usdWorld.refunds[0], status: 'PENDING' }] };
  expect(await classes(pendingWorld, ledger([payment({})]), true)).toEqual([]);
  expect(await classes(pendingWorld, ledger([payment({})]), false)).toEqual(['I1-PENDING-AFTER-DRAIN']);
  // A sandbox payment backing a booking.
  expect(await classes(world, ledger([payment({ sandbox: true })]))).toEqual(['SANDBOX-CONFIRMED']);
});
