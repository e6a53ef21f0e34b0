import fc from 'fast-check';
import { gatewayBalance, type GatewayPayment, type PaymentListQuery } from '../../../src/gateway/payment-gateway';
import type { V1Payment } from '../../../src/gateway/portone/sim/simulator-state';
import { PortOneV1Client } from '../../../src/gateway/portone/v1/portone-v1.client';
import { gatewayErrorKindOf } from '../../support/gateway-errors';
import { useSimulatorHarness } from '../../support/simulator-harness';

/**
 * The V1 client's time-window listing, virtual-account revoke, decimal amounts and sandbox flag, against
 * the simulator over HTTP. Nothing is stubbed; the simulator's ledger is the independent record.
 */
const sim = useSimulatorHarness();

/** Never answers: webhooks sent there fail, but the simulator's ledger still records what was sent. */
const DEAD_WEBHOOK_URL = 'http://127.0.0.1:9/hook';
const REFUND_ACCOUNT = { bank: '004', holder: '홍길동', account: '1234567890', tel: '010-1234-5678' };
/** Generated cases: 20 by default; `FC_RUNS` and `FC_SEED` to run more or replay a printed seed. */
const FC_PARAMS = { numRuns: Number(process.env.FC_RUNS ?? 20), ...(process.env.FC_SEED ? { seed: Number(process.env.FC_SEED) } : {}) };

function newClient() {
  return new PortOneV1Client({ baseUrl: sim.url, impKey: sim.impKey, impSecret: sim.impSecret, connectTimeoutMs: 2000, responseTimeoutMs: 10_000 });
}

/** Follows `nextPage` from page 1 and keeps every page, so tests can check page sizes and order too. */
async function walk(client: PortOneV1Client, query: Omit<PaymentListQuery, 'page'>): Promise<GatewayPayment[][]> {
  const pages: GatewayPayment[][] = [];
  for (let page: number | null = 1; page !== null; ) {
    const result = await client.listPayments({ ...query, page });
    pages.push(result.payments);
    if (pages.length > 10_000) throw new Error('listing never ends');
    page = result.nextPage;
  }
  return pages;
}

const seconds = (s: number) => new Date(s * 1000);

/** The time the listing of `status` filters on (Swagger getPaymentsByStatus). */
function listedTime(payment: V1Payment, status: 'paid' | 'cancelled' | 'ready'): number {
  return status === 'paid' ? payment.paid_at : status === 'cancelled' ? payment.cancelled_at : payment.started_at;
}

