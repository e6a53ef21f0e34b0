import { CreatePartnerDocument, HoldSeatDocument, RefundsDocument } from '../../generated/graphql';
import { createEventViaApi } from '../../support/fixtures';
import { expectMoneyInvariants } from '../../support/money-invariants';
import { confirmAs, endHold, paymentRowsOf, refundRowsOf, reservationRow, type SimulatorControl, simulatorControl, sleep } from '../../support/money-holes';
import { startTestApp, type TestApp } from '../../support/test-app';
import { waitFor } from '../../support/wait';

/**
 * Issue 10, stories 3, 4, 5, 8, 10 and 13: what a decision and a refund rest on (the balance read back,
 * exact amounts, live payments of ours), how long a refund keeps trying, and what buyers see.
 * PortOne V1 does not document the status after a partial cancel: this simulator says `cancelled`.
 */
let t: TestApp;
let sim: SimulatorControl;
let allowPending = false;

beforeAll(async () => {
  t = await startTestApp({
    env: { REFUND_BACKOFF_BASE_MS: '100', REFUND_BACKOFF_MAX_MS: '200' },
    simulator: { partialCancelStatus: 'cancelled' },
  });
  sim = simulatorControl(t.simulator.url);
});
afterAll(async () => {
  await t.close();
});
beforeEach(async () => {
  await t.reset();
  allowPending = false;
  // The sweep's first run on an empty database: the stored cursor starts before anything the test does.
  await t.app.services.reconciliation.run();
});
afterEach(async () => {
  await expectMoneyInvariants(t, { allowPending });
});

async function holdOne(buyer: string) {
  const event = await createEventViaApi(t);
  const token = await t.tokenFor(buyer);
  const result = await t.gql(HoldSeatDocument, { input: { seatId: event.seats[0].id } }, { token });
  if (!result.data) throw new Error(`holdSeat failed: ${JSON.stringify(result.errors)}`);
  return { event, token, reservation: result.data.holdSeat };
}

async function refundSettledOrStuck(impUid: string) {
  return waitFor(async () => {
    const [refund] = await refundRowsOf(t.orm, impUid);
    return refund && refund.status !== 'PENDING' ? refund : null;
  }, 30_000);
}

async function eventsOf(impUid: string) {
  return (await t.orm.em
    .getConnection()
    .execute('select kind, outcome, reservation_id, message from payment_event where gateway_payment_id = ? order by id', [impUid])) as Array<{
    kind: string;
    outcome: string;
    reservation_id: string | null;
    message: string | null;
  }>;
}

