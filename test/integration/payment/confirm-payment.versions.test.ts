import fetch from 'node-fetch';
import { Reservation, ReservationStatus } from '../../../src/booking/reservation.entity';
import { Refund, RefundStatus } from '../../../src/payment/refunds/refund.entity';
import { ConfirmPaymentDocument, HoldSeatDocument, RetryRefundDocument } from '../../generated/graphql';
import { createEventViaApi } from '../../support/fixtures';
import { expectMoneyInvariants } from '../../support/money-invariants';
import { expectMoneyInvariantsV2 } from '../../support/money-invariants-portone-v2';
import { refundRowsOf } from '../../support/money-holes';
import { newWebhookSecret } from '../../../src/gateway/portone/sim/v2/portone-v2-simulator';
import { minorDigits } from '../../../src/gateway/portone/v2/portone-v2.client';
import { startTestApp, type TestApp } from '../../support/test-app';
import { eventually, waitFor } from '../../support/wait';

/**
 * The payment scenarios of confirm-payment.test.ts against both PortOne versions: the same GraphQL
 * surface, states and reasons, whichever API the merchant uses. The simulator is reached over HTTP.
 */
type Version = 'v1' | 'v2';

/** What a scenario needs of PortOne, the same for both versions. */
interface PortOneUnderTest {
  pay(p: { merchantUid: string; amount: number; currency?: string }): Promise<string>;
  /** Cancel requests we sent for a payment: applied or not, with the V2 Idempotency-Key (null on V1). */
  cancels(paymentId: string): Promise<Array<{ applied: boolean; amount: number | null; idempotencyKey: string | null }>>;
  /** What PortOne shows cancelled of a payment, by anyone (major units). */
  cancelledAmount(paymentId: string): Promise<number>;
  fault(endpoint: 'cancel' | 'all', kind: 'http503' | 'reset' | 'applyThenLose', times: number): Promise<void>;
  clearFaults(): Promise<void>;
  /** PortOne tells the app the payment was paid (V1 notification, V2 signed `Transaction.Paid`). */
  notifyPaid(paymentId: string, merchantUid: string): Promise<void>;
  /**
   * Someone cancels the whole payment in PortOne's console (not our server). `notify`: PortOne tells the
   * app (V1 `cancelled` notification, V2 signed `Transaction.Cancelled`, answered before this returns on V1
   * and delivered in the background on V2); otherwise the app is not told.
   */
  cancelAtConsole(paymentId: string, merchantUid: string, options: { notify: boolean }): Promise<void>;
  /** The buyer pays the order in PortOne's payment window; the window's HTTP status and the payment id it made. */
  payInWindow(merchantUid: string, amount: number): Promise<{ httpStatus: number; paymentId: string | null }>;
  invariants(): Promise<void>;
}

async function postToWindow(simulatorUrl: string, merchantUid: string, amount: number): Promise<{ httpStatus: number; answer: Record<string, unknown> | null }> {
  const response = await fetch(`${simulatorUrl}/__window/payments`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ merchant_uid: merchantUid, amount }),
  });
  const body = (await response.json()) as { response?: Record<string, unknown> };
  return { httpStatus: response.status, answer: body.response ?? null };
}

