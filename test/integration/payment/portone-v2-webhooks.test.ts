import fetch from 'node-fetch';
import pino from 'pino';
import { Webhook } from 'standardwebhooks';
import { Reservation, ReservationStatus } from '../../../src/booking/reservation.entity';
import { Failpoints } from '../../../src/failpoints';
import { newWebhookSecret } from '../../../src/gateway/portone/sim/v2/portone-v2-simulator';
import type { V2PaymentStatus } from '../../../src/gateway/portone/sim/v2/portone-v2-simulator-state';
import { PortOneV2Client } from '../../../src/gateway/portone/v2/portone-v2.client';
import { PaymentSettlementService } from '../../../src/payment/settlement/payment-settlement.service';
import { Refund, RefundStatus } from '../../../src/payment/refunds/refund.entity';
import { ConfirmPaymentDocument, HoldSeatDocument } from '../../generated/graphql';
import { createEventViaApi } from '../../support/fixtures';
import { expectMoneyInvariantsV2 } from '../../support/money-invariants-portone-v2';
import { SIM_V2_OTHER_STORE_ID } from '../../support/simulator-harness-v2';
import { useTestApp } from '../../support/test-app';
import { waitFor } from '../../support/wait';

/**
 * PortOne V2 only: signed webhooks at POST /webhooks/portone (signed here by the `standardwebhooks`
 * library with one secret at a time, not by our simulator), virtual accounts, payments not completed, other
 * stores' payments and the Idempotency-Key across refund retries. Real PostgreSQL, the V2 simulator over HTTP.
 */
const SECRET_OLD = newWebhookSecret();
const SECRET_NEW = newWebhookSecret();
const t = useTestApp(
  { portoneVersion: 'v2', v2WebhookSecrets: [SECRET_OLD, SECRET_NEW], env: { REFUND_BACKOFF_BASE_MS: '100', REFUND_BACKOFF_MAX_MS: '300' } },
  { afterEachTest: (app) => expectMoneyInvariantsV2(app, { allowPending: true }) },
);

async function holdAndPay(options: { status?: V2PaymentStatus; method?: 'virtualAccount'; storeId?: string; amountDelta?: number } = {}) {
  const event = await createEventViaApi(t);
  const token = await t.tokenFor('buyer');
  const reservation = (await t.gql(HoldSeatDocument, { input: { seatId: event.seats[0].id } }, { token })).data!.holdSeat;
  const paymentId = await t.v2!.pay({
    merchantUid: reservation.merchantUid,
    amount: reservation.amount + (options.amountDelta ?? 0),
    status: options.status,
    method: options.method,
    storeId: options.storeId,
  });
  return { token, reservation, paymentId };
}

function signedDelivery(secret: string, paymentId: string, options: { id?: string; at?: Date; type?: string; extra?: Record<string, unknown> } = {}) {
  const id = options.id ?? `msg_${Math.random().toString(36).slice(2)}${Date.now()}`;
  const at = options.at ?? new Date();
  const body = JSON.stringify({
    type: options.type ?? 'Transaction.Paid',
    timestamp: at.toISOString(),
    data: { paymentId, storeId: t.v2!.storeId, transactionId: 'tx-1' },
    ...options.extra,
  });
  const headers: Record<string, string> = {
    'content-type': 'application/json',
    'webhook-id': id,
    'webhook-timestamp': String(Math.floor(at.getTime() / 1000)),
    'webhook-signature': new Webhook(secret).sign(id, at, body),
  };
  return { id, body, headers };
}

async function post(body: string, headers: Record<string, string>) {
  const response = await fetch(t.webhookUrl, { method: 'POST', headers, body });
  return { status: response.status, body: (await response.json()) as { status?: string } };
}

const reservationStatus = async (id: string) => (await t.orm.em.fork().findOneOrFail(Reservation, id)).status;
const deliveries = async () => Number(((await t.orm.em.getConnection().execute('select count(*) as n from webhook_delivery')) as Array<{ n: string }>)[0].n);
const readsOf = async (paymentId: string) => (await t.v2!.control.ledger()).reads.filter((r) => r.paymentId === paymentId).length;
const settleJobs = async () =>
  Number(((await t.orm.em.getConnection().execute(`select count(*) as n from graphile_worker._private_jobs`)) as Array<{ n: string }>)[0].n);