describe('story 3: decisions and refund success rest on the balance, not the status string', () => {
  // Today: confirmPayment answers PAYMENT_NOT_COMPLETED (status `cancelled`) and the 40,000 still paid is never refunded.
  test('story 3: a payment with 40,000 of 50,000 still paid, reported `cancelled`, is paid: its balance is refunded', async () => {
    const { token, reservation } = await holdOne('partly-cancelled');
    const payment = await sim.createPayment({ merchantUid: reservation.merchantUid, amount: reservation.amount });
    await sim.cancelThroughApiAsSomeoneElse(payment.imp_uid, 10000);
    expect(await sim.payment(payment.imp_uid)).toMatchObject({ status: 'cancelled', cancel_amount: 10000 });

    const result = await confirmAs(t, token, reservation, payment.imp_uid);
    expect(result.errors).toBeUndefined();
    expect(result.data?.confirmPayment).toMatchObject({ __typename: 'PaymentRefunded', reason: 'AMOUNT_MISMATCH', refund: { status: 'SUCCEEDED' } });
    const ours = (await sim.cancelRequests(payment.imp_uid)).filter((c) => c.reason.startsWith('booking refund'));
    expect(ours.map((c) => ({ amount: c.amount, checksum: c.checksum, applied: c.applied }))).toEqual([{ amount: 40000, checksum: 40000, applied: true }]);
    expect(await sim.payment(payment.imp_uid)).toMatchObject({ status: 'cancelled', cancel_amount: 50000 });
    expect(await refundRowsOf(t.orm, payment.imp_uid)).toEqual([expect.objectContaining({ status: 'SUCCEEDED', amount: 40000 })]);
  });

  // Today: the pending refund is marked SUCCEEDED ("already cancelled") with 50,000 of 51,000 still paid; no cancel sent.
  test('story 3: a pending refund is not SUCCEEDED because someone else cancelled 1,000: it cancels the 50,000 left', async () => {
    const { token, reservation } = await holdOne('pending-refund');
    const payment = await sim.createPayment({ merchantUid: reservation.merchantUid, amount: reservation.amount + 1000 });
    // The first cancel meets PortOne unavailable, so the refund is PENDING when someone else cancels 1,000
    // (PortOne then says `cancelled`); the retry must read the 50,000 left and cancel it.
    await sim.fault({ endpoint: 'cancel', kind: 'http503', times: 1000 });
    const result = await confirmAs(t, token, reservation, payment.imp_uid);
    expect(result.data?.confirmPayment).toMatchObject({ __typename: 'PaymentRefunded', refund: { status: 'PENDING' } });
    await sim.consoleCancel(payment.imp_uid, 1000);
    expect(await sim.payment(payment.imp_uid)).toMatchObject({ status: 'cancelled', cancel_amount: 1000 });
    await sim.clearFaults();

    const refund = await refundSettledOrStuck(payment.imp_uid);
    expect(refund.status).toBe('SUCCEEDED');
    expect(await sim.payment(payment.imp_uid)).toMatchObject({ status: 'cancelled', cancel_amount: reservation.amount + 1000 });
    const ours = (await sim.cancelRequests(payment.imp_uid)).filter((c) => c.reason.startsWith('booking refund'));
    expect(ours.filter((c) => c.applied).map((c) => ({ amount: c.amount, checksum: c.checksum }))).toEqual([
      { amount: reservation.amount, checksum: reservation.amount },
    ]);
  });
});

describe('story 4: amounts are exact decimals', () => {
  // Today: the refund cancels 10 (integer amounts), not 10.4, and is marked SUCCEEDED with 0.40 still paid.
  test('story 4: a USD 10.40 payment is refunded 10.4 (CURRENCY_MISMATCH) and SUCCEEDED with nothing left paid', async () => {
    const { token, reservation } = await holdOne('dollar-buyer');
    const payment = await sim.createPayment({ merchantUid: reservation.merchantUid, amount: 10.4, currency: 'USD' });
    const result = await confirmAs(t, token, reservation, payment.imp_uid);
    expect(result.errors).toBeUndefined();
    expect(result.data?.confirmPayment).toMatchObject({ __typename: 'PaymentRefunded', reason: 'CURRENCY_MISMATCH', refund: { status: 'SUCCEEDED' } });
    const cancels = await sim.cancelRequests(payment.imp_uid);
    expect(cancels.map((c) => ({ amount: c.amount, checksum: c.checksum, applied: c.applied }))).toEqual([{ amount: 10.4, checksum: 10.4, applied: true }]);
    expect(await sim.payment(payment.imp_uid)).toMatchObject({ status: 'cancelled', amount: 10.4, cancel_amount: 10.4 });
    expect(await refundRowsOf(t.orm, payment.imp_uid)).toEqual([expect.objectContaining({ status: 'SUCCEEDED', amount: 10.4 })]);
    expect(await paymentRowsOf(t.orm, payment.imp_uid)).toEqual([expect.objectContaining({ decision: 'REFUND', amount: 10.4 })]);

    const admin = await t.tokenFor('admin', ['admin']);
    const exact = await t.gql<{ refunds: Array<{ paymentId: string; exactAmount: string; currency: string }> }, Record<string, never>>(
      '{ refunds { paymentId exactAmount currency } }',
      {},
      { token: admin },
    );
    expect(exact.errors).toBeUndefined();
    expect(exact.data?.refunds).toEqual([{ paymentId: payment.imp_uid, exactAmount: '10.4', currency: 'USD' }]);
  });
});