function portOneOf(t: TestApp, version: Version): PortOneUnderTest {
  if (version === 'v2') {
    const v2 = t.v2!;
    return {
      pay: (p) => v2.pay(p),
      cancels: async (id) => (await v2.cancelRequests(id)).map((c) => ({ applied: c.applied, amount: c.amount, idempotencyKey: c.idempotencyKey })),
      async cancelledAmount(id) {
        const payment = await v2.payment(id);
        return payment.amount.cancelled / 10 ** minorDigits(String(payment.currency));
      },
      fault: (endpoint, kind, times) => v2.fault({ endpoint, kind, times }),
      clearFaults: () => v2.clearFaults(),
      notifyPaid: (paymentId) => v2.control.sendWebhook({ type: 'Transaction.Paid', paymentId, wait: true }),
      async cancelAtConsole(paymentId, _merchantUid, { notify }) {
        await v2.control.consoleCancel(paymentId, { webhook: notify });
      },
      async payInWindow(merchantUid, amount) {
        const { httpStatus, answer } = await postToWindow(v2.url, merchantUid, amount);
        return { httpStatus, paymentId: typeof answer?.paymentId === 'string' ? answer.paymentId : null };
      },
      invariants: () => expectMoneyInvariantsV2(t),
    };
  }
  return {
    pay: (p) => t.simulator.pay(p),
    cancels: async (id) => (await t.simulator.cancelRequests(id)).map((c) => ({ applied: c.applied, amount: c.amount, idempotencyKey: null })),
    cancelledAmount: async (id) => (await t.simulator.payment(id)).cancel_amount,
    fault: (endpoint, kind, times) => t.simulator.fault({ endpoint, kind, times }),
    clearFaults: () => t.simulator.clearFaults(),
    notifyPaid: (impUid, merchantUid) =>
      t.simulator.sendWebhook({ url: t.url.replace(/\/graphql$/, '/webhooks/portone'), impUid, merchantUid, status: 'paid' }),
    async cancelAtConsole(impUid, merchantUid, { notify }) {
      // Our payments carry no notice_url here, so the console cancel itself notifies nobody.
      await t.simulator.consoleCancel(impUid);
      if (notify) await t.simulator.sendWebhook({ url: t.webhookUrl, impUid, merchantUid, status: 'cancelled' });
    },
    async payInWindow(merchantUid, amount) {
      const { httpStatus, answer } = await postToWindow(t.simulator.url, merchantUid, amount);
      return { httpStatus, paymentId: typeof answer?.imp_uid === 'string' ? answer.imp_uid : null };
    },
    invariants: () => expectMoneyInvariants(t),
  };
}

