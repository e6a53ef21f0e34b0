import { Reservation, ReservationStatus } from '../../../src/booking/reservation.entity';
import { Refund, RefundStatus } from '../../../src/payment/refunds/refund.entity';
import { ConfirmPaymentDocument, HoldSeatDocument, RetryRefundDocument } from '../../generated/graphql';
import { createEventViaApi } from '../../support/fixtures';
import { expectMoneyInvariants } from '../../support/money-invariants';
import { expectMoneyInvariantsV2 } from '../../support/money-invariants-portone-v2';
import { newWebhookSecret } from '../../../src/gateway/portone/sim/v2/portone-v2-simulator';
import { startTestApp, type TestApp } from '../../support/test-app';
import { waitFor } from '../../support/wait';

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
  fault(endpoint: 'cancel' | 'all', kind: 'http503' | 'applyThenLose', times: number): Promise<void>;
  clearFaults(): Promise<void>;
  /** PortOne tells the app the payment was paid (V1 notification, V2 signed `Transaction.Paid`). */
  notifyPaid(paymentId: string, merchantUid: string): Promise<void>;
  invariants(): Promise<void>;
}

function portOneOf(t: TestApp, version: Version): PortOneUnderTest {
  if (version === 'v2') {
    const v2 = t.v2!;
    return {
      pay: (p) => v2.pay(p),
      cancels: async (id) => (await v2.cancelRequests(id)).map((c) => ({ applied: c.applied, amount: c.amount, idempotencyKey: c.idempotencyKey })),
      fault: (endpoint, kind, times) => v2.fault({ endpoint, kind, times }),
      clearFaults: () => v2.clearFaults(),
      notifyPaid: (paymentId) => v2.control.sendWebhook({ type: 'Transaction.Paid', paymentId, wait: true }),
      invariants: () => expectMoneyInvariantsV2(t),
    };
  }
  return {
    pay: (p) => t.simulator.pay(p),
    cancels: async (id) => (await t.simulator.cancelRequests(id)).map((c) => ({ applied: c.applied, amount: c.amount, idempotencyKey: null })),
    fault: (endpoint, kind, times) => t.simulator.fault({ endpoint, kind, times }),
    clearFaults: () => t.simulator.clearFaults(),
    notifyPaid: (impUid, merchantUid) =>
      t.simulator.sendWebhook({ url: t.url.replace(/\/graphql$/, '/webhooks/portone'), impUid, merchantUid, status: 'paid' }),
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

  test('a cancel applied whose response is lost: one cancel applied, every request with the same Idempotency-Key', async () => {
    const { token, reservation, paymentId } = await holdAndPay({ amountDelta: 500 });
    await portone.fault('cancel', 'applyThenLose', 1);
    await portone.fault('cancel', 'http503', 1);
    await confirm(token, reservation, paymentId);
    const refund = await refundOf(paymentId, RefundStatus.SUCCEEDED);
    const cancels = await portone.cancels(paymentId);
    expect(cancels.filter((c) => c.applied)).toHaveLength(1);
    if (version === 'v2') {
      // The refund's own key plus the client's 22-character digest of the request: nothing per attempt.
      for (const c of cancels) expect(c.idempotencyKey).toMatch(new RegExp(`^refund:${refund.id}:[A-Za-z0-9_-]{22}$`));
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
