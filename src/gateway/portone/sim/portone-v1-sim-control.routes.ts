import type { FastifyInstance } from 'fastify';
import { registerPaymentWindow, WINDOW_FAILURE_MESSAGE } from './payment-window';
import { nonEmpty, type Body, type V1SimContext } from './portone-v1-sim-support';
import {
  exactMoney,
  toApiPayment,
  type Fault,
  type FaultKind,
  type SimulatorRuntimeOptions,
  type StoredPayment,
  type V1Payment,
} from './simulator-state';

/**
 * The test-control API under `/__control` (listed in portone-simulator.ts) and the buyer's payment window
 * (`/__window`), registered only when the simulator is started with `control: true`.
 */
export function registerV1ControlRoutes(server: FastifyInstance, { state, webhooks }: Pick<V1SimContext, 'state' | 'webhooks'>): void {
  /** What the buyer's payment window produces; fires the notification unless `webhook: false`. */
  const createFromControl = (body: Body): { payment: StoredPayment } | { error: string; httpStatus: number } => {
    const merchantUid = nonEmpty(body.merchant_uid);
    const amount = Number(body.amount);
    if (!merchantUid || !Number.isFinite(amount) || amount < 0) return { httpStatus: 400, error: 'merchant_uid and a non-negative amount are required' };
    const currency = nonEmpty(body.currency) ?? 'KRW';
    const prepared = state.prepared.get(merchantUid);
    if (prepared && (prepared.amount !== amount || (prepared.currency && prepared.currency !== currency))) {
      // PortOne would not open the payment window for a tampered amount of a prepared order.
      return { httpStatus: 409, error: `merchant_uid ${merchantUid} was prepared for ${prepared.amount}; the payment window refuses ${amount}` };
    }
    const status = (nonEmpty(body.status) as V1Payment['status'] | null) ?? 'paid';
    if (!['ready', 'paid', 'failed'].includes(status)) return { httpStatus: 400, error: 'status must be ready, paid or failed' };
    const payment = state.newPayment({
      merchant_uid: merchantUid,
      amount,
      currency,
      status,
      pay_method: nonEmpty(body.pay_method) ?? undefined,
      sandbox: body.sandbox === undefined ? undefined : body.sandbox === true || body.sandbox === 'true',
      notice_url: nonEmpty(body.notice_url),
    });
    const webhook = body.webhook !== false;
    if (webhook && (payment.status === 'paid' || (payment.status === 'ready' && payment.pay_method === 'vbank'))) {
      const contentType = body.webhook_content_type === 'form' || body.webhook_content_type === 'json' ? body.webhook_content_type : undefined;
      webhooks.notify(payment, payment.status, contentType);
    }
    return { payment };
  };

  // The buyer's payment window itself, for a browser checkout (src/gateway/portone/sim/payment-window.ts).
  registerPaymentWindow(server, ({ merchantUid, amount, paid, noticeUrl }) => {
    const created = createFromControl({ merchant_uid: merchantUid, amount, status: paid ? 'paid' : 'failed', notice_url: noticeUrl ?? undefined });
    if ('error' in created) return created;
    const { payment } = created;
    return {
      response: paid
        ? { success: true, imp_uid: payment.imp_uid, merchant_uid: payment.merchant_uid, paid_amount: payment.amount, status: payment.status }
        : { success: false, imp_uid: payment.imp_uid, merchant_uid: payment.merchant_uid, error_code: 'F400', error_msg: WINDOW_FAILURE_MESSAGE },
    };
  });

  server.post('/__control/payments', async (request, reply) => {
    const created = createFromControl((request.body ?? {}) as Body);
    if ('error' in created) return reply.code(created.httpStatus).send({ error: created.error });
    return reply.code(201).send(toApiPayment(created.payment));
  });

  // Many payments in one call (listing and load tests); stops at the first refused one.
  server.post('/__control/payments/batch', async (request, reply) => {
    const inputs = ((request.body ?? {}) as Body).payments;
    if (!Array.isArray(inputs)) return reply.code(400).send({ error: 'payments must be an array' });
    const payments: V1Payment[] = [];
    for (const [index, input] of inputs.entries()) {
      const created = createFromControl((input ?? {}) as Body);
      if ('error' in created) return reply.code(created.httpStatus).send({ error: `payments[${index}]: ${created.error}`, created: payments.length });
      payments.push(toApiPayment(created.payment));
    }
    return reply.code(201).send({ payments });
  });

  // A late transition: failed → paid (PayPal-like late approval) or a virtual account's deposit (ready → paid).
  server.post<{ Params: { imp_uid: string } }>('/__control/payments/:imp_uid/status', async (request, reply) => {
    const payment = state.payments.get(request.params.imp_uid);
    if (!payment) return reply.code(404).send({ error: 'unknown imp_uid' });
    const status = nonEmpty(((request.body ?? {}) as Body).status) as V1Payment['status'];
    if (!['ready', 'paid', 'failed'].includes(status)) return reply.code(400).send({ error: 'status must be ready, paid or failed' });
    // A cancelled record (refunded, or a revoked virtual account) takes no deposit and no approval.
    if (payment.status === 'cancelled') return reply.code(409).send({ error: `${payment.imp_uid} is cancelled; its status cannot change` });
    const now = state.touch(payment);
    payment.status = status;
    if (status === 'paid') payment.paid_at = now;
    if (status === 'failed') payment.failed_at = now;
    if (status === 'paid' && ((request.body ?? {}) as Body).webhook !== false) webhooks.notify(payment, 'paid');
    return toApiPayment(payment);
  });

  // A cancel made in PortOne's console (or by the PG): the whole balance, or `amount` of it.
  server.post<{ Params: { imp_uid: string } }>('/__control/payments/:imp_uid/console-cancel', async (request, reply) => {
    const payment = state.payments.get(request.params.imp_uid);
    if (!payment) return reply.code(404).send({ error: 'unknown imp_uid' });
    const remaining = exactMoney(payment.amount - payment.cancel_amount);
    const body = (request.body ?? {}) as Body;
    const amount = body.amount === undefined || body.amount === null ? remaining : exactMoney(Number(body.amount));
    if (!Number.isFinite(amount) || amount <= 0 || amount > remaining) {
      return reply.code(400).send({ error: `amount must be positive and at most the balance ${remaining}` });
    }
    if (payment.paid_at === 0) return reply.code(409).send({ error: `${payment.imp_uid} was never paid; nothing to cancel` });
    const now = state.touch(payment);
    payment.cancel_history.push({ pg_tid: payment.pg_tid, amount, cancelled_at: now, reason: '관리자 콘솔 취소', cancellation_id: state.newCancellationId(), receipt_url: '' });
    payment.cancel_amount = exactMoney(payment.cancel_amount + amount);
    payment.status = payment.cancel_amount >= payment.amount ? 'cancelled' : state.options.partialCancelStatus;
    payment.cancelled_at = now;
    payment.cancel_reason = '관리자 콘솔 취소';
    webhooks.notify(payment, 'cancelled');
    return toApiPayment(payment);
  });

  // The UNCONFIRMED behaviours, switchable while running; `/__control/reset` restores the start-up values.
  server.get('/__control/options', async () => state.options);
  server.post('/__control/options', async (request, reply) => {
    const body = (request.body ?? {}) as Partial<Record<keyof SimulatorRuntimeOptions, unknown>>;
    if (body.partialCancelStatus !== undefined && body.partialCancelStatus !== 'paid' && body.partialCancelStatus !== 'cancelled') {
      return reply.code(400).send({ error: 'partialCancelStatus must be paid or cancelled' });
    }
    if (body.includeSandboxFilter !== undefined && typeof body.includeSandboxFilter !== 'boolean') {
      return reply.code(400).send({ error: 'includeSandboxFilter must be a boolean' });
    }
    if (body.partialCancelStatus !== undefined) state.options.partialCancelStatus = body.partialCancelStatus;
    if (body.includeSandboxFilter !== undefined) state.options.includeSandboxFilter = body.includeSandboxFilter;
    return state.options;
  });

  server.post('/__control/clock', async (request, reply) => {
    const body = (request.body ?? {}) as Body;
    if (body.freeze !== undefined && typeof body.freeze !== 'boolean') return reply.code(400).send({ error: 'freeze must be a boolean' });
    if (body.freeze === true) state.freezeClock(true);
    if (body.advanceSeconds !== undefined) state.advanceClock(Number(body.advanceSeconds));
    if (body.now !== undefined) state.setClock(Number(body.now));
    if (body.freeze === false) state.freezeClock(false);
    return { now: state.now() };
  });

  server.post('/__control/faults', async (request, reply) => {
    const body = (request.body ?? {}) as Body;
    const kinds: FaultKind[] = ['latency', 'http500', 'http503', 'reset', 'applyThenLose', 'applyThenGarble', 'businessError'];
    if (!kinds.includes(body.kind as FaultKind)) return reply.code(400).send({ error: `kind must be one of ${kinds.join(', ')}` });
    const fault: Fault = {
      endpoint: (body.endpoint as Fault['endpoint']) ?? 'all',
      kind: body.kind as FaultKind,
      remaining: Number(body.times ?? 1),
      latencyMs: body.latencyMs === undefined ? undefined : Number(body.latencyMs),
      code: body.code === undefined ? undefined : Number(body.code),
      message: typeof body.message === 'string' ? body.message : undefined,
    };
    state.faults.push(fault);
    return reply.code(201).send(fault);
  });
  server.delete('/__control/faults', async () => {
    state.faults = [];
    return { cleared: true };
  });

  server.post('/__control/webhooks', async (request, reply) => {
    const body = (request.body ?? {}) as Body;
    const url = nonEmpty(body.url);
    if (!url) return reply.code(400).send({ error: 'url is required' });
    const payload = Object.fromEntries(
      Object.entries({ imp_uid: body.imp_uid, merchant_uid: body.merchant_uid, status: body.status, cancellation_id: body.cancellation_id }).filter(
        ([, v]) => typeof v === 'string',
      ),
    ) as Record<string, string>;
    const delivery = webhooks.deliver({
      url,
      payload,
      contentType: body.contentType === 'form' ? 'form' : 'json',
      delayMs: Number(body.delayMs ?? 0),
      duplicate: body.duplicate === true,
    });
    if (body.wait === true) await delivery;
    return reply.code(202).send({ queued: true });
  });

  server.post('/__control/reset', async () => {
    state.reset();
    return { reset: true };
  });

  server.get('/__control/ledger', async () => ({
    now: state.now(),
    payments: [...state.payments.values()].map(toApiPayment),
    tokensIssued: state.tokensIssued,
    apiConnections: state.apiConnections,
    apiCalls: state.apiCalls,
    listingRequests: state.listingRequests,
    cancelRequests: state.cancelRequests,
    webhooks: state.webhooks,
    prepared: [...state.prepared.values()],
  }));
}