describe('listPayments', () => {
  test('2,500 paid payments, limit 1000: three pages of 1000, 1000 and 500, each payment exactly once', async () => {
    const created: string[] = [];
    for (let batch = 0; batch < 5; batch++) {
      created.push(...(await sim.payMany(Array.from({ length: 500 }, (_, i) => ({ merchantUid: `m-page-${batch}-${i}`, amount: 1000 + i })))));
    }
    const { now } = await sim.control.ledger();
    const client = newClient();
    const query = { status: 'paid' as const, from: seconds(now - 60), to: seconds(now + 60), limit: 1000 };
    const first = await client.listPayments({ ...query, page: 1 });
    const second = await client.listPayments({ ...query, page: 2 });
    const third = await client.listPayments({ ...query, page: 3 });
    expect([first, second, third].map((p) => [p.payments.length, p.nextPage])).toEqual([
      [1000, 2],
      [1000, 3],
      [500, null],
    ]);
    const listed = [first, second, third].flatMap((p) => p.payments.map((x) => x.gatewayPaymentId));
    expect(new Set(listed).size).toBe(2500);
    expect(new Set(listed)).toEqual(new Set(created));
    // A page past the end (the listing shrank between two calls) is an empty last page, not an error.
    expect(await client.listPayments({ ...query, page: 4 })).toEqual({ payments: [], nextPage: null });
  });

  test('random histories: each listing returns exactly the payments whose own status time falls in the window, once each', async () => {
    const action = fc.oneof(
      fc.record({ kind: fc.constant('create' as const), status: fc.constantFrom('ready' as const, 'paid' as const, 'failed' as const), vbank: fc.boolean() }),
      fc.record({ kind: fc.constant('deposit' as const), target: fc.nat() }),
      fc.record({ kind: fc.constant('cancel' as const), target: fc.nat(), part: fc.constantFrom(0.25, 0.5, 1) }),
      fc.record({ kind: fc.constant('revoke' as const), target: fc.nat() }),
    );
    const history = fc.array(fc.record({ advanceSeconds: fc.constantFrom(0, 1, 1, 2, 5), action }), { minLength: 1, maxLength: 16 });
    const windowPick = fc.record({
      fromIndex: fc.nat(),
      toIndex: fc.nat(),
      fromNudge: fc.integer({ min: -1, max: 1 }),
      toNudge: fc.integer({ min: -1, max: 1 }),
      limit: fc.integer({ min: 1, max: 4 }),
    });

    await fc.assert(
      fc.asyncProperty(history, fc.constantFrom('paid' as const, 'cancelled' as const), fc.array(windowPick, { minLength: 1, maxLength: 4 }), async (steps, partialCancelStatus, picks) => {
        await sim.reset();
        await sim.setOptions({ partialCancelStatus });
        const client = newClient();
        const made: Array<{ impUid: string; vbank: boolean }> = [];
        for (const [index, { advanceSeconds, action: step }] of steps.entries()) {
          if (advanceSeconds > 0) await sim.control.advanceClock(advanceSeconds);
          if (step.kind === 'create') {
            const vbank = step.vbank && step.status !== 'failed';
            made.push({ impUid: await sim.pay({ merchantUid: `m-h-${index}`, amount: 4000, status: step.status, payMethod: vbank ? 'vbank' : 'card' }), vbank });
            continue;
          }
          if (made.length === 0) continue;
          const target = made[step.target % made.length];
          const before = await client.getPayment(target.impUid);
          if (step.kind === 'deposit' && target.vbank && before.status === 'READY') await sim.deposit(target.impUid, { webhook: false });
          if (step.kind === 'revoke' && target.vbank && before.status === 'READY') await client.revokeVirtualAccount(target.impUid);
          if (step.kind === 'cancel' && before.paidAt && gatewayBalance(before) > 0) {
            const amount = Math.min(gatewayBalance(before), 4000 * step.part);
            await client.cancelPayment({
              gatewayPaymentId: target.impUid,
              amount,
              expectedCancellableAmount: gatewayBalance(before),
              reason: 'history',
              refundAccount: target.vbank ? REFUND_ACCOUNT : null,
            });
          }
        }

        const { payments: ledger, now } = await sim.control.ledger();
        const times = [now, ...new Set(ledger.flatMap((p) => [p.started_at, p.paid_at, p.cancelled_at, p.failed_at]).filter((t) => t > 0))].sort((x, y) => x - y);
        for (const pick of picks) {
          const a = times[pick.fromIndex % times.length] + pick.fromNudge;
          const b = times[pick.toIndex % times.length] + pick.toNudge;
          const [from, to] = a <= b ? [a, b] : [b, a];
          for (const status of ['paid', 'cancelled', 'ready'] as const) {
            const expected = ledger.filter((p) => p.status === status && listedTime(p, status) >= from && listedTime(p, status) <= to);
            const pages = await walk(client, { status, from: seconds(from), to: seconds(to), limit: pick.limit });
            const listed = pages.flat();
            expect(pages.every((page) => page.length <= pick.limit)).toBe(true);
            expect(pages).toHaveLength(Math.max(1, Math.ceil(expected.length / pick.limit)));
            expect(listed.map((p) => p.gatewayPaymentId).sort()).toEqual(expected.map((p) => p.imp_uid).sort());
            for (const payment of listed) {
              const record = ledger.find((p) => p.imp_uid === payment.gatewayPaymentId)!;
              expect(payment).toMatchObject({ status: status.toUpperCase(), amount: record.amount, cancelledAmount: record.cancel_amount });
            }
          }
        }
      }),
      FC_PARAMS,
    );
  });

  test('the query is checked before it is sent: page, limit, and a forward window of at most 90 days', async () => {
    const client = newClient();
    const base = { status: 'paid' as const, from: seconds(1_800_000_000), to: seconds(1_800_000_100), page: 1, limit: 10 };
    await expect(client.listPayments({ ...base, page: 0 })).rejects.toThrow(/page/);
    await expect(client.listPayments({ ...base, limit: 1001 })).rejects.toThrow(/limit/);
    await expect(client.listPayments({ ...base, limit: 0 })).rejects.toThrow(/limit/);
    await expect(client.listPayments({ ...base, from: base.to, to: base.from })).rejects.toThrow(/window/);
    await expect(client.listPayments({ ...base, from: new Date(Number.NaN) })).rejects.toThrow(/window/);
    await expect(client.listPayments({ ...base, to: seconds(1_800_000_000 + 90 * 86_400 + 1) })).rejects.toThrow(/90 days/);
    expect(await client.listPayments({ ...base, to: seconds(1_800_000_000 + 90 * 86_400) })).toEqual({ payments: [], nextPage: null });
    expect((await sim.control.ledger()).tokensIssued).toHaveLength(1);
  });

  test('listing faults map like reads: 503 is UNAVAILABLE, a lost connection UNAVAILABLE (safe to repeat)', async () => {
    const client = newClient();
    const { now } = await sim.control.ledger();
    const query = { status: 'paid' as const, from: seconds(now - 10), to: seconds(now + 10), page: 1, limit: 10 };
    await client.listPayments(query);
    await sim.fault({ endpoint: 'list', kind: 'http503' });
    expect(await gatewayErrorKindOf(client.listPayments(query))).toBe('UNAVAILABLE');
    await sim.fault({ endpoint: 'list', kind: 'reset' });
    expect(await gatewayErrorKindOf(client.listPayments(query))).toBe('UNAVAILABLE');
  });
});