describe('signed webhooks', () => {
  test.each([
    ['the old secret', SECRET_OLD],
    ['the new secret (rotation)', SECRET_NEW],
  ])('a Transaction.Paid signed with %s is accepted and settles the payment', async (_name, secret) => {
    const { reservation, paymentId } = await holdAndPay();
    const delivery = signedDelivery(secret, paymentId);
    expect(await post(delivery.body, delivery.headers)).toEqual({ status: 200, body: { status: 'queued' } });
    await waitFor(async () => (await reservationStatus(reservation.id)) === ReservationStatus.CONFIRMED);
  });

  test.each([
    [
      'a corrupted signature',
      (d: ReturnType<typeof signedDelivery>) => ({
        ...d,
        headers: { ...d.headers, 'webhook-signature': d.headers['webhook-signature'].replace(/^v1,(.)/, (_m, c: string) => `v1,${c === 'A' ? 'B' : 'A'}`) },
      }),
    ],
    ['no signature headers', (d: ReturnType<typeof signedDelivery>) => ({ ...d, headers: { 'content-type': 'application/json' } })],
    ['no webhook-id header', (d: ReturnType<typeof signedDelivery>) => ({ ...d, headers: { ...d.headers, 'webhook-id': '' } })],
    ['a timestamp 10 minutes old', (d: ReturnType<typeof signedDelivery>) => d],
    ['the body parsed and serialised again', (d: ReturnType<typeof signedDelivery>) => ({ ...d, body: JSON.stringify(JSON.parse(d.body), null, 1) })],
    ['a signature by a secret that is not ours', (d: ReturnType<typeof signedDelivery>) => d],
  ])('%s: 401 and nothing changes', async (name, tamper) => {
    const { reservation, paymentId } = await holdAndPay();
    const secret = name.includes('not ours') ? newWebhookSecret() : SECRET_OLD;
    const at = name.includes('10 minutes') ? new Date(Date.now() - 10 * 60_000) : undefined;
    const delivery = tamper(signedDelivery(secret, paymentId, { at }));
    const headers = Object.fromEntries(Object.entries(delivery.headers).filter(([, v]) => v !== ''));
    expect((await post(delivery.body, headers)).status).toBe(401);
    expect(await deliveries()).toBe(0);
    expect(await settleJobs()).toBe(0);
    expect(await readsOf(paymentId)).toBe(0);
    expect(await reservationStatus(reservation.id)).toBe(ReservationStatus.HELD);
    // The genuine delivery still settles it: nothing about the refused one was remembered.
    const genuine = signedDelivery(SECRET_OLD, paymentId, { id: (delivery.headers as Record<string, string>)['webhook-id'] || undefined });
    expect((await post(genuine.body, genuine.headers)).status).toBe(200);
    await waitFor(async () => (await reservationStatus(reservation.id)) === ReservationStatus.CONFIRMED);
  });

  test('a webhook-id delivered twice at once and once more later is processed once: one read of the payment', async () => {
    const { reservation, paymentId } = await holdAndPay();
    await t.v2!.control.sendWebhook({ type: 'Transaction.Paid', paymentId, duplicate: true, wait: true });
    await waitFor(async () => (await reservationStatus(reservation.id)) === ReservationStatus.CONFIRMED);
    const [message] = (await t.v2!.control.ledger()).webhooks;
    const statuses = (await t.v2!.control.ledger()).webhooks.map((w) => w.httpStatus);
    expect(statuses).toEqual([200, 200]);
    // PortOne's retry of the same message after we handled it (its signature is still fresh).
    expect(await post(message.body, message.headers)).toEqual({ status: 200, body: { status: 'duplicate' } });
    await new Promise((resolve) => setTimeout(resolve, 1500));
    expect(await readsOf(paymentId)).toBe(1);
    expect(await deliveries()).toBe(1);
  });

  test('unknown types and unknown fields are acknowledged; only Transaction.* settles', async () => {
    const { reservation, paymentId } = await holdAndPay();
    const unknown = signedDelivery(SECRET_OLD, paymentId, { type: 'BillingKey.Issued' });
    expect(await post(unknown.body, unknown.headers)).toEqual({ status: 200, body: { status: 'ignored' } });
    expect(await settleJobs()).toBe(0);
    expect(await readsOf(paymentId)).toBe(0);
    const withExtras = signedDelivery(SECRET_NEW, paymentId, { extra: { somethingNew: { nested: [1, 2] } } });
    expect(await post(withExtras.body, withExtras.headers)).toEqual({ status: 200, body: { status: 'queued' } });
    await waitFor(async () => (await reservationStatus(reservation.id)) === ReservationStatus.CONFIRMED);
  });
});

