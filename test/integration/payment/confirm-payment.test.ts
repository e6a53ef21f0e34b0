import fetch from 'node-fetch';
import { Reservation, ReservationStatus } from '../../../src/booking/reservation.entity';
import { Refund, RefundStatus } from '../../../src/payment/refunds/refund.entity';
import { ConfirmPaymentDocument, HoldSeatDocument, PaymentEventsDocument, RefundsDocument, RetryRefundDocument } from '../../generated/graphql';
import { createEventViaApi } from '../../support/fixtures';
import { expectMoneyInvariants } from '../../support/money-invariants';
import { startTestApp, type TestApp } from '../../support/test-app';
import { waitFor } from '../../support/wait';

let t: TestApp;
beforeAll(async () => {
  t = await startTestApp({
    env: { REFUND_BACKOFF_BASE_MS: '100', REFUND_BACKOFF_MAX_MS: '400', REFUND_RETRY_WINDOW_MS: '2500' },
  });
});
afterAll(async () => {
  await t.close();
});
beforeEach(async () => {
  await t.reset();
});
afterEach(async () => {
  await expectMoneyInvariants(t);
});

async function holdAndPay(options: { buyer?: string; seatIndex?: number; amountDelta?: number; currency?: string; merchantUid?: string } = {}) {
  const event = await createEventViaApi(t);
  const token = await t.tokenFor(options.buyer ?? 'buyer');
  const seat = event.seats[options.seatIndex ?? 0];
  const hold = await t.gql(HoldSeatDocument, { input: { seatId: seat.id } }, { token });
  const reservation = hold.data!.holdSeat;
  const impUid = await t.simulator.pay({
    merchantUid: options.merchantUid ?? reservation.merchantUid,
    amount: reservation.amount + (options.amountDelta ?? 0),
    currency: options.currency,
  });
  return { event, token, reservation, impUid };
}

async function confirm(token: string, reservation: { id: string; merchantUid: string }, impUid: string, headers?: Record<string, string>) {
  return t.gql(
    ConfirmPaymentDocument,
    { input: { reservationId: reservation.id, paymentId: impUid, merchantUid: reservation.merchantUid } },
    { token, headers },
  );
}