describe('exact decimal amounts', () => {
  test('USD 10.40 paid, cancels of 0.40 then 10.00: cancelled exactly 10.4, status CANCELLED, balance 0', async () => {
    const impUid = await sim.pay({ merchantUid: 'm-usd', amount: 10.4, currency: 'USD' });
    const client = newClient();
    const paid = await client.getPayment(impUid);
    expect(paid).toMatchObject({ amount: 10.4, cancelledAmount: 0, currency: 'USD' });
    const partly = await client.cancelPayment({ gatewayPaymentId: impUid, amount: 0.4, expectedCancellableAmount: gatewayBalance(paid), reason: 'part' });
    expect(partly).toMatchObject({ status: 'PAID', cancelledAmount: 0.4 });
    expect(gatewayBalance(partly)).toBe(10);
    const rest = await client.cancelPayment({ gatewayPaymentId: impUid, amount: gatewayBalance(partly), expectedCancellableAmount: gatewayBalance(partly), reason: 'rest' });
    expect(rest).toMatchObject({ status: 'CANCELLED', amount: 10.4, cancelledAmount: 10.4 });
    expect(rest.cancellations.map((c) => c.amount)).toEqual([0.4, 10]);
    expect(gatewayBalance(rest)).toBe(0);
    expect((await sim.payment(impUid)).cancel_amount).toBe(10.4);
    expect((await sim.cancelRequests(impUid)).map((c) => [c.amount, c.checksum])).toEqual([
      [0.4, 10.4],
      [10, 10],
    ]);
  });

  test('any amount in cents cancelled in any number of parts ends exactly cancelled, never a cent adrift', async () => {
    const scenario = fc
      .integer({ min: 1, max: 100_000_000 })
      .chain((totalCents) =>
        fc.record({
          totalCents: fc.constant(totalCents),
          cuts: fc.uniqueArray(fc.integer({ min: 1, max: Math.max(1, totalCents - 1) }), { maxLength: Math.min(4, totalCents - 1) }),
        }),
      );
    await fc.assert(
      fc.asyncProperty(scenario, async ({ totalCents, cuts }) => {
        const amount = totalCents / 100;
        const impUid = await sim.pay({ merchantUid: `m-cents-${totalCents}-${cuts.join('-')}`, amount, currency: 'USD' });
        const client = newClient();
        const boundaries = [0, ...[...cuts].sort((x, y) => x - y), totalCents];
        let payment = await client.getPayment(impUid);
        expect(payment.amount).toBe(amount);
        for (let i = 1; i < boundaries.length; i++) {
          const part = (boundaries[i] - boundaries[i - 1]) / 100;
          payment = await client.cancelPayment({ gatewayPaymentId: impUid, amount: part, expectedCancellableAmount: gatewayBalance(payment), reason: 'part' });
          expect(payment.cancelledAmount).toBe(boundaries[i] / 100);
        }
        expect(payment).toMatchObject({ status: 'CANCELLED', cancelledAmount: amount });
        expect(gatewayBalance(payment)).toBe(0);
        expect((await sim.payment(impUid)).cancel_amount).toBe(amount);
      }),
      FC_PARAMS,
    );
  });
});