describe('story 5: a sandbox (test-channel) payment is not a payment', () => {
  // Today: the sandbox payment confirms the booking (PaymentConfirmed): anyone can book for free.
  test('story 5: a sandbox payment never confirms a booking and is never cancelled, by confirm, webhook or sweep', async () => {
    const { token, reservation } = await holdOne('free-rider');
    const payment = await sim.createPayment({ merchantUid: reservation.merchantUid, amount: reservation.amount, sandbox: true });

    const result = await confirmAs(t, token, reservation, payment.imp_uid);
    expect(result.errors?.[0]?.extensions?.code).toBe('PAYMENT_NOT_COMPLETED');
    await t.simulator.sendWebhook({ url: t.url.replace(/\/graphql$/, '/webhooks/portone'), impUid: payment.imp_uid, status: 'paid' });
    await waitFor(async () => {
      const jobs: unknown[] = await t.orm.em.getConnection().execute('select 1 from graphile_worker._private_jobs where key = ?', [`settle:${payment.imp_uid}`]);
      return jobs.length === 0;
    }, 10_000);
    await endHold(t.orm, reservation.id, 15 * 60_000);
    await t.app.services.reconciliation.run();

    expect(await paymentRowsOf(t.orm, payment.imp_uid)).toEqual([]);
    expect(['HELD', 'EXPIRED']).toContain((await reservationRow(t.orm, reservation.id)).status);
    expect(await sim.cancelRequests(payment.imp_uid)).toEqual([]);
    expect(await sim.payment(payment.imp_uid)).toMatchObject({ status: 'paid', cancel_amount: 0 });
  });
});

describe('story 8: a payment whose order id is none of ours is not ours', () => {
  // Today: it is cancelled in full as MERCHANT_UID_MISMATCH (PaymentRefunded, one cancel of 990,000).
  test('story 8: another shop\'s payment submitted to confirmPayment is PAYMENT_NOT_OURS, never cancelled, and logged for admins', async () => {
    const { token, reservation } = await holdOne('other-shop-customer');
    const payment = await sim.createPayment({ merchantUid: 'shop2_order_20261125_0042', amount: 990000 });

    const result = await confirmAs(t, token, reservation, payment.imp_uid);
    expect(result.data ?? null).toBeNull();
    expect(result.errors?.[0]?.extensions?.code).toBe('PAYMENT_NOT_OURS');
    expect(await sim.cancelRequests(payment.imp_uid)).toEqual([]);
    expect(await sim.payment(payment.imp_uid)).toMatchObject({ status: 'paid', cancel_amount: 0 });
    expect(await paymentRowsOf(t.orm, payment.imp_uid)).toEqual([]);
    expect(await refundRowsOf(t.orm, payment.imp_uid)).toEqual([]);
    expect((await reservationRow(t.orm, reservation.id)).status).toBe('HELD');
    expect(await eventsOf(payment.imp_uid)).toEqual(expect.arrayContaining([expect.objectContaining({ kind: 'DECISION', outcome: 'NOT_OURS', reservation_id: reservation.id })]));

    // Nor does a sweep or a notification ever touch it.
    await t.simulator.sendWebhook({ url: t.url.replace(/\/graphql$/, '/webhooks/portone'), impUid: payment.imp_uid, status: 'paid' });
    await endHold(t.orm, reservation.id, 15 * 60_000);
    await t.app.services.reconciliation.run();
    await sleep(500);
    expect(await sim.cancelRequests(payment.imp_uid)).toEqual([]);
  });
});