describe('confirmPayment', () => {
  test('an exact payment confirms the booking and is never cancelled', async () => {
    const { token, reservation, impUid } = await holdAndPay();
    const result = await confirm(token, reservation, impUid);
    expect(result.data?.confirmPayment).toMatchObject({
      __typename: 'PaymentConfirmed',
      paymentId: impUid,
      amount: reservation.amount,
      reservation: { id: reservation.id, status: 'CONFIRMED', refund: null },
    });
    expect(await t.simulator.cancelRequests(impUid)).toHaveLength(0);
    expect((await t.simulator.payment(impUid)).status).toBe('paid');
  });

  test('a tampered amount is refunded by the server: PaymentRefunded, one cancel for the paid amount, in Korean', async () => {
    const { token, reservation, impUid } = await holdAndPay({ amountDelta: -49000 });
    const result = await confirm(token, reservation, impUid);
    const outcome = result.data?.confirmPayment;
    expect(outcome).toMatchObject({ __typename: 'PaymentRefunded', reason: 'AMOUNT_MISMATCH' });
    if (outcome?.__typename !== 'PaymentRefunded') throw new Error('expected PaymentRefunded');
    expect(outcome.refund).toMatchObject({ status: 'SUCCEEDED', amount: reservation.amount - 49000, attempts: 1, paymentId: impUid });
    expect(outcome.message).toMatch(/결제 금액/);
    expect(outcome.reservation.status).not.toBe('CONFIRMED');
    const cancels = await t.simulator.cancelRequests(impUid);
    expect(cancels).toHaveLength(1);
    expect(cancels[0]).toMatchObject({ amount: reservation.amount - 49000, checksum: reservation.amount - 49000 });

    // The append-only event log tells the story to an admin, and to nobody else.
    const admin = await t.tokenFor('admin', ['admin']);
    const log = await t.gql(PaymentEventsDocument, { reservationId: reservation.id }, { token: admin });
    expect(log.data?.paymentEvents.map((e) => `${e.kind}:${e.outcome}`)).toEqual(['DECISION:REFUND', 'CANCEL_ATTEMPT:SUCCEEDED']);
    const asBuyer = await t.gql(PaymentEventsDocument, { reservationId: reservation.id }, { token });
    expect(asBuyer.errors?.[0]?.extensions?.code).toBe('FORBIDDEN');
    await expect(t.orm.em.getConnection().execute(`update payment_event set outcome = 'x'`)).rejects.toThrow(/append-only/);
  });

  test('a payment for an order that is none of ours is neither confirmed nor cancelled: PAYMENT_NOT_OURS', async () => {
    const { token, reservation, impUid } = await holdAndPay({ merchantUid: 'shop2_order_990000' });
    const result = await confirm(token, reservation, impUid);
    expect(result.errors?.[0]?.extensions?.code).toBe('PAYMENT_NOT_OURS');
    expect(await t.simulator.cancelRequests(impUid)).toHaveLength(0);
    expect((await t.orm.em.fork().findOneOrFail(Reservation, reservation.id)).status).toBe(ReservationStatus.HELD);
    const audit: Array<{ outcome: string }> = await t.orm.em
      .getConnection()
      .execute(`select outcome from payment_event where gateway_payment_id = ? and kind = 'DECISION'`, [impUid]);
    expect(audit.map((e) => e.outcome)).toEqual(['NOT_OURS']);
  });

  test.each([['CURRENCY_MISMATCH', { currency: 'USD' }]])('%s is refunded with exactly one cancel', async (reason, change) => {
    const { token, reservation, impUid } = await holdAndPay(change);
    const result = await confirm(token, reservation, impUid, { 'accept-language': 'en-US,en;q=0.9' });
    expect(result.data?.confirmPayment).toMatchObject({ __typename: 'PaymentRefunded', reason, refund: { status: 'SUCCEEDED' } });
    expect((result.data?.confirmPayment as { message: string }).message).toMatch(/cancelled automatically/);
    expect(await t.simulator.cancelRequests(impUid)).toHaveLength(1);
  });

  test('late payment: hold expired but seat still free → confirmed', async () => {
    const { token, reservation, impUid } = await holdAndPay();
    await t.orm.em.fork().nativeUpdate(Reservation, { id: reservation.id }, { expiresAt: new Date(Date.now() - 60_000) });
    const result = await confirm(token, reservation, impUid);
    expect(result.data?.confirmPayment).toMatchObject({ __typename: 'PaymentConfirmed', reservation: { status: 'CONFIRMED' } });
  });

  test('late payment: hold expired and the seat taken → SEAT_UNAVAILABLE refund; the other buyer keeps the seat', async () => {
    const { event, token, reservation, impUid } = await holdAndPay();
    await t.orm.em.fork().nativeUpdate(Reservation, { id: reservation.id }, { expiresAt: new Date(Date.now() - 60_000 - t.config.holdPaymentGraceMs) });
    const other = await t.gql(HoldSeatDocument, { input: { seatId: event.seats[0].id } }, { token: await t.tokenFor('other') });
    expect(other.data?.holdSeat.status).toBe('HELD');
    const result = await confirm(token, reservation, impUid);
    expect(result.data?.confirmPayment).toMatchObject({ __typename: 'PaymentRefunded', reason: 'SEAT_UNAVAILABLE' });
    const em = t.orm.em.fork();
    expect((await em.findOneOrFail(Reservation, other.data!.holdSeat.id)).status).toBe(ReservationStatus.HELD);
  });

  test('reservation cancelled by the buyer before the payment arrived → RESERVATION_CANCELLED refund', async () => {
    const { token, reservation, impUid } = await holdAndPay();
    await t.gql(`mutation($id: ID!) { cancelReservation(input: { reservationId: $id }) { id } }`, { id: reservation.id }, { token });
    const result = await confirm(token, reservation, impUid);
    expect(result.data?.confirmPayment).toMatchObject({ __typename: 'PaymentRefunded', reason: 'RESERVATION_CANCELLED', reservation: { status: 'CANCELLED' } });
  });

  test('a payment that is not paid moves no money: PAYMENT_NOT_COMPLETED', async () => {
    const event = await createEventViaApi(t);
    const token = await t.tokenFor('buyer');
    const hold = await t.gql(HoldSeatDocument, { input: { seatId: event.seats[0].id } }, { token });
    const impUid = await t.simulator.pay({ merchantUid: hold.data!.holdSeat.merchantUid, amount: hold.data!.holdSeat.amount, status: 'ready' });
    const result = await confirm(token, hold.data!.holdSeat, impUid);
    expect(result.errors?.[0]?.extensions?.code).toBe('PAYMENT_NOT_COMPLETED');
    expect(await t.simulator.cancelRequests(impUid)).toHaveLength(0);
  });

  test('an unknown payment id is NOT_FOUND; another buyer cannot confirm my reservation', async () => {
    const { token, reservation, impUid } = await holdAndPay();
    const unknown = await confirm(token, reservation, 'imp_does_not_exist');
    expect(unknown.errors?.[0]?.extensions?.code).toBe('NOT_FOUND');
    const stranger = await confirm(await t.tokenFor('stranger'), reservation, impUid);
    expect(stranger.errors?.[0]?.extensions?.code).toBe('NOT_FOUND');
    expect((await t.orm.em.fork().findOneOrFail(Reservation, reservation.id)).status).toBe(ReservationStatus.HELD);
    // The owner can still confirm it afterwards.
    expect((await confirm(token, reservation, impUid)).data?.confirmPayment.__typename).toBe('PaymentConfirmed');
  });

  test('repeating confirmPayment returns the same outcome and never sends a second cancel', async () => {
    const { token, reservation, impUid } = await holdAndPay({ amountDelta: 1000 });
    const first = await confirm(token, reservation, impUid);
    const second = await confirm(token, reservation, impUid);
    expect(second.data).toEqual(first.data);
    expect(await t.simulator.cancelRequests(impUid)).toHaveLength(1);
  });

  test('20 parallel confirmPayment calls for one tampered payment: one refund, exactly one cancel', async () => {
    const { token, reservation, impUid } = await holdAndPay({ amountDelta: -1000 });
    const results = await Promise.all(Array.from({ length: 20 }, () => confirm(token, reservation, impUid)));
    for (const result of results) {
      expect(result.errors).toBeUndefined();
      expect(result.data?.confirmPayment).toMatchObject({ __typename: 'PaymentRefunded', reason: 'AMOUNT_MISMATCH' });
    }
    expect(await t.orm.em.fork().count(Refund, {})).toBe(1);
    await waitFor(async () => (await t.orm.em.fork().findOneOrFail(Refund, { gatewayPaymentId: impUid })).status === RefundStatus.SUCCEEDED);
    expect(await t.simulator.cancelRequests(impUid)).toHaveLength(1);
  });

  test('a payment that backs booking A cannot confirm booking B: PAYMENT_ALREADY_USED, A untouched', async () => {
    const a = await holdAndPay({ buyer: 'alice' });
    expect((await confirm(a.token, a.reservation, a.impUid)).data?.confirmPayment.__typename).toBe('PaymentConfirmed');
    const bHold = await t.gql(HoldSeatDocument, { input: { seatId: a.event.seats[1].id } }, { token: a.token });
    const reuse = await confirm(a.token, bHold.data!.holdSeat, a.impUid);
    expect(reuse.errors?.[0]?.extensions?.code).toBe('PAYMENT_ALREADY_USED');
    const em = t.orm.em.fork();
    expect((await em.findOneOrFail(Reservation, a.reservation.id)).status).toBe(ReservationStatus.CONFIRMED);
    expect((await em.findOneOrFail(Reservation, bHold.data!.holdSeat.id)).status).toBe(ReservationStatus.HELD);
    expect(await t.simulator.cancelRequests(a.impUid)).toHaveLength(0);
  });

  test('a second payment for an already confirmed booking is refunded as DUPLICATE_PAYMENT', async () => {
    const { token, reservation, impUid } = await holdAndPay();
    await confirm(token, reservation, impUid);
    const second = await t.simulator.pay({ merchantUid: reservation.merchantUid, amount: reservation.amount });
    const result = await confirm(token, reservation, second);
    expect(result.data?.confirmPayment).toMatchObject({ __typename: 'PaymentRefunded', reason: 'DUPLICATE_PAYMENT' });
    expect(await t.simulator.cancelRequests(impUid)).toHaveLength(0);
    expect(await t.simulator.cancelRequests(second)).toHaveLength(1);
  });

  test('the buyer cancels a confirmed booking: CANCELLED and refunded (BUYER_CANCELLED) through the same path', async () => {
    const { token, reservation, impUid } = await holdAndPay();
    await confirm(token, reservation, impUid);
    const cancelled = await t.gql(
      `mutation($id: ID!) { cancelReservation(input: { reservationId: $id }) { status refund { reason status amount } } }`,
      { id: reservation.id },
      { token },
    );
    expect(cancelled.data).toEqual({
      cancelReservation: { status: 'CANCELLED', refund: { reason: 'BUYER_CANCELLED', status: 'SUCCEEDED', amount: reservation.amount } },
    });
    expect(await t.simulator.cancelRequests(impUid)).toHaveLength(1);
  });
});

