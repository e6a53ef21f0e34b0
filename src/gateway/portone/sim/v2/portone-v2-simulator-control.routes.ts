import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { registerPaymentWindow, WINDOW_FAILURE_MESSAGE } from '../payment-window';
import { cancelEvent, nonEmpty, type Body, type V2SimulatorContext } from './portone-v2-simulator-context';
import { V2_FAULT_ENDPOINTS, V2_FAULT_KINDS, type V2Fault, type V2FaultKind, type V2SimulatorEndpoint } from './portone-v2-simulator-faults';
import type { StoredV2Payment, V2PaymentMethodKind, V2PaymentStatus } from './portone-v2-simulator-payment-shapes';

/**
 * The `/__control` API (tests and demo mode only): what the buyer, PortOne's console and the network do,
 * plus faults, webhook knobs, the clock, reset and the ledger. Also mounts the buyer's payment window.
 */
export function registerV2ControlRoutes(server: FastifyInstance, { state, options, render, webhookSender }: V2SimulatorContext): void {
  const notify = (payment: StoredV2Payment, type: string, cancellationId?: string) => webhookSender.notify(payment, type, cancellationId);
  const find = (request: FastifyRequest<{ Params: { paymentId: string } }>, reply: FastifyReply): StoredV2Payment | null => {
    const storeId = nonEmpty(((request.body ?? {}) as Body).storeId) ?? options.storeId;
    const payment = state.get(storeId, request.params.paymentId);
    if (!payment) void reply.code(404).send({ error: `unknown paymentId ${request.params.paymentId} in store ${storeId}` });
    return payment ?? null;
  };
  const statuses: V2PaymentStatus[] = ['READY', 'PAY_PENDING', 'VIRTUAL_ACCOUNT_ISSUED', 'PAID', 'FAILED'];
  const eventOf: Record<string, string> = {
    READY: 'Transaction.Ready',
    PAY_PENDING: 'Transaction.PayPending',
    VIRTUAL_ACCOUNT_ISSUED: 'Transaction.VirtualAccountIssued',
    PAID: 'Transaction.Paid',
    FAILED: 'Transaction.Failed',
  };

  // The buyer's payment window for a browser checkout (../payment-window.ts). The paymentId is the
  // merchant's order id; a failed attempt may be retried under the same id, a paid one may not.
  registerPaymentWindow(server, ({ merchantUid, amount, paid }) => {
    if (!merchantUid || !Number.isInteger(amount) || amount < 0) return { httpStatus: 400, error: 'merchant_uid and a non-negative integer amount are required' };
    const existing = state.get(options.storeId, merchantUid);
    if (existing && existing.status !== 'FAILED' && existing.status !== 'READY') return { httpStatus: 409, error: `paymentId ${merchantUid} is already ${existing.status}` };
    const payment = state.newPayment({ storeId: options.storeId, id: merchantUid, total: amount, status: paid ? 'PAID' : 'FAILED' });
    notify(payment, eventOf[payment.status]);
    const answer = { transactionType: 'PAYMENT', txId: payment.transactionId, paymentId: payment.id };
    return { response: paid ? answer : { ...answer, code: 'FAILURE_TYPE_PG', message: WINDOW_FAILURE_MESSAGE } };
  });

  /** What the buyer's payment window produces; fires the status's webhook unless `webhook: false`. */
  server.post('/__control/payments', async (request, reply) => {
    const body = (request.body ?? {}) as Body;
    const paymentId = nonEmpty(body.paymentId);
    const amount = Number(body.amount);
    const status = (nonEmpty(body.status) ?? 'PAID') as V2PaymentStatus;
    const storeId = nonEmpty(body.storeId) ?? options.storeId;
    if (!paymentId || !Number.isInteger(amount) || amount < 0) return reply.code(400).send({ error: 'paymentId and a non-negative integer amount (smallest currency unit) are required' });
    if (!statuses.includes(status)) return reply.code(400).send({ error: `status must be one of ${statuses.join(', ')}` });
    if (state.get(storeId, paymentId)) return reply.code(409).send({ error: `paymentId ${paymentId} already exists in store ${storeId}` });
    const method = nonEmpty(body.method) as V2PaymentMethodKind | null;
    if (method && !['card', 'virtualAccount', 'transfer'].includes(method)) return reply.code(400).send({ error: 'method must be card, virtualAccount or transfer' });
    const payment = state.newPayment({
      storeId,
      id: paymentId,
      total: amount,
      currency: nonEmpty(body.currency) ?? undefined,
      status,
      method: method ?? undefined,
      channelType: body.channelType === 'TEST' ? 'TEST' : 'LIVE',
      orderName: nonEmpty(body.orderName) ?? undefined,
    });
    if (body.webhook !== false) notify(payment, eventOf[status]);
    return reply.code(201).send(render(payment));
  });

  /** The buyer deposits into an issued virtual account: PAID and `Transaction.Paid`. */
  server.post<{ Params: { paymentId: string } }>('/__control/payments/:paymentId/deposit', async (request, reply) => {
    const payment = find(request, reply);
    if (!payment) return reply;
    if (payment.status !== 'VIRTUAL_ACCOUNT_ISSUED') return reply.code(409).send({ error: `payment is ${payment.status}, not VIRTUAL_ACCOUNT_ISSUED` });
    state.setStatus(payment, 'PAID');
    if (((request.body ?? {}) as Body).webhook !== false) notify(payment, 'Transaction.Paid');
    return render(payment);
  });

  server.post<{ Params: { paymentId: string } }>('/__control/payments/:paymentId/status', async (request, reply) => {
    const payment = find(request, reply);
    if (!payment) return reply;
    const body = (request.body ?? {}) as Body;
    const status = nonEmpty(body.status) as V2PaymentStatus;
    if (!statuses.includes(status)) return reply.code(400).send({ error: `status must be one of ${statuses.join(', ')}` });
    state.setStatus(payment, status);
    if (body.webhook !== false) notify(payment, eventOf[status]);
    return render(payment);
  });

  /** A cancel made in PortOne's console (not by us): full, or `amount` (smallest unit) for a partial one. */
  server.post<{ Params: { paymentId: string } }>('/__control/payments/:paymentId/console-cancel', async (request, reply) => {
    const payment = find(request, reply);
    if (!payment) return reply;
    const body = (request.body ?? {}) as Body;
    const left = state.cancellable(payment);
    const amount = body.amount === undefined ? left : Number(body.amount);
    if (!['PAID', 'PARTIAL_CANCELLED'].includes(payment.status) || !Number.isInteger(amount) || amount <= 0 || amount > left) {
      return reply.code(409).send({ error: `cannot cancel ${amount} of a ${payment.status} payment with ${left} left` });
    }
    const cancellation = state.applyCancel(payment, amount, '관리자 콘솔 취소', 'CONSOLE');
    if (body.webhook !== false) notify(payment, cancelEvent(payment), cancellation.id);
    return render(payment);
  });

  /** `requested`: API cancels answer REQUESTED (async PGs) until completed below. */
  server.post('/__control/cancel-mode', async (request, reply) => {
    const mode = ((request.body ?? {}) as Body).mode;
    if (mode !== 'sync' && mode !== 'requested') return reply.code(400).send({ error: 'mode must be sync or requested' });
    state.cancelMode = mode;
    return { mode };
  });

  /** Every REQUESTED cancellation of the payment takes effect (with its webhook). */
  server.post<{ Params: { paymentId: string } }>('/__control/payments/:paymentId/complete-cancellations', async (request, reply) => {
    const payment = find(request, reply);
    if (!payment) return reply;
    for (const cancellation of payment.cancellations.filter((c) => c.status === 'REQUESTED')) {
      state.settleCancellation(payment, cancellation);
      notify(payment, cancelEvent(payment), cancellation.id);
    }
    return render(payment);
  });

  server.post('/__control/clock', async (request) => {
    const body = (request.body ?? {}) as Body;
    if (body.advanceSeconds !== undefined) state.clockOffsetMs += Number(body.advanceSeconds) * 1000;
    return { now: new Date(state.nowMs()).toISOString() };
  });

  server.post('/__control/faults', async (request, reply) => {
    const body = (request.body ?? {}) as Body;
    if (!V2_FAULT_KINDS.includes(body.kind as V2FaultKind)) return reply.code(400).send({ error: `kind must be one of ${V2_FAULT_KINDS.join(', ')}` });
    if (body.endpoint !== undefined && !V2_FAULT_ENDPOINTS.includes(body.endpoint as string)) {
      return reply.code(400).send({ error: `endpoint must be one of ${V2_FAULT_ENDPOINTS.join(', ')}` });
    }
    const fault: V2Fault = {
      endpoint: (body.endpoint as V2SimulatorEndpoint | 'all' | undefined) ?? 'all',
      kind: body.kind as V2FaultKind,
      remaining: Number(body.times ?? 1),
      latencyMs: body.latencyMs === undefined ? undefined : Number(body.latencyMs),
      httpStatus: body.httpStatus === undefined ? undefined : Number(body.httpStatus),
      type: nonEmpty(body.type) ?? undefined,
      message: nonEmpty(body.message) ?? undefined,
    };
    state.faults.push(fault);
    return reply.code(201).send(fault);
  });
  server.delete('/__control/faults', async () => {
    state.faults = [];
    return { cleared: true };
  });

  /** Knobs for the next `times` automatic deliveries: corrupt signature, skewed timestamp, duplicate. */
  server.post('/__control/webhook-knobs', async (request) => {
    const body = (request.body ?? {}) as Body;
    state.webhookKnobs = {
      corruptSignature: body.corruptSignature === true,
      timestampSkewSeconds: body.timestampSkewSeconds === undefined ? undefined : Number(body.timestampSkewSeconds),
      duplicate: body.duplicate === true,
      remaining: Number(body.times ?? 1),
    };
    return state.webhookKnobs;
  });

  /** Sends one webhook now (any type, any knobs); `wait: true` answers after every attempt ended. */
  server.post('/__control/webhooks', async (request, reply) => {
    const body = (request.body ?? {}) as Body;
    const url = nonEmpty(body.url) ?? options.webhookUrl;
    const type = nonEmpty(body.type);
    if (!url || !type) return reply.code(400).send({ error: 'type is required, and url unless the simulator has a webhookUrl' });
    const paymentId = nonEmpty(body.paymentId);
    const payment = paymentId ? state.get(nonEmpty(body.storeId) ?? options.storeId, paymentId) : undefined;
    const data = (body.data as Body | undefined) ?? {
      paymentId,
      storeId: nonEmpty(body.storeId) ?? options.storeId,
      transactionId: payment?.transactionId ?? 'transaction-unknown',
    };
    const delivery = webhookSender.deliver({
      url,
      type,
      data,
      webhookId: nonEmpty(body.webhookId) ?? undefined,
      corruptSignature: body.corruptSignature === true,
      timestampSkewSeconds: body.timestampSkewSeconds === undefined ? undefined : Number(body.timestampSkewSeconds),
      duplicate: body.duplicate === true,
      delayMs: Number(body.delayMs ?? 0),
      retry: body.retry !== false,
    });
    if (body.wait === true) await delivery;
    return reply.code(202).send({ queued: true });
  });

  /** PortOne's retry schedule on or off, and how long one of its "minutes" is here. */
  server.post('/__control/webhook-retry', async (request) => {
    const body = (request.body ?? {}) as Body;
    webhookSender.retry = { enabled: body.enabled !== false, unitMs: Number(body.unitMs ?? 60_000), jitter: body.jitter !== false };
    return webhookSender.retry;
  });

  server.post('/__control/reset', async () => {
    webhookSender.resetRetry();
    state.reset();
    return { reset: true };
  });

  server.get('/__control/ledger', async () => ({
    now: new Date(state.nowMs()).toISOString(),
    payments: [...state.payments.values()].map(render),
    cancelRequests: state.cancelRequests,
    webhooks: state.webhooks,
    reads: state.reads,
    apiConnections: state.apiConnections,
  }));
}
