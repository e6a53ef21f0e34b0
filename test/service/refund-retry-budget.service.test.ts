import { HoldSeatDocument } from '../generated/graphql';
import {
  GatewayError,
  type CancelPaymentRequest,
  type GatewayErrorKind,
  type GatewayPayment,
  type PaymentGateway,
  type PaymentListPage,
} from '../../src/gateway/payment-gateway';
import { createEventViaApi } from '../support/fixtures';
import { ManualClock, useTestApp } from '../support/test-app';

/**
 * Issue 10, story 10: how long a refund keeps trying. The budget is elapsed time since the decision
 * (REFUND_RETRY_WINDOW_MS, 72 h by default), not a number of attempts; unavailable, unknown-outcome and
 * credential failures use it all, and a refusal PortOne means (REJECTED) goes to NEEDS_ATTENTION at once
 * with its reason. A scripted gateway answers every cancel with the failure under test and the clock is
 * moved by hand, so three days pass in milliseconds; attempts are run by hand (no worker).
 */
const HOUR = 3_600_000;

/** A PortOne that holds payments in memory and answers cancels with `cancelFailure` while it is set. */
class ScriptedGateway implements PaymentGateway {
  readonly payments = new Map<string, GatewayPayment>();
  cancelFailure: GatewayError | null = null;

  async getPayment(gatewayPaymentId: string): Promise<GatewayPayment> {
    const payment = this.payments.get(gatewayPaymentId);
    if (!payment) throw new GatewayError('NOT_FOUND', `no payment ${gatewayPaymentId}`);
    return structuredClone(payment);
  }
  async findPaymentsByMerchantUid(merchantUid: string): Promise<GatewayPayment[]> {
    return [...this.payments.values()].filter((p) => p.merchantUid === merchantUid).map((p) => structuredClone(p));
  }
  async cancelPayment(request: CancelPaymentRequest): Promise<GatewayPayment> {
    if (this.cancelFailure) throw this.cancelFailure;
    const payment = this.payments.get(request.gatewayPaymentId)!;
    payment.cancelledAmount += request.amount;
    payment.status = 'CANCELLED';
    payment.cancellations.push({ cancellationId: `c-${payment.cancellations.length + 1}`, amount: request.amount, reason: request.reason, cancelledAt: new Date() });
    return structuredClone(payment);
  }
  async listPayments(): Promise<PaymentListPage> {
    return { payments: [], nextPage: null };
  }
  async revokeVirtualAccount(gatewayPaymentId: string): Promise<GatewayPayment> {
    return this.getPayment(gatewayPaymentId);
  }
}

const gateway = new ScriptedGateway();
const clock = new ManualClock(new Date());
// No money invariants here: they compare with the simulator's ledger, and this PortOne is scripted.
const t = useTestApp({ gateway, clock, startWorker: false });

beforeEach(() => {
  gateway.payments.clear();
  gateway.cancelFailure = null;
});

async function refundRow(refundId: string) {
  const [row]: Array<Record<string, unknown>> = await t.orm.em.getConnection().execute('select * from refund where id = ?', [refundId]);
  return {
    status: String(row.status),
    attempts: Number(row.attempts),
    lastError: (row.last_error as string | null) ?? null,
    nextAttemptAt: row.next_attempt_at ? new Date(row.next_attempt_at as string) : null,
    giveUpAt: new Date(row.give_up_at as string),
  };
}

async function statusEvents(refundId: string) {
  return (await t.orm.em
    .getConnection()
    .execute(`select outcome, message from payment_event where refund_id = ? and kind = 'REFUND_STATUS' order by id`, [refundId])) as Array<{
    outcome: string;
    message: string;
  }>;
}