describe.each<Version>(['v1', 'v2'])('PortOne %s', (version) => {
  let t: TestApp;
  let portone: PortOneUnderTest;
  beforeAll(async () => {
    t = await startTestApp({
      portoneVersion: version,
      v2WebhookSecrets: [newWebhookSecret(), newWebhookSecret()],
      env: { REFUND_BACKOFF_BASE_MS: '100', REFUND_BACKOFF_MAX_MS: '400', REFUND_RETRY_WINDOW_MS: '2500' },
    });
    portone = portOneOf(t, version);
  });
  afterAll(async () => {
    await t.close();
  });
  beforeEach(async () => {
    await t.reset();
  });
  afterEach(async () => {
    await portone.invariants();
  });

  async function hold(options: { buyer?: string; seatIndex?: number } = {}) {
    const event = await createEventViaApi(t);
    const token = await t.tokenFor(options.buyer ?? 'buyer');
    const result = await t.gql(HoldSeatDocument, { input: { seatId: event.seats[options.seatIndex ?? 0].id } }, { token });
    return { event, token, reservation: result.data!.holdSeat };
  }

  async function holdAndPay(options: { amountDelta?: number; currency?: string } = {}) {
    const held = await hold();
    const paymentId = await portone.pay({
      merchantUid: held.reservation.merchantUid,
      amount: held.reservation.amount + (options.amountDelta ?? 0),
      currency: options.currency,
    });
    // V2: the merchant chose the payment id, and it is the reservation's merchantUid.
    if (version === 'v2') expect(paymentId).toBe(held.reservation.merchantUid);
    return { ...held, paymentId };
  }

  const confirm = (token: string, reservation: { id: string; merchantUid: string }, paymentId: string) =>
    t.gql(ConfirmPaymentDocument, { input: { reservationId: reservation.id, paymentId, merchantUid: reservation.merchantUid } }, { token });

  const refundOf = (paymentId: string, status: RefundStatus) =>
    waitFor(async () => {
      const refund = await t.orm.em.fork().findOneOrFail(Refund, { gatewayPaymentId: paymentId });
      return refund.status === status ? refund : null;
    });

  test('an exact payment is kept: CONFIRMED, never cancelled', async () => {
    const { token, reservation, paymentId } = await holdAndPay();
    const result = await confirm(token, reservation, paymentId);
    expect(result.data?.confirmPayment).toMatchObject({
      __typename: 'PaymentConfirmed',
      paymentId,
      amount: reservation.amount,
      reservation: { id: reservation.id, status: 'CONFIRMED', refund: null },
    });
    expect(await portone.cancels(paymentId)).toHaveLength(0);
  });

  test.each([
    ['AMOUNT_MISMATCH', { amountDelta: -1000 }],
    ['CURRENCY_MISMATCH', { currency: 'USD' }],
  ] as const)('%s: refunded with exactly one cancel of the whole balance', async (reason, change) => {
    const { token, reservation, paymentId } = await holdAndPay(change);
    const result = await confirm(token, reservation, paymentId);
    expect(result.data?.confirmPayment).toMatchObject({ __typename: 'PaymentRefunded', reason, refund: { status: 'SUCCEEDED' } });
    const cancels = await portone.cancels(paymentId);
    expect(cancels).toHaveLength(1);
    expect(cancels[0].amount).toBe(reservation.amount + ('amountDelta' in change ? change.amountDelta : 0));
  });

  test('RESERVATION_CANCELLED: the buyer cancelled the hold before the payment arrived', async () => {
    const { token, reservation, paymentId } = await holdAndPay();
    await t.gql(`mutation($id: ID!) { cancelReservation(input: { reservationId: $id }) { id } }`, { id: reservation.id }, { token });
    const result = await confirm(token, reservation, paymentId);
    expect(result.data?.confirmPayment).toMatchObject({ __typename: 'PaymentRefunded', reason: 'RESERVATION_CANCELLED', refund: { status: 'SUCCEEDED' } });
    expect(await portone.cancels(paymentId)).toHaveLength(1);
  });

  test('SEAT_UNAVAILABLE: the hold expired and another buyer holds the seat', async () => {
    const { event, token, reservation, paymentId } = await holdAndPay();
    await t.orm.em.fork().nativeUpdate(Reservation, { id: reservation.id }, { expiresAt: new Date(Date.now() - 60_000 - t.config.holdPaymentGraceMs) });
    const other = await t.gql(HoldSeatDocument, { input: { seatId: event.seats[0].id } }, { token: await t.tokenFor('other') });
    expect(other.data?.holdSeat.status).toBe('HELD');
    const result = await confirm(token, reservation, paymentId);
    expect(result.data?.confirmPayment).toMatchObject({ __typename: 'PaymentRefunded', reason: 'SEAT_UNAVAILABLE' });
    expect(await portone.cancels(paymentId)).toHaveLength(1);
  });

  test('INTERNAL_ERROR: the decision cannot be written, the payment is still refunded once', async () => {
    const { token, reservation, paymentId } = await holdAndPay();
    t.app.failpoints.enable('before-decision-commit', 'throw');
    let result;
    try {
      result = await confirm(token, reservation, paymentId);
    } finally {
      t.app.failpoints.disable();
    }
    expect(result.data?.confirmPayment).toMatchObject({ __typename: 'PaymentRefunded', reason: 'INTERNAL_ERROR', refund: { status: 'SUCCEEDED' } });
    expect(await portone.cancels(paymentId)).toHaveLength(1);
  });

  test('BUYER_CANCELLED: a confirmed booking cancelled by its buyer is refunded through the same path', async () => {
    const { token, reservation, paymentId } = await holdAndPay();
    await confirm(token, reservation, paymentId);
    const cancelled = await t.gql(
      `mutation($id: ID!) { cancelReservation(input: { reservationId: $id }) { status refund { reason status amount } } }`,
      { id: reservation.id },
      { token },
    );
    expect(cancelled.data).toEqual({ cancelReservation: { status: 'CANCELLED', refund: { reason: 'BUYER_CANCELLED', status: 'SUCCEEDED', amount: reservation.amount } } });
    expect(await portone.cancels(paymentId)).toHaveLength(1);
  });

  test.each([
    ['PortOne notifies the app (V1 `cancelled`, V2 signed `Transaction.Cancelled`)', true],
    ['no notification: the reconciliation sweep notices', false],
  ] as const)('CANCELLED_AT_GATEWAY: a kept booking whose payment is cancelled in the console; %s', async (_how, notify) => {
    const { event, token, reservation, paymentId } = await holdAndPay();
    expect((await confirm(token, reservation, paymentId)).data?.confirmPayment.__typename).toBe('PaymentConfirmed');
    await portone.cancelAtConsole(paymentId, reservation.merchantUid, { notify });
    const status = async () => (await t.orm.em.fork().findOneOrFail(Reservation, reservation.id)).status;
    if (notify) {
      await waitFor(async () => (await status()) === ReservationStatus.CANCELLED);
      // The simulator records the answer after our handler sent it: a moment after the booking may have moved.
      if (version === 'v2') {
        await eventually(async () => expect((await t.v2!.webhookDeliveries(paymentId)).map((w) => [w.type, w.status])).toEqual([['Transaction.Cancelled', 200]]), 5000, 50);
      }
    } else {
      expect(await status()).toBe(ReservationStatus.CONFIRMED); // nothing has told the app yet
      await t.app.services.reconciliation.run();
    }
    expect(await status()).toBe(ReservationStatus.CANCELLED);
    expect(await refundRowsOf(t.orm, paymentId)).toEqual([
      expect.objectContaining({ reason: 'CANCELLED_AT_GATEWAY', status: 'SUCCEEDED', amount: reservation.amount, reservationId: reservation.id }),
    ]);
    // We sent nothing: the money was already given back by someone else.
    expect(await portone.cancels(paymentId)).toEqual([]);
    expect(await portone.cancelledAmount(paymentId)).toBe(reservation.amount);
    // The seat is free again.
    const next = await t.gql(HoldSeatDocument, { input: { seatId: event.seats[0].id } }, { token: await t.tokenFor('next-buyer') });
    expect(next.data?.holdSeat.status).toBe('HELD');
  });

  // DUPLICATE_PAYMENT cannot happen on V2: the payment id IS the reservation's merchantUid, and PortOne
  // refuses a second payment under a paid id, so the server never sees a second payment for one order.
  test('DUPLICATE_PAYMENT: the buyer pays a confirmed order again (V1: refunded; V2: PortOne refuses the paid paymentId)', async () => {
    const { token, reservation, paymentId } = await holdAndPay();
    expect((await confirm(token, reservation, paymentId)).data?.confirmPayment.__typename).toBe('PaymentConfirmed');
    const again = await portone.payInWindow(reservation.merchantUid, reservation.amount);
    if (version === 'v1') {
      expect(again.httpStatus).toBe(201);
      const second = again.paymentId!;
      const result = await confirm(token, reservation, second);
      expect(result.data?.confirmPayment).toMatchObject({ __typename: 'PaymentRefunded', reason: 'DUPLICATE_PAYMENT', refund: { status: 'SUCCEEDED' } });
      expect((await portone.cancels(second)).filter((c) => c.applied).map((c) => c.amount)).toEqual([reservation.amount]);
    } else {
      expect(again).toEqual({ httpStatus: 409, paymentId: null });
      expect((await t.v2!.allPayments()).filter((p) => p.id === reservation.merchantUid)).toHaveLength(1);
      // The buyer's page confirms again with the only payment there is: the recorded outcome, no refund.
      expect((await confirm(token, reservation, paymentId)).data?.confirmPayment.__typename).toBe('PaymentConfirmed');
      expect(await t.orm.em.fork().count(Refund, {})).toBe(0);
    }
    expect(await portone.cancels(paymentId)).toHaveLength(0);
    expect((await t.orm.em.fork().findOneOrFail(Reservation, reservation.id)).status).toBe(ReservationStatus.CONFIRMED);
  });

  test('a payment made for another reservation settles THAT reservation; the caller gets PAYMENT_ALREADY_USED', async () => {
    const a = await hold({ buyer: 'alice' });
    const paymentId = await portone.pay({ merchantUid: a.reservation.merchantUid, amount: a.reservation.amount });
    const b = await t.gql(HoldSeatDocument, { input: { seatId: a.event.seats[1].id } }, { token: a.token });
    const result = await confirm(a.token, b.data!.holdSeat, paymentId);
    expect(result.errors?.[0]?.extensions?.code).toBe('PAYMENT_ALREADY_USED');
    expect((await t.orm.em.fork().findOneOrFail(Reservation, a.reservation.id)).status).toBe(ReservationStatus.CONFIRMED);
    expect(await portone.cancels(paymentId)).toHaveLength(0);
  });

  test('20 parallel confirmPayment calls for one tampered payment: one refund, exactly one cancel', async () => {
    const { token, reservation, paymentId } = await holdAndPay({ amountDelta: -1000 });
    const results = await Promise.all(Array.from({ length: 20 }, () => confirm(token, reservation, paymentId)));
    for (const result of results) expect(result.data?.confirmPayment).toMatchObject({ __typename: 'PaymentRefunded', reason: 'AMOUNT_MISMATCH' });
    expect(await t.orm.em.fork().count(Refund, {})).toBe(1);
    await refundOf(paymentId, RefundStatus.SUCCEEDED);
    expect(await portone.cancels(paymentId)).toHaveLength(1);
  });

  test('the cancel fails three times (503) then succeeds: SUCCEEDED after four attempts, one applied cancel', async () => {
    const { token, reservation, paymentId } = await holdAndPay({ amountDelta: 500 });
    await portone.fault('cancel', 'http503', 3);
    const result = await confirm(token, reservation, paymentId);
    expect(result.data?.confirmPayment).toMatchObject({ __typename: 'PaymentRefunded', refund: { status: 'PENDING', attempts: 1 } });
    expect((await refundOf(paymentId, RefundStatus.SUCCEEDED)).attempts).toBe(4);
    expect((await portone.cancels(paymentId)).filter((c) => c.applied)).toHaveLength(1);
  });

  test('a cancel lost before PortOne saw it, then one applied whose answer is lost: one cancel applied, every request with the same Idempotency-Key', async () => {
    const { token, reservation, paymentId } = await holdAndPay({ amountDelta: 500 });
    const paid = reservation.amount + 500;
    // Attempt 1: the connection drops before PortOne processes the cancel (outcome unknown, nothing applied).
    // Attempt 2: reads back the whole balance still paid and cancels again: applied, but the answer is lost.
    // Then a read-back (attempt 3's, or on V2 the settle of PortOne's `Transaction.Cancelled`, whichever
    // comes first) finds nothing left and sends nothing.
    await portone.fault('cancel', 'reset', 1);
    await portone.fault('cancel', 'applyThenLose', 1);
    await confirm(token, reservation, paymentId);
    const refund = await refundOf(paymentId, RefundStatus.SUCCEEDED);
    expect(refund.attempts).toBeGreaterThanOrEqual(2);
    const cancels = await portone.cancels(paymentId);
    expect(cancels.filter((c) => c.applied).map((c) => c.amount)).toEqual([paid]);
    expect(await portone.cancelledAmount(paymentId)).toBe(paid);
    if (version === 'v2') {
      // Both cancels reached PortOne (the first was dropped before processing) and carried one key: the
      // refund's own plus the client's 22-character digest of the request, nothing per attempt.
      expect(cancels).toHaveLength(2);
      expect(new Set(cancels.map((c) => c.idempotencyKey)).size).toBe(1);
      expect(cancels[0].idempotencyKey).toMatch(new RegExp(`^refund:${refund.id}:[A-Za-z0-9_-]{22}$`));
    } else {
      // V1 has no Idempotency-Key: the read-back before each retry is all that keeps it to one cancel. The
      // dropped request never reached the simulator's cancel handler, so only the applied one is recorded.
      expect(cancels).toHaveLength(1);
    }
  });

  test('PortOne down past the retry window: NEEDS_ATTENTION, then an admin retryRefund succeeds with one cancel', async () => {
    const { token, reservation, paymentId } = await holdAndPay({ amountDelta: 500 });
    await portone.fault('cancel', 'http503', 1000);
    const result = await confirm(token, reservation, paymentId);
    expect(result.data?.confirmPayment).toMatchObject({ __typename: 'PaymentRefunded', refund: { status: 'PENDING' } });
    const stuck = await refundOf(paymentId, RefundStatus.NEEDS_ATTENTION);
    await portone.clearFaults();
    const retried = await t.gql(RetryRefundDocument, { id: stuck.id }, { token: await t.tokenFor('admin', ['admin']) });
    expect(retried.data?.retryRefund).toMatchObject({ status: 'SUCCEEDED' });
    expect((await portone.cancels(paymentId)).filter((c) => c.applied)).toHaveLength(1);
  });

  test('webhook only (the client never confirms): the booking is CONFIRMED', async () => {
    const { reservation, paymentId } = await holdAndPay();
    await portone.notifyPaid(paymentId, reservation.merchantUid);
    await waitFor(async () => (await t.orm.em.fork().findOneOrFail(Reservation, reservation.id)).status === ReservationStatus.CONFIRMED);
  });

  test('reconciliation only (no confirm, no webhook): the sweep confirms the booking and refunds a tampered one', async () => {
    const kept = await holdAndPay();
    const tampered = await hold({ seatIndex: 1 });
    const tamperedId = await portone.pay({ merchantUid: tampered.reservation.merchantUid, amount: tampered.reservation.amount - 1000 });
    await t.app.services.reconciliation.run();
    expect((await t.orm.em.fork().findOneOrFail(Reservation, kept.reservation.id)).status).toBe(ReservationStatus.CONFIRMED);
    await refundOf(tamperedId, RefundStatus.SUCCEEDED);
    expect(await portone.cancels(kept.paymentId)).toHaveLength(0);
  });
});
