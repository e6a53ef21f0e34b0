import fetch from 'node-fetch';
import { Reservation, ReservationStatus } from '../../src/booking/reservation.entity';
import { Payment } from '../../src/payment/settlement/payment.entity';
import { Refund, RefundStatus } from '../../src/payment/refunds/refund.entity';
import { ConfirmPaymentDocument, HoldSeatDocument } from '../generated/graphql';
import { createEventViaApi } from '../support/fixtures';
import { expectMoneyInvariants } from '../support/money-invariants';
import { useTestApp } from '../support/test-app';
import { waitFor } from '../support/wait';

const t = useTestApp({ env: { REFUND_BACKOFF_BASE_MS: '100', REFUND_BACKOFF_MAX_MS: '400' } }, { afterEachTest: expectMoneyInvariants });

async function hold(buyer = 'buyer') {
  const event = await createEventViaApi(t);
  const token = await t.tokenFor(buyer);
  const result = await t.gql(HoldSeatDocument, { input: { seatId: event.seats[0].id } }, { token });
  return { token, reservation: result.data!.holdSeat };
}

const reservationStatus = async (id: string) => (await t.orm.em.fork().findOneOrFail(Reservation, id)).status;

describe('PortOne webhooks: the browser closed and nobody calls confirmPayment', () => {
  test('paid → the booking is CONFIRMED from the webhook alone (JSON body)', async () => {
    const { reservation } = await hold();
    const impUid = await t.simulator.pay({ merchantUid: reservation.merchantUid, amount: reservation.amount, webhookUrl: t.webhookUrl });
    await waitFor(async () => (await reservationStatus(reservation.id)) === ReservationStatus.CONFIRMED);
    expect(await t.simulator.cancelRequests(impUid)).toHaveLength(0);
    const deliveries = await t.simulator.webhookDeliveries(impUid);
    expect(deliveries.some((d) => d.status === 200)).toBe(true);
  });

  test('a tampered amount is refunded from the webhook alone, with exactly one cancel (form body)', async () => {
    const { reservation } = await hold();
    const impUid = await t.simulator.pay({
      merchantUid: reservation.merchantUid,
      amount: reservation.amount - 10000,
      webhookUrl: t.webhookUrl,
      webhookContentType: 'form',
    });
    const refund = await waitFor(async () => {
      const r = await t.orm.em.fork().findOne(Refund, { gatewayPaymentId: impUid });
      return r?.status === RefundStatus.SUCCEEDED ? r : null;
    });
    expect(refund.reason).toBe('AMOUNT_MISMATCH');
    expect(await t.simulator.cancelRequests(impUid)).toHaveLength(1);
    expect(await reservationStatus(reservation.id)).not.toBe(ReservationStatus.CONFIRMED);
  });

  test('duplicate and out-of-order notifications, racing confirmPayment: one decision, at most one cancel', async () => {
    const { token, reservation } = await hold();
    const impUid = await t.simulator.pay({ merchantUid: reservation.merchantUid, amount: reservation.amount + 1 });
    const notify = (status: string) => t.simulator.sendWebhook({ url: t.webhookUrl, impUid, merchantUid: reservation.merchantUid, status });
    await Promise.all([
      notify('paid'),
      notify('paid'),
      notify('ready'),
      t.gql(ConfirmPaymentDocument, { input: { reservationId: reservation.id, paymentId: impUid, merchantUid: reservation.merchantUid } }, { token }),
      notify('paid'),
    ]);
    await waitFor(async () => (await t.orm.em.fork().findOne(Refund, { gatewayPaymentId: impUid }))?.status === RefundStatus.SUCCEEDED);
    // Let any queued duplicate settle jobs run, then look again.
    await new Promise((resolve) => setTimeout(resolve, 500));
    expect(await t.orm.em.fork().count(Payment, { gatewayPaymentId: impUid })).toBe(1);
    expect(await t.simulator.cancelRequests(impUid)).toHaveLength(1);
  });

  test('a forged webhook (unknown imp_uid, or a ready payment claimed as paid) changes no state', async () => {
    const { reservation } = await hold();
    const readyImpUid = await t.simulator.pay({ merchantUid: reservation.merchantUid, amount: reservation.amount, status: 'ready' });
    for (const body of [
      { imp_uid: 'imp_forged_123', merchant_uid: reservation.merchantUid, status: 'paid' },
      { imp_uid: readyImpUid, merchant_uid: reservation.merchantUid, status: 'paid' },
    ]) {
      const response = await fetch(t.webhookUrl, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) });
      expect(response.status).toBe(200);
    }
    // Wait until both queued settle jobs have run: the event log records PortOne's NOT_FOUND for the
    // forged id and the NOT_PAID decision for the ready payment.
    await waitFor(async () => {
      const rows: Array<{ kind: string; outcome: string }> = await t.orm.em
        .getConnection()
        .execute(`select kind, outcome from payment_event where gateway_payment_id in (?, ?) and kind <> 'WEBHOOK' order by id`, [
          'imp_forged_123',
          readyImpUid,
        ]);
      return rows.length >= 2 ? rows : null;
    }).then((rows) => expect(rows.map((r) => `${r.kind}:${r.outcome}`).sort()).toEqual(['DECISION:NOT_PAID', 'GATEWAY_READ:NOT_FOUND']));
    await new Promise((resolve) => setTimeout(resolve, 200));
    expect(await reservationStatus(reservation.id)).toBe(ReservationStatus.HELD);
    expect(await t.orm.em.fork().count(Payment, {})).toBe(0);
    expect(await t.orm.em.fork().count(Refund, {})).toBe(0);
    expect(await t.simulator.cancelRequests(readyImpUid)).toHaveLength(0);
  });

  test('when the job cannot be queued the webhook answers 5xx, so PortOne sends it again', async () => {
    const connection = t.orm.em.getConnection();
    await connection.execute('alter schema graphile_worker rename to graphile_worker_unavailable');
    let status: number;
    try {
      const response = await fetch(t.webhookUrl, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ imp_uid: 'imp_123', merchant_uid: 'bk_x', status: 'paid' }),
      });
      status = response.status;
    } finally {
      await connection.execute('alter schema graphile_worker_unavailable rename to graphile_worker');
    }
    expect(status).toBe(503);
  });

  test('a webhook without imp_uid is a 400; an unparseable body is a 4xx', async () => {
    const missing = await fetch(t.webhookUrl, { method: 'POST', headers: { 'content-type': 'application/json' }, body: '{"status":"paid"}' });
    expect(missing.status).toBe(400);
    const broken = await fetch(t.webhookUrl, { method: 'POST', headers: { 'content-type': 'application/json' }, body: '{"imp_uid":' });
    expect(broken.status).toBe(400);
  });
});

describe('reconciliation', () => {
  test('a payment nobody reported (server down, webhook lost) is found and settled; stale holds expire', async () => {
    const paid = await hold('paid-buyer');
    const abandoned = await hold('walked-away');
    const impUid = await t.simulator.pay({ merchantUid: paid.reservation.merchantUid, amount: paid.reservation.amount });
    // Both holds ended a while ago; nobody called confirmPayment and no webhook arrived.
    await t.orm.em.fork().nativeUpdate(Reservation, { id: { $in: [paid.reservation.id, abandoned.reservation.id] } }, { expiresAt: new Date(Date.now() - 3600_000) });

    const report = await t.app.services.reconciliation.run();
    expect(report).toMatchObject({ settled: 1, errors: 0 });
    expect(await reservationStatus(paid.reservation.id)).toBe(ReservationStatus.CONFIRMED);
    expect(await reservationStatus(abandoned.reservation.id)).toBe(ReservationStatus.EXPIRED);
    expect(await t.simulator.cancelRequests(impUid)).toHaveLength(0);

    const again = await t.app.services.reconciliation.run();
    expect(again.settled).toBe(0);
  });
});