describe('virtual account', () => {
  test('issued is PAYMENT_NOT_COMPLETED; the deposit sends Transaction.Paid and the booking is CONFIRMED', async () => {
    const { token, reservation, paymentId } = await holdAndPay({ status: 'VIRTUAL_ACCOUNT_ISSUED', method: 'virtualAccount' });
    const result = await t.gql(ConfirmPaymentDocument, { input: { reservationId: reservation.id, paymentId, merchantUid: reservation.merchantUid } }, { token });
    expect(result.errors?.[0]?.extensions?.code).toBe('PAYMENT_NOT_COMPLETED');
    expect(await reservationStatus(reservation.id)).toBe(ReservationStatus.HELD);
    await t.v2!.deposit(paymentId);
    await waitFor(async () => (await reservationStatus(reservation.id)) === ReservationStatus.CONFIRMED);
    expect((await t.v2!.webhookDeliveries(paymentId)).map((w) => [w.type, w.status])).toEqual([['Transaction.Paid', 200]]);
    expect(await t.v2!.cancelRequests(paymentId)).toHaveLength(0);
  });
});

describe('payments not completed', () => {
  test.each<V2PaymentStatus>(['READY', 'PAY_PENDING', 'FAILED'])(
    '%s: confirmPayment answers PAYMENT_NOT_COMPLETED and the sweep leaves it: the hold stays, nothing is cancelled',
    async (status) => {
      const { token, reservation, paymentId } = await holdAndPay({ status });
      const result = await t.gql(ConfirmPaymentDocument, { input: { reservationId: reservation.id, paymentId, merchantUid: reservation.merchantUid } }, { token });
      expect(result.errors?.[0]?.extensions?.code).toBe('PAYMENT_NOT_COMPLETED');
      await t.app.services.reconciliation.run();
      expect(await reservationStatus(reservation.id)).toBe(ReservationStatus.HELD);
      expect(await t.v2!.cancelRequests(paymentId)).toHaveLength(0);
      expect(await t.orm.em.fork().count(Refund, {})).toBe(0);
      expect((await t.v2!.payment(paymentId)).status).toBe(status);
    },
  );
});