/** A payment 500 won over the price, settled now: refunded AMOUNT_MISMATCH, its first attempt already failed. */
async function overpaidWhileCancelsFail(failure: GatewayError): Promise<string> {
  const event = await createEventViaApi(t, [{ label: 'A1', price: 50000 }]);
  const token = await t.tokenFor('retry-budget-buyer');
  const hold = (await t.gql(HoldSeatDocument, { input: { seatId: event.seats[0].id } }, { token })).data!.holdSeat;
  const paymentId = `imp_${hold.merchantUid}`;
  gateway.payments.set(paymentId, {
    gatewayPaymentId: paymentId,
    merchantUid: hold.merchantUid,
    status: 'PAID',
    amount: hold.amount + 500,
    cancelledAmount: 0,
    currency: 'KRW',
    paidAt: clock.now(),
    cancellations: [],
    sandbox: false,
    payMethod: 'card',
    isVirtualAccount: false,
  });
  gateway.cancelFailure = failure;
  const outcome = await t.app.services.settlement.settle(t.orm.em.fork(), paymentId, { source: 'WEBHOOK' });
  if (outcome.kind !== 'REFUNDED') throw new Error(`expected REFUNDED, got ${outcome.kind}`);
  return outcome.refund.id;
}

const transient: Array<[GatewayErrorKind, string]> = [
  ['UNAVAILABLE', 'PortOne answered 503'],
  ['OUTCOME_UNKNOWN', 'PortOne cancel: network timeout'],
  ['MISCONFIGURED', 'PortOne refused our credentials (cancel)'],
];

test.each(transient)('%s: the refund keeps trying for the whole 72 h window, then needs attention', async (kind, message) => {
  expect(t.config.refunds.retryWindowMs).toBe(72 * HOUR);
  const refundId = await overpaidWhileCancelsFail(new GatewayError(kind, message));
  const decided = await refundRow(refundId);
  expect(decided).toMatchObject({ status: 'PENDING', attempts: 1, lastError: `${kind}: ${message}` });
  expect(decided.giveUpAt.getTime()).toBe(clock.now().getTime() + 72 * HOUR);

  // Far more attempts than any count-based budget allowed (it was 8), spread over almost three days.
  for (let attempt = 2; attempt <= 25; attempt++) {
    clock.advance(71 * HOUR / 24);
    await t.app.services.refunds.attempt(refundId);
  }
  clock.advance(decided.giveUpAt.getTime() - clock.now().getTime() - 60_000); // a minute before the window ends
  await t.app.services.refunds.attempt(refundId);
  const stillTrying = await refundRow(refundId);
  expect(stillTrying).toMatchObject({ status: 'PENDING', attempts: 26 });
  // The next try is never scheduled past the window's end (its last try happens at the end).
  expect(stillTrying.nextAttemptAt!.getTime()).toBeLessThanOrEqual(decided.giveUpAt.getTime());
  expect(await statusEvents(refundId)).toEqual([]);

  clock.advance(60_000);
  await t.app.services.refunds.attempt(refundId);
  expect(await refundRow(refundId)).toMatchObject({ status: 'NEEDS_ATTENTION', attempts: 27, nextAttemptAt: null, lastError: `${kind}: ${message}` });
  expect(await statusEvents(refundId)).toEqual([{ outcome: 'NEEDS_ATTENTION', message: expect.stringContaining(`${72 * 60} minutes`) }]);
});

test('a permanent refusal (REJECTED) needs attention at the first attempt, with PortOne\'s reason', async () => {
  const reason = '[PG] 취소 가능 기간이 지났습니다 (cancel period expired)';
  const refundId = await overpaidWhileCancelsFail(new GatewayError('REJECTED', reason, { gatewayCode: -1 }));
  expect(await refundRow(refundId)).toMatchObject({ status: 'NEEDS_ATTENTION', attempts: 1, nextAttemptAt: null, lastError: `REJECTED: ${reason}` });
  expect(await statusEvents(refundId)).toEqual([{ outcome: 'NEEDS_ATTENTION', message: reason }]);
  // Nothing is left scheduled: a later attempt (a stray job) does nothing.
  clock.advance(HOUR);
  await t.app.services.refunds.attempt(refundId);
  expect(await refundRow(refundId)).toMatchObject({ status: 'NEEDS_ATTENTION', attempts: 1 });
});