describe('when deciding fails after the money was taken', () => {
  test('the decision transaction fails (injected): the payment is still refunded as INTERNAL_ERROR and the client is told', async () => {
    const { token, reservation, impUid } = await holdAndPay();
    t.app.failpoints.enable('before-decision-commit', 'throw');
    let result;
    try {
      result = await confirm(token, reservation, impUid);
    } finally {
      t.app.failpoints.disable();
    }
    expect(result.data?.confirmPayment).toMatchObject({
      __typename: 'PaymentRefunded',
      reason: 'INTERNAL_ERROR',
      refund: { status: 'SUCCEEDED', amount: reservation.amount },
      reservation: { status: 'HELD' },
    });
    expect((result.data?.confirmPayment as { message: string }).message).toMatch(/서버 오류/);
    expect(await t.simulator.cancelRequests(impUid)).toHaveLength(1);
    const events = await t.orm.em.getConnection().execute(`select kind, outcome from payment_event where gateway_payment_id = ? order by id`, [impUid]);
    expect(events).toEqual(expect.arrayContaining([{ kind: 'DECISION_FAILED', outcome: 'REFUND' }]));
    // The decision stands on a second call: same outcome, no second cancel.
    const again = await confirm(token, reservation, impUid);
    expect(again.data?.confirmPayment).toMatchObject({ __typename: 'PaymentRefunded', reason: 'INTERNAL_ERROR' });
    expect(await t.simulator.cancelRequests(impUid)).toHaveLength(1);
  });
});