describe('story 10: refunds keep trying for the retry window, heal, and reach virtual accounts', () => {
  // Today: after 8 attempts (about 2 s) the refund is NEEDS_ATTENTION although PortOne comes back after 20 failures.
  test('story 10: a PortOne outage longer than 8 attempts does not give up: the refund SUCCEEDS when PortOne is back', async () => {
    const { token, reservation } = await holdOne('outage');
    const payment = await sim.createPayment({ merchantUid: reservation.merchantUid, amount: reservation.amount + 500 });
    await sim.fault({ endpoint: 'cancel', kind: 'http503', times: 20 });
    await confirmAs(t, token, reservation, payment.imp_uid);
    const refund = await refundSettledOrStuck(payment.imp_uid);
    expect(refund.status).toBe('SUCCEEDED');
    expect(refund.attempts).toBeGreaterThan(20);
    expect((await eventsOf(payment.imp_uid)).filter((e) => e.outcome === 'NEEDS_ATTENTION')).toEqual([]);
    expect((await sim.cancelRequests(payment.imp_uid)).filter((c) => c.applied).map((c) => c.amount)).toEqual([reservation.amount + 500]);
  });

  // Today: the refund stays NEEDS_ATTENTION after the sweep although PortOne shows the payment fully cancelled.
  test('story 10: a NEEDS_ATTENTION refund heals to SUCCEEDED when PortOne later shows the payment cancelled', async () => {
    const { token, reservation } = await holdOne('healed');
    const payment = await sim.createPayment({ merchantUid: reservation.merchantUid, amount: reservation.amount + 500 });
    await sim.fault({ endpoint: 'cancel', kind: 'businessError', code: -1, message: '결제취소에 실패하였습니다.(PG사 오류)', times: 1000 });
    await confirmAs(t, token, reservation, payment.imp_uid);
    expect((await refundSettledOrStuck(payment.imp_uid)).status).toBe('NEEDS_ATTENTION');
    await sim.clearFaults();
    // An operator cancels it in the merchant console instead.
    await sim.consoleCancel(payment.imp_uid);
    await t.app.services.reconciliation.run();
    expect(await refundRowsOf(t.orm, payment.imp_uid)).toEqual([expect.objectContaining({ status: 'SUCCEEDED', amount: reservation.amount + 500 })]);
    expect((await sim.cancelRequests(payment.imp_uid)).filter((c) => c.applied)).toEqual([]);
  });

  // Today: `provideRefundAccount` does not exist (GraphQL validation error); the refund can only end NEEDS_ATTENTION.
  test('story 10: a paid virtual account is refunded to the account the buyer provides', async () => {
    const { token, reservation } = await holdOne('vbank-buyer');
    const payment = await sim.createPayment({ merchantUid: reservation.merchantUid, amount: reservation.amount, payMethod: 'vbank' });
    expect((await confirmAs(t, token, reservation, payment.imp_uid)).data?.confirmPayment.__typename).toBe('PaymentConfirmed');
    await t.gql(`mutation($id: ID!) { cancelReservation(input: { reservationId: $id }) { id status } }`, { id: reservation.id }, { token });
    const stuck = await refundSettledOrStuck(payment.imp_uid);
    expect(stuck).toMatchObject({ status: 'NEEDS_ATTENTION', reason: 'BUYER_CANCELLED' });
    const admin = await t.tokenFor('admin', ['admin']);
    const queue = await t.gql(RefundsDocument, { status: 'NEEDS_ATTENTION' }, { token: admin });
    expect(queue.data?.refunds[0]?.lastError).toMatch(/account|계좌/i);

    const provided = await t.gql(
      `mutation($input: ProvideRefundAccountInput!) { provideRefundAccount(input: $input) { id status } }`,
      { input: { refundId: stuck.id, bank: '004', holder: '홍길동', account: '12345678901234' } },
      { token },
    );
    expect(provided.errors).toBeUndefined();
    await waitFor(async () => (await refundRowsOf(t.orm, payment.imp_uid))[0].status === 'SUCCEEDED', 10_000);
    const applied = (await sim.cancelRequests(payment.imp_uid)).filter((c) => c.applied);
    expect(applied.map((c) => ({ amount: c.amount, checksum: c.checksum, holder: c.body.refund_holder, bank: c.body.refund_bank, account: c.body.refund_account }))).toEqual([
      { amount: reservation.amount, checksum: reservation.amount, holder: '홍길동', bank: '004', account: '12345678901234' },
    ]);
    expect(await sim.payment(payment.imp_uid)).toMatchObject({ cancel_amount: reservation.amount });
  });

  // Today: the unpaid virtual account stays `ready` after its hold ended; the buyer can still deposit into it.
  test('story 10: an unpaid virtual account of a hold that ended is revoked by reconciliation', async () => {
    const { reservation } = await holdOne('abandoned-vbank');
    const vbank = await sim.createPayment({ merchantUid: reservation.merchantUid, amount: reservation.amount, status: 'ready', payMethod: 'vbank' });
    await endHold(t.orm, reservation.id, 15 * 60_000);
    await t.app.services.reconciliation.run();
    expect((await sim.payment(vbank.imp_uid)).status).not.toBe('ready');
    expect(await sim.cancelRequests(vbank.imp_uid)).toEqual([]);
  });
});