describe('sandbox flag', () => {
  test('payments are live unless made on a test channel; the flag survives reads and listings', async () => {
    await sim.setOptions({ includeSandboxFilter: true });
    const live = await sim.pay({ merchantUid: 'm-live', amount: 1000 });
    const testChannel = await sim.pay({ merchantUid: 'm-test', amount: 1000, sandbox: true });
    const client = newClient();
    expect((await client.getPayment(live)).sandbox).toBe(false);
    // PortOne hides test-channel payments from single reads unless asked; the client asks, to refuse them knowingly.
    expect((await client.getPayment(testChannel)).sandbox).toBe(true);
    const { now } = await sim.control.ledger();
    const [page] = await walk(client, { status: 'paid', from: seconds(now - 10), to: seconds(now + 10), limit: 10 });
    expect(Object.fromEntries(page.map((p) => [p.gatewayPaymentId, p.sandbox]))).toEqual({ [live]: false, [testChannel]: true });
    expect((await client.findPaymentsByMerchantUid('m-test'))[0].sandbox).toBe(true);
  });
});

describe('virtual accounts', () => {
  test('an issued, unpaid account is revoked: CANCELLED, nothing cancelled, never paid; listed as cancelled', async () => {
    const impUid = await sim.pay({ merchantUid: 'm-vbank', amount: 30000, status: 'ready', payMethod: 'vbank' });
    const client = newClient();
    expect(await client.getPayment(impUid)).toMatchObject({ status: 'READY', payMethod: 'vbank', isVirtualAccount: true, paidAt: null });
    const revoked = await client.revokeVirtualAccount(impUid);
    expect(revoked).toMatchObject({ status: 'CANCELLED', amount: 30000, cancelledAmount: 0, paidAt: null, isVirtualAccount: true, cancellations: [] });
    const { now } = await sim.control.ledger();
    const [cancelled] = await walk(client, { status: 'cancelled', from: seconds(now - 10), to: seconds(now + 10), limit: 10 });
    expect(cancelled.map((p) => p.gatewayPaymentId)).toEqual([impUid]);
    // Revoked means closed: no second revoke, no deposit, and nothing to refund.
    expect(await gatewayErrorKindOf(client.revokeVirtualAccount(impUid))).toBe('REJECTED');
    await expect(sim.deposit(impUid)).rejects.toThrow(/409/);
    expect(await gatewayErrorKindOf(client.cancelPayment({ gatewayPaymentId: impUid, amount: 30000, expectedCancellableAmount: 30000, reason: 'x', refundAccount: REFUND_ACCOUNT }))).toBe(
      'ALREADY_CANCELLED',
    );
  });

  test('only an issued, unpaid virtual account can be revoked', async () => {
    const card = await sim.pay({ merchantUid: 'm-card', amount: 1000 });
    const deposited = await sim.pay({ merchantUid: 'm-deposited', amount: 1000, status: 'ready', payMethod: 'vbank' });
    await sim.deposit(deposited, { webhook: false });
    const client = newClient();
    expect(await client.getPayment(deposited)).toMatchObject({ status: 'PAID', amount: 1000 });
    expect(await gatewayErrorKindOf(client.revokeVirtualAccount(card))).toBe('REJECTED');
    expect(await gatewayErrorKindOf(client.revokeVirtualAccount(deposited))).toBe('REJECTED');
    expect(await gatewayErrorKindOf(client.revokeVirtualAccount('imp_unknown'))).toBe('NOT_FOUND');
    expect((await sim.payment(card)).status).toBe('paid');
    expect((await sim.payment(deposited)).status).toBe('paid');
  });

  test('a revoke that may have reached PortOne is OUTCOME_UNKNOWN; a 503 is UNAVAILABLE', async () => {
    const impUid = await sim.pay({ merchantUid: 'm-vb-fault', amount: 1000, status: 'ready', payMethod: 'vbank' });
    const client = newClient();
    await sim.fault({ endpoint: 'revokeVbank', kind: 'http503' });
    expect(await gatewayErrorKindOf(client.revokeVirtualAccount(impUid))).toBe('UNAVAILABLE');
    await sim.fault({ endpoint: 'revokeVbank', kind: 'reset' });
    expect(await gatewayErrorKindOf(client.revokeVirtualAccount(impUid))).toBe('OUTCOME_UNKNOWN');
    expect((await client.revokeVirtualAccount(impUid)).status).toBe('CANCELLED');
  });

  test('a paid virtual account is refunded only with the buyer refund account, and every field of it is sent', async () => {
    const impUid = await sim.pay({ merchantUid: 'm-vb-refund', amount: 25000, status: 'ready', payMethod: 'vbank' });
    await sim.deposit(impUid, { webhook: false });
    const client = newClient();
    const request = { gatewayPaymentId: impUid, amount: 25000, expectedCancellableAmount: 25000, reason: 'refund' };
    expect(await gatewayErrorKindOf(client.cancelPayment(request))).toBe('REJECTED');
    expect((await sim.payment(impUid)).cancel_amount).toBe(0);
    expect(await client.cancelPayment({ ...request, refundAccount: REFUND_ACCOUNT })).toMatchObject({ status: 'CANCELLED', cancelledAmount: 25000 });
    const sent = (await sim.cancelRequests(impUid)).map((c) => c.body);
    expect(sent[1]).toEqual({
      imp_uid: impUid,
      amount: 25000,
      checksum: 25000,
      reason: 'refund',
      refund_holder: '홍길동',
      refund_bank: '004',
      refund_account: '1234567890',
      refund_tel: '010-1234-5678',
    });
  });
});