describe('refund retries', () => {
  test('cancel fails three times (503) then succeeds: SUCCEEDED after four attempts', async () => {
    const { token, reservation, impUid } = await holdAndPay({ amountDelta: 500 });
    await t.simulator.fault({ endpoint: 'cancel', kind: 'http503', times: 3 });
    const result = await confirm(token, reservation, impUid);
    expect(result.data?.confirmPayment).toMatchObject({ __typename: 'PaymentRefunded', refund: { status: 'PENDING', attempts: 1 } });
    const refund = await waitFor(async () => {
      const r = await t.orm.em.fork().findOneOrFail(Refund, { gatewayPaymentId: impUid });
      return r.status === RefundStatus.SUCCEEDED ? r : null;
    });
    expect(refund.attempts).toBe(4);
    const cancels = await t.simulator.cancelRequests(impUid);
    expect(cancels.filter((c) => c.applied)).toHaveLength(1);
  });

  test('a cancel applied at PortOne whose response is lost: SUCCEEDED with exactly one cancel in the ledger', async () => {
    const { token, reservation, impUid } = await holdAndPay({ amountDelta: 500 });
    await t.simulator.fault({ endpoint: 'cancel', kind: 'applyThenLose', times: 1 });
    await confirm(token, reservation, impUid);
    const refund = await waitFor(async () => {
      const r = await t.orm.em.fork().findOneOrFail(Refund, { gatewayPaymentId: impUid });
      return r.status === RefundStatus.SUCCEEDED ? r : null;
    });
    expect(refund.attempts).toBe(2);
    expect((await t.simulator.cancelRequests(impUid)).filter((c) => c.applied)).toHaveLength(1);
    expect((await t.simulator.payment(impUid)).cancel_history).toHaveLength(1);
  });

  test('PortOne down past the retry window: NEEDS_ATTENTION, visible to admins, then retryRefund succeeds', async () => {
    const { token, reservation, impUid } = await holdAndPay({ amountDelta: 500 });
    await t.simulator.fault({ endpoint: 'all', kind: 'http503', times: 1000 });
    const result = await confirm(token, reservation, impUid);
    expect(result.errors?.[0]?.extensions?.code).toBe('GATEWAY_UNAVAILABLE');
    // Reading failed, so nothing was decided yet; let PortOne answer reads again but keep cancels failing.
    await t.simulator.clearFaults();
    await t.simulator.fault({ endpoint: 'cancel', kind: 'http503', times: 1000 });
    const second = await confirm(token, reservation, impUid);
    expect(second.data?.confirmPayment).toMatchObject({ __typename: 'PaymentRefunded', refund: { status: 'PENDING' } });
    const stuck = await waitFor(async () => {
      const r = await t.orm.em.fork().findOneOrFail(Refund, { gatewayPaymentId: impUid });
      return r.status === RefundStatus.NEEDS_ATTENTION ? r : null;
    });
    expect(stuck.attempts).toBeGreaterThanOrEqual(3);
    expect(stuck.updatedAt.getTime()).toBeGreaterThanOrEqual(stuck.giveUpAt.getTime());
    const admin = await t.tokenFor('admin', ['admin']);
    const queue = await t.gql(RefundsDocument, { status: 'NEEDS_ATTENTION' }, { token: admin });
    expect(queue.data?.refunds.map((r) => r.id)).toEqual([stuck.id]);
    expect(queue.data?.refunds[0].lastError).toMatch(/UNAVAILABLE|OUTCOME_UNKNOWN/);
    const metrics = await (await fetch(t.url.replace(/\/graphql$/, '/metrics'))).text();
    expect(metrics).toContain('booking_refunds{status="NEEDS_ATTENTION",reason="AMOUNT_MISMATCH"} 1');
    const buyerTry = await t.gql(RetryRefundDocument, { id: stuck.id }, { token });
    expect(buyerTry.errors?.[0]?.extensions?.code).toBe('FORBIDDEN');

    await t.simulator.clearFaults();
    const retried = await t.gql(RetryRefundDocument, { id: stuck.id }, { token: admin });
    expect(retried.data?.retryRefund).toMatchObject({ status: 'SUCCEEDED', attempts: stuck.attempts + 1 });
    expect((await t.simulator.cancelRequests(impUid)).filter((c) => c.applied)).toHaveLength(1);
  });
});