describe('story 13: 0-won records, what buyers see, and which payment a booking shows', () => {
  // Today: confirmPayment fails with INTERNAL_SERVER_ERROR (the refund row's amount > 0 check) on every try.
  test('story 13: a 0-won paid record is AMOUNT_MISMATCH with nothing to give back, and no reconciliation error', async () => {
    const { token, reservation } = await holdOne('zero-won');
    const payment = await sim.createPayment({ merchantUid: reservation.merchantUid, amount: 0 });
    const result = await confirmAs(t, token, reservation, payment.imp_uid);
    expect(result.errors).toBeUndefined();
    expect(result.data?.confirmPayment).toMatchObject({ __typename: 'PaymentRefunded', reason: 'AMOUNT_MISMATCH', refund: { status: 'SUCCEEDED', amount: 0 } });
    expect(await sim.cancelRequests(payment.imp_uid)).toEqual([]);
    await endHold(t.orm, reservation.id, 15 * 60_000);
    const report = (await t.app.services.reconciliation.run()) as unknown as { errors?: number };
    expect(report.errors ?? 0).toBe(0);
  });

  // Today: the buyer reads PortOne's raw error ("UNAVAILABLE: ...") in Refund.lastError.
  test('story 13: Refund.lastError is null for the buyer and shown to admins', async () => {
    allowPending = true;
    const { token, reservation } = await holdOne('curious-buyer');
    const payment = await sim.createPayment({ merchantUid: reservation.merchantUid, amount: reservation.amount + 500 });
    await sim.fault({ endpoint: 'cancel', kind: 'http503', times: 1000 });
    await confirmAs(t, token, reservation, payment.imp_uid);
    const admin = await t.tokenFor('admin', ['admin']);
    const asAdmin = await t.gql(RefundsDocument, {}, { token: admin });
    expect(asAdmin.data?.refunds[0]?.lastError).toEqual(expect.any(String));
    const query = `query($id: ID!) { reservation(id: $id) { refund { id lastError } } }`;
    const asBuyer = await t.gql<{ reservation: { refund: { id: string; lastError: string | null } | null } }, { id: string }>(query, { id: reservation.id }, { token });
    expect(asBuyer.errors).toBeUndefined();
    expect(asBuyer.data?.reservation.refund).toEqual({ id: asAdmin.data?.refunds[0]?.id, lastError: null });
    await sim.clearFaults();
    await refundSettledOrStuck(payment.imp_uid);
  });

  // Today: the CONFIRMED booking shows the duplicate payment's DUPLICATE_PAYMENT refund (buyer and partner).
  test('story 13: a CONFIRMED booking shows the payment that backs it, not a duplicate\'s refund', async () => {
    const { event, token, reservation } = await holdOne('double-payer');
    const first = await sim.createPayment({ merchantUid: reservation.merchantUid, amount: reservation.amount });
    // The duplicate is of another amount, so the money shown tells which payment it belongs to.
    const second = await sim.createPayment({ merchantUid: reservation.merchantUid, amount: reservation.amount + 700 });
    expect((await confirmAs(t, token, reservation, first.imp_uid)).data?.confirmPayment.__typename).toBe('PaymentConfirmed');
    expect((await confirmAs(t, token, reservation, second.imp_uid)).data?.confirmPayment).toMatchObject({
      __typename: 'PaymentRefunded',
      refund: { status: 'SUCCEEDED', amount: reservation.amount + 700 },
    });

    const mine = await t.gql(`query($id: ID!) { reservation(id: $id) { status refund { id reason } } }`, { id: reservation.id }, { token });
    expect(mine.data).toEqual({ reservation: { status: 'CONFIRMED', refund: null } });

    const admin = await t.tokenFor('admin', ['admin']);
    const partner = await t.gql(CreatePartnerDocument, { input: { name: 'Venue', eventIds: [event.id] } }, { token: admin });
    const apiKey = partner.data!.createPartner.apiKey;
    const status = await t.gql(
      `query($m: String!) { bookingStatus(merchantUid: $m) { status paidAmount refund { id reason } } }`,
      { m: reservation.merchantUid },
      { headers: { 'x-api-key': apiKey } },
    );
    expect(status.data).toEqual({ bookingStatus: { status: 'CONFIRMED', paidAmount: reservation.amount, refund: null } });
  });
});