describe('status after a partial cancel (UNCONFIRMED at PortOne, switchable)', () => {
  test.each(['paid', 'cancelled'] as const)('partialCancelStatus %s: the balance, not the status, says what is still paid', async (partialCancelStatus) => {
    expect(await sim.setOptions({ partialCancelStatus })).toMatchObject({ partialCancelStatus });
    const impUid = await sim.pay({ merchantUid: `m-partial-${partialCancelStatus}`, amount: 50000 });
    const client = newClient();
    const after = await client.cancelPayment({ gatewayPaymentId: impUid, amount: 1000, expectedCancellableAmount: 50000, reason: 'part' });
    expect(after).toMatchObject({ status: partialCancelStatus.toUpperCase(), cancelledAmount: 1000 });
    expect(gatewayBalance(after)).toBe(49000);
    const { now } = await sim.control.ledger();
    const window = { from: seconds(now - 10), to: seconds(now + 10), limit: 10 };
    const paidIds = (await walk(client, { status: 'paid', ...window })).flat().map((p) => p.gatewayPaymentId);
    const cancelledIds = (await walk(client, { status: 'cancelled', ...window })).flat().map((p) => p.gatewayPaymentId);
    expect({ paid: paidIds, cancelled: cancelledIds }).toEqual(
      partialCancelStatus === 'paid' ? { paid: [impUid], cancelled: [] } : { paid: [], cancelled: [impUid] },
    );
    // What is left stays cancellable whatever the status says.
    expect(await client.cancelPayment({ gatewayPaymentId: impUid, amount: 49000, expectedCancellableAmount: 49000, reason: 'rest' })).toMatchObject({
      status: 'CANCELLED',
      cancelledAmount: 50000,
    });
  });

  test('a partial console cancel follows the switch and sends the cancelled webhook; reset restores the default', async () => {
    await sim.setOptions({ partialCancelStatus: 'cancelled' });
    const impUid = await sim.pay({ merchantUid: 'm-console', amount: 50000, webhookUrl: DEAD_WEBHOOK_URL });
    const console1 = await sim.consoleCancel(impUid, 1000);
    expect(console1).toMatchObject({ status: 'cancelled', cancel_amount: 1000 });
    const client = newClient();
    expect(gatewayBalance(await client.getPayment(impUid))).toBe(49000);
    const statuses = (await sim.control.ledger()).webhooks.filter((w) => w.payload.imp_uid === impUid).map((w) => w.payload.status);
    expect(statuses).toEqual(['paid', 'cancelled']);
    await expect(sim.consoleCancel(impUid, 49000.01)).rejects.toThrow(/400/);
    expect(await sim.consoleCancel(impUid)).toMatchObject({ status: 'cancelled', cancel_amount: 50000 });

    await sim.reset();
    expect(await sim.control.options()).toMatchObject({ partialCancelStatus: 'paid' });
    const again = await sim.pay({ merchantUid: 'm-console-2', amount: 50000 });
    expect(await sim.consoleCancel(again, 1000)).toMatchObject({ status: 'paid', cancel_amount: 1000 });
  });
});