describe("another store's payment", () => {
  test('the reconciliation sweep neither confirms nor cancels payments of another store', async () => {
    // The same order ids as two holds of ours: one paid exactly (we would confirm it), one short (we would refund it).
    const exact = await holdAndPay({ storeId: SIM_V2_OTHER_STORE_ID });
    const short = await holdAndPay({ storeId: SIM_V2_OTHER_STORE_ID, amountDelta: -1000 });
    // A payment of ours in the same window: the sweep did read it.
    const ours = await holdAndPay();
    await t.app.services.reconciliation.run();
    expect(await reservationStatus(ours.reservation.id)).toBe(ReservationStatus.CONFIRMED);
    for (const { reservation, paymentId } of [exact, short]) {
      expect(await reservationStatus(reservation.id)).toBe(ReservationStatus.HELD);
      expect((await t.v2!.payment(paymentId, SIM_V2_OTHER_STORE_ID)).amount.cancelled).toBe(0);
    }
    expect((await t.v2!.control.ledger()).cancelRequests).toHaveLength(0);
    expect(await t.orm.em.fork().count(Refund, {})).toBe(0);
    expect(((await t.orm.em.getConnection().execute('select gateway_payment_id from payment')) as Array<{ gateway_payment_id: string }>).map((p) => p.gateway_payment_id)).toEqual([ours.paymentId]);
  });

  test('is never confirmed and never cancelled: not found under our store, its webhook ignored, NOT_OURS if read', async () => {
    const { token, reservation, paymentId } = await holdAndPay({ storeId: SIM_V2_OTHER_STORE_ID, amountDelta: -1000 });
    const result = await t.gql(ConfirmPaymentDocument, { input: { reservationId: reservation.id, paymentId, merchantUid: reservation.merchantUid } }, { token });
    expect(result.errors?.[0]?.extensions?.code).toBe('NOT_FOUND');

    const delivery = signedDelivery(SECRET_OLD, paymentId);
    const otherStoreBody = delivery.body.replace(t.v2!.storeId, SIM_V2_OTHER_STORE_ID);
    const resigned = { ...delivery.headers, 'webhook-signature': new Webhook(SECRET_OLD).sign(delivery.id, new Date(Number(delivery.headers['webhook-timestamp']) * 1000), otherStoreBody) };
    expect(await post(otherStoreBody, resigned)).toEqual({ status: 200, body: { status: 'ignored' } });

    // Even when a payment of another store is read (a secret that reaches several stores), it is not ours.
    const otherStoreClient = new PortOneV2Client({ baseUrl: t.v2!.url, apiSecret: t.v2!.apiSecret, storeId: SIM_V2_OTHER_STORE_ID, connectTimeoutMs: 2000, responseTimeoutMs: 5000 });
    const settlement = new PaymentSettlementService(
      otherStoreClient,
      t.app.services.refunds,
      t.app.services.paymentEvents,
      { now: () => new Date() },
      new Failpoints(null),
      pino({ level: 'silent' }),
      { allowSandbox: false, holdGraceMs: t.config.holdPaymentGraceMs, storeId: t.v2!.storeId },
    );
    await expect(settlement.settle(t.orm.em.fork(), paymentId, { source: 'WEBHOOK' })).resolves.toMatchObject({ kind: 'NOT_OURS' });
    expect(await reservationStatus(reservation.id)).toBe(ReservationStatus.HELD);
    expect((await t.v2!.control.ledger()).cancelRequests).toHaveLength(0);
    expect(await t.orm.em.fork().count(Refund, {})).toBe(0);
  });
});

describe('refund retries', () => {
  test('a cancel PortOne only accepted (REQUESTED) is retried with the same Idempotency-Key and applied once', async () => {
    await t.v2!.control.setCancelMode('requested');
    const { token, reservation, paymentId } = await holdAndPay({ amountDelta: -1000 });
    const result = await t.gql(ConfirmPaymentDocument, { input: { reservationId: reservation.id, paymentId, merchantUid: reservation.merchantUid } }, { token });
    expect(result.data?.confirmPayment).toMatchObject({ __typename: 'PaymentRefunded', refund: { status: 'PENDING' } });
    await waitFor(async () => ((await t.v2!.cancelRequests(paymentId)).length >= 3 ? true : null));
    await t.v2!.control.completeCancellations(paymentId);
    const refund = await waitFor(async () => {
      const r = await t.orm.em.fork().findOneOrFail(Refund, { gatewayPaymentId: paymentId });
      return r.status === RefundStatus.SUCCEEDED ? r : null;
    });
    const cancels = await t.v2!.cancelRequests(paymentId);
    expect(new Set(cancels.map((c) => c.idempotencyKey)).size).toBe(1);
    expect(cancels[0].idempotencyKey).toMatch(new RegExp(`^refund:${refund.id}:`));
    const payment = await t.v2!.payment(paymentId);
    expect(payment.amount.cancelled).toBe(payment.amount.total);
    expect((payment.cancellations as unknown[]).length).toBe(1);
  });
});
