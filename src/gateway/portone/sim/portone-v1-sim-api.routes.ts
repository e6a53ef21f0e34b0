import type { FastifyInstance } from 'fastify';
import type { RequestWithFault } from './portone-v1-sim-api-guard';
import { findSorted } from './portone-v1-sim-lookup.routes';
import { envelope, failure, nonEmpty, type Body, type V1SimContext } from './portone-v1-sim-support';
import { exactMoney, toApiPayment } from './simulator-state';

/** The V1 endpoints that are not lookups: token, cancel, prepare (pre-registration) and virtual-account revoke. */
export function registerV1ApiRoutes(
  server: FastifyInstance,
  { state, messages, webhooks }: V1SimContext,
  credentials: { impKey: string; impSecret: string },
): void {
  server.post('/users/getToken', { config: { endpoint: 'getToken' } }, async (request, reply) => {
    const body = (request.body ?? {}) as Body;
    if (body.imp_key !== credentials.impKey || body.imp_secret !== credentials.impSecret) {
      return reply.code(401).send(failure(-1, '아임포트 API 키와 시크릿이 일치하지 않습니다.'));
    }
    const now = state.now();
    const current = state.tokens.get(credentials.impKey);
    if (current && current.expiredAt > now) {
      // Same token while valid; re-requested in its last minute, it lives 5 minutes longer.
      if (current.expiredAt - now <= 60) current.expiredAt += 300;
      state.tokensIssued.push({ at: now, token: current.token, expiredAt: current.expiredAt, reused: true });
      return envelope({ access_token: current.token, now, expired_at: current.expiredAt });
    }
    const issued = { token: state.newToken(), expiredAt: now + 1800 };
    state.tokens.set(credentials.impKey, issued);
    state.tokensIssued.push({ at: now, token: issued.token, expiredAt: issued.expiredAt, reused: false });
    return envelope({ access_token: issued.token, now, expired_at: issued.expiredAt });
  });

  // DELETE /vbanks/{imp_uid}: revoke an issued, unpaid virtual account (Swagger `revokeVbank`).
  server.delete<{ Params: { imp_uid: string } }>('/vbanks/:imp_uid', { config: { endpoint: 'revokeVbank' } }, async (request, reply) => {
    const payment = state.payments.get(request.params.imp_uid);
    if (!payment) return reply.code(404).send(failure(-1, messages.notFound));
    if (payment.pay_method !== 'vbank') return reply.code(400).send(failure(-1, messages.notVbank));
    if (payment.status !== 'ready') return reply.code(400).send(failure(-1, messages.vbankNotReady));
    // How PortOne shows a revoked account is not documented beyond "cancelled" being the only fitting
    // status. No money moved, so `amount` stays the issued amount, `cancel_amount` stays 0 and
    // `cancel_history` stays empty (its entries are refunds with a PG transaction); `cancelled_at` is set
    // because the cancelled listing filters on it, and `cancel_reason` says what happened. No webhook:
    // none of the documented triggers (contract A7) is a revoke. Readers take note: such a record has
    // amount − cancel_amount = amount although nothing was ever paid (paid_at 0).
    const now = state.touch(payment);
    payment.status = 'cancelled';
    payment.cancelled_at = now;
    payment.cancel_reason = '가상계좌 발급취소';
    return envelope(toApiPayment(payment));
  });

  server.post('/payments/cancel', { config: { endpoint: 'cancel' } }, async (request, reply) => {
    const body = (request.body ?? {}) as Body;
    const record = { at: state.now(), body, impUid: null as string | null, applied: false, responseLost: false, outcome: '' };
    state.cancelRequests.push(record);
    const reject = (code: number, message: string) => {
      record.outcome = `rejected: ${message}`;
      return reply.code(200).send(failure(code, message));
    };
    const impUid = nonEmpty(body.imp_uid);
    const merchantUid = nonEmpty(body.merchant_uid);
    let payment;
    if (impUid) payment = state.payments.get(impUid); // imp_uid wins, even when merchant_uid is valid
    else if (merchantUid) payment = findSorted(state, merchantUid, 'paid', undefined)[0] ?? findSorted(state, merchantUid, undefined, undefined)[0];
    else return reject(-1, messages.missingIds);
    if (!payment) return reject(1, messages.cancelNotFound);
    record.impUid = payment.imp_uid;
    const remaining = exactMoney(payment.amount - payment.cancel_amount);
    // With partialCancelStatus 'cancelled' a payment reads cancelled while part of it is still paid; what
    // is left stays cancellable. A never-paid cancelled record (a revoked virtual account) has nothing.
    const partlyCancelled = payment.status === 'cancelled' && payment.paid_at > 0 && remaining > 0;
    if (remaining <= 0 || (payment.status === 'cancelled' && !partlyCancelled)) return reject(1, messages.alreadyCancelled);
    if (payment.status !== 'paid' && !partlyCancelled) return reject(-1, messages.notPaid);
    const requested = exactMoney(Number(body.amount ?? 0) || 0); // missing or 0: the whole remaining balance
    const amount = requested > 0 ? requested : remaining;
    const checksum = body.checksum;
    if (checksum !== undefined && checksum !== null && checksum !== '' && exactMoney(Number(checksum)) !== remaining) {
      return reject(-1, messages.checksumMismatch);
    }
    if (amount > remaining) return reject(-1, messages.amountTooLarge);
    if (payment.pay_method === 'vbank' && !(body.refund_holder && body.refund_bank && body.refund_account)) {
      return reject(-1, messages.vbankRefundAccount);
    }
    const now = state.touch(payment);
    payment.cancel_amount = exactMoney(payment.cancel_amount + amount);
    payment.cancel_history.push({
      pg_tid: payment.pg_tid,
      amount,
      cancelled_at: now,
      reason: typeof body.reason === 'string' ? body.reason : '',
      cancellation_id: state.newCancellationId(),
      receipt_url: `https://iniweb.inicis.com/receipt/cancel/${payment.imp_uid}`,
    });
    payment.cancel_receipt_urls.push(`https://iniweb.inicis.com/receipt/cancel/${payment.imp_uid}`);
    payment.cancelled_at = now;
    payment.cancel_reason = typeof body.reason === 'string' ? body.reason : null;
    payment.status = payment.cancel_amount >= payment.amount ? 'cancelled' : state.options.partialCancelStatus;
    record.applied = true;
    record.outcome = 'applied';
    if (body.enable_webhook === true || body.enable_webhook === 'true') webhooks.notify(payment, 'cancelled');
    if ((request as RequestWithFault).fault?.kind === 'applyThenLose') {
      record.responseLost = true;
      request.raw.socket.destroy();
      return reply.hijack();
    }
    if ((request as RequestWithFault).fault?.kind === 'applyThenGarble') {
      // Applied, then answered 200 with what a proxy in the way might send instead of PortOne's envelope.
      record.responseLost = true;
      return reply.code(200).type('text/html').send('<html><body>OK</body></html>');
    }
    return envelope(toApiPayment(payment));
  });

  server.post('/payments/prepare', { config: { endpoint: 'prepare' } }, async (request, reply) => {
    const body = (request.body ?? {}) as Body;
    const merchantUid = nonEmpty(body.merchant_uid);
    const amount = Number(body.amount);
    if (!merchantUid || !Number.isFinite(amount)) return reply.code(400).send(failure(-1, 'merchant_uid, amount 는 필수입니다.'));
    if (state.prepared.has(merchantUid)) return reply.send(failure(1, messages.prepareExists));
    const prepared = { merchant_uid: merchantUid, amount, currency: nonEmpty(body.currency) };
    state.prepared.set(merchantUid, prepared);
    return envelope(prepared);
  });
  server.put('/payments/prepare', { config: { endpoint: 'prepare' } }, async (request, reply) => {
    const body = (request.body ?? {}) as Body;
    const merchantUid = nonEmpty(body.merchant_uid);
    const existing = merchantUid ? state.prepared.get(merchantUid) : undefined;
    if (!existing) return reply.code(404).send(failure(-1, messages.prepareNotFound));
    existing.amount = Number(body.amount);
    return envelope(existing);
  });
  server.get<{ Params: { merchant_uid: string } }>('/payments/prepare/:merchant_uid', { config: { endpoint: 'prepare' } }, async (request, reply) => {
    const prepared = state.prepared.get(request.params.merchant_uid);
    if (!prepared) return reply.code(404).send(failure(-1, messages.prepareNotFound));
    return envelope(prepared);
  });
}
