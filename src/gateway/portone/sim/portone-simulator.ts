import formbody from '@fastify/formbody';
import Fastify, { type FastifyRequest } from 'fastify';
import fetch from 'node-fetch';
import type { Logger } from 'pino';
import { registerPortOneV2Simulator, type PortOneV2SimulatorOptions } from './v2/portone-v2-simulator';
import { V2SimulatorState } from './v2/portone-v2-simulator-state';
import { SimulatorState, toApiPayment, type Fault, type FaultKind, type SimulatorEndpoint, type V1Payment } from './simulator-state';

/**
 * A PortOne V1 REST API simulator that follows `shared/portone/contract.md` part A: the envelope, token
 * rules, lookups, cancel rules and webhooks, plus a test-control API under `/__control` (payments in any
 * state, faults, clock, webhooks, ledger). Where the contract marks behaviour UNCONFIRMED it is an option.
 */
export interface PortOneSimulatorOptions {
  port?: number;
  host?: string;
  impKey: string;
  impSecret: string;
  /** Register the `/__control` API (tests and demo mode only). */
  control: boolean;
  /** The console's notification URL; a payment's own notice_url wins. */
  webhookUrl?: string | null;
  webhookContentType?: 'json' | 'form';
  /** UNCONFIRMED: status after a partial cancel. */
  partialCancelStatus?: 'paid' | 'cancelled';
  /** UNCONFIRMED: hide sandbox payments from single lookups unless include_sandbox=true. */
  includeSandboxFilter?: boolean;
  /** Webhook retry (opt-in at PortOne): 5 more tries on 5xx or network error. */
  webhookRetry?: { enabled: boolean; intervalMs: number };
  messages?: Partial<typeof DEFAULT_MESSAGES>;
  /** Also serve the PortOne V2 API (and its `/__control`) under `/v2` in the same server. */
  v2?: PortOneV2SimulatorOptions;
  logger?: Logger;
}

export const DEFAULT_MESSAGES = {
  cancelNotFound: '취소할 결제건이 존재하지 않습니다.',
  alreadyCancelled: '이미 전액취소된 주문입니다.',
  notFound: '존재하지 않는 결제정보입니다.',
  unauthorized: 'Unauthorized',
  // The rest are UNCONFIRMED at PortOne; configurable.
  missingIds: 'imp_uid 또는 merchant_uid 중 하나는 필수입니다.',
  notPaid: '결제완료 상태의 결제건만 취소할 수 있습니다.',
  checksumMismatch: '[checksum] 취소 가능 잔액이 요청한 checksum 과 일치하지 않습니다.',
  amountTooLarge: '결제취소에 실패하였습니다.(requested cancel amount is bigger than cancelable amount)',
  vbankRefundAccount: '가상계좌 취소는 계좌번호, 예금주, 은행명을 입력해야 합니다.',
  prepareNotFound: '사전등록된 결제정보가 존재하지 않습니다.',
  prepareExists: '이미 사전등록된 merchant_uid 입니다.',
};

export interface PortOneSimulator {
  url: string;
  state: SimulatorState;
  impKey: string;
  impSecret: string;
  /** Present when started with `v2`: the V2 base URL (`<url>/v2`) and its state. */
  v2?: { url: string; state: V2SimulatorState };
  close(): Promise<void>;
}

type Body = Record<string, unknown>;
const envelope = (response: unknown) => ({ code: 0, message: null, response });
const failure = (code: number, message: string) => ({ code, message, response: null });

export async function startPortOneSimulator(options: PortOneSimulatorOptions): Promise<PortOneSimulator> {
  const state = new SimulatorState();
  const messages = { ...DEFAULT_MESSAGES, ...options.messages };
  const server = Fastify({ logger: false });
  await server.register(formbody);
  const log = options.logger;

  // --- faults and auth -------------------------------------------------------------------------
  const endpointOf = (request: FastifyRequest): SimulatorEndpoint | null =>
    ((request.routeOptions.config as { endpoint?: SimulatorEndpoint } | undefined)?.endpoint ?? null);

  server.addHook('preHandler', async (request, reply) => {
    const endpoint = endpointOf(request);
    if (!endpoint) return;
    const fault = state.takeFault(endpoint);
    if (fault) {
      (request as FastifyRequest & { fault?: Fault }).fault = fault;
      if (fault.kind === 'latency') await sleep(fault.latencyMs ?? 1000);
      if (fault.kind === 'http500') return reply.code(500).type('text/html').send('<html><body>500 Internal Server Error</body></html>');
      if (fault.kind === 'http503') return reply.code(503).type('text/html').send('<html><body>503 Service Temporarily Unavailable</body></html>');
      if (fault.kind === 'reset') {
        request.raw.socket.destroy();
        return reply.hijack();
      }
      if (fault.kind === 'businessError') return reply.code(200).send(failure(fault.code ?? -1, fault.message ?? '결제취소에 실패하였습니다.(PG사 오류)'));
    }
    if (endpoint === 'getToken') return;
    // Authorization wins over X-ImpTokenHeader; "Bearer t" and a raw "t" are both accepted.
    const authorization = request.headers.authorization;
    const legacy = request.headers['x-imptokenheader'];
    const raw = typeof authorization === 'string' && authorization.trim() !== '' ? authorization : typeof legacy === 'string' ? legacy : '';
    const token = raw.replace(/^Bearer\s+/i, '').trim();
    const now = state.now();
    const valid = [...state.tokens.values()].some((t) => t.token === token && t.expiredAt > now);
    if (!valid) return reply.code(401).header('WWW-Authenticate', 'iamport').send(failure(-1, messages.unauthorized));
  });

  // --- V1 API ----------------------------------------------------------------------------------
  server.post('/users/getToken', { config: { endpoint: 'getToken' } }, async (request, reply) => {
    const body = (request.body ?? {}) as Body;
    if (body.imp_key !== options.impKey || body.imp_secret !== options.impSecret) {
      return reply.code(401).send(failure(-1, '아임포트 API 키와 시크릿이 일치하지 않습니다.'));
    }
    const now = state.now();
    const current = state.tokens.get(options.impKey);
    if (current && current.expiredAt > now) {
      // Same token while valid; re-requested in its last minute, it lives 5 minutes longer.
      if (current.expiredAt - now <= 60) current.expiredAt += 300;
      state.tokensIssued.push({ at: now, token: current.token, expiredAt: current.expiredAt, reused: true });
      return envelope({ access_token: current.token, now, expired_at: current.expiredAt });
    }
    const issued = { token: state.newToken(), expiredAt: now + 1800 };
    state.tokens.set(options.impKey, issued);
    state.tokensIssued.push({ at: now, token: issued.token, expiredAt: issued.expiredAt, reused: false });
    return envelope({ access_token: issued.token, now, expired_at: issued.expiredAt });
  });

  server.get<{ Params: { imp_uid: string }; Querystring: { include_sandbox?: string } }>(
    '/payments/:imp_uid',
    { config: { endpoint: 'getPayment' } },
    async (request, reply) => {
      const payment = state.payments.get(request.params.imp_uid);
      const hidden = options.includeSandboxFilter && payment?.sandbox && request.query.include_sandbox !== 'true';
      if (!payment || hidden) return reply.code(404).send(failure(-1, messages.notFound));
      return envelope(toApiPayment(payment));
    },
  );

  const findSorted = (merchantUid: string, status: string | undefined, sorting: string | undefined) => {
    const key = (sorting ?? '-started').replace(/^-/, '');
    const descending = (sorting ?? '-started').startsWith('-');
    const field = key === 'paid' ? 'paid_at' : key === 'updated' ? 'updated_at' : 'started_at';
    return [...state.payments.values()]
      .filter((p) => p.merchant_uid === merchantUid && (!status || p.status === status))
      .sort((a, b) => {
        const diff = a[field] - b[field] || a.seq - b.seq;
        return descending ? -diff : diff;
      });
  };
  const validStatus = (status: string | undefined) => !status || ['ready', 'paid', 'failed', 'cancelled'].includes(status);

  for (const path of ['/payments/find/:merchant_uid', '/payments/find/:merchant_uid/:payment_status']) {
    server.get<{ Params: { merchant_uid: string; payment_status?: string }; Querystring: { sorting?: string } }>(
      path,
      { config: { endpoint: 'find' } },
      async (request, reply) => {
        if (!validStatus(request.params.payment_status)) return reply.code(400).send(failure(-1, 'payment_status 값이 올바르지 않습니다.'));
        const [first] = findSorted(request.params.merchant_uid, request.params.payment_status, request.query.sorting);
        if (!first) return reply.code(404).send(failure(-1, messages.notFound));
        return envelope(toApiPayment(first));
      },
    );
  }

  for (const path of ['/payments/findAll/:merchant_uid', '/payments/findAll/:merchant_uid/:payment_status']) {
    server.get<{ Params: { merchant_uid: string; payment_status?: string }; Querystring: { sorting?: string; page?: string; limit?: string } }>(
      path,
      { config: { endpoint: 'findAll' } },
      async (request, reply) => {
        if (!validStatus(request.params.payment_status)) return reply.code(400).send(failure(-1, 'payment_status 값이 올바르지 않습니다.'));
        const all = findSorted(request.params.merchant_uid, request.params.payment_status, request.query.sorting);
        if (all.length === 0) return reply.code(404).send(failure(-1, messages.notFound));
        const limit = Math.min(1000, Math.max(1, Number(request.query.limit ?? 20) || 20));
        const page = Math.max(1, Number(request.query.page ?? 1) || 1);
        const list = all.slice((page - 1) * limit, page * limit).map(toApiPayment);
        const last = Math.ceil(all.length / limit);
        return envelope({ total: all.length, previous: page > 1 ? page - 1 : 0, next: page < last ? page + 1 : 0, list });
      },
    );
  }

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
    else if (merchantUid) payment = findSorted(merchantUid, 'paid', undefined)[0] ?? findSorted(merchantUid, undefined, undefined)[0];
    else return reject(-1, messages.missingIds);
    if (!payment) return reject(1, messages.cancelNotFound);
    record.impUid = payment.imp_uid;
    if (payment.status === 'cancelled' || payment.cancel_amount >= payment.amount) return reject(1, messages.alreadyCancelled);
    if (payment.status !== 'paid') return reject(-1, messages.notPaid);
    const remaining = payment.amount - payment.cancel_amount;
    const requested = Number(body.amount ?? 0) || 0; // missing or 0: the whole remaining balance
    const amount = requested > 0 ? requested : remaining;
    const checksum = body.checksum;
    if (checksum !== undefined && checksum !== null && checksum !== '' && Number(checksum) !== remaining) {
      return reject(-1, messages.checksumMismatch);
    }
    if (amount > remaining) return reject(-1, messages.amountTooLarge);
    if (payment.pay_method === 'vbank' && !(body.refund_holder && body.refund_bank && body.refund_account)) {
      return reject(-1, messages.vbankRefundAccount);
    }
    const now = state.now();
    payment.cancel_amount += amount;
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
    payment.status = payment.cancel_amount >= payment.amount ? 'cancelled' : (options.partialCancelStatus ?? 'paid');
    payment.updated_at = now;
    record.applied = true;
    record.outcome = 'applied';
    if (body.enable_webhook === true || body.enable_webhook === 'true') notify(payment, 'cancelled');
    if ((request as FastifyRequest & { fault?: Fault }).fault?.kind === 'applyThenLose') {
      record.responseLost = true;
      request.raw.socket.destroy();
      return reply.hijack();
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

  // --- webhooks ---------------------------------------------------------------------------------
  function notify(payment: { imp_uid: string; merchant_uid: string; notice_url: string | null }, status: string) {
    const url = payment.notice_url ?? options.webhookUrl;
    if (!url) return;
    void deliverWebhook({ url, payload: { imp_uid: payment.imp_uid, merchant_uid: payment.merchant_uid, status }, contentType: options.webhookContentType ?? 'json' });
  }

  async function deliverWebhook(input: {
    url: string;
    payload: Record<string, string>;
    contentType: 'json' | 'form';
    delayMs?: number;
    duplicate?: boolean;
  }): Promise<void> {
    if (input.delayMs) await sleep(input.delayMs);
    const copies = input.duplicate ? 2 : 1;
    await Promise.all(Array.from({ length: copies }, () => deliverOnce(input, 1)));
  }

  async function deliverOnce(input: { url: string; payload: Record<string, string>; contentType: 'json' | 'form' }, attempt: number): Promise<void> {
    const record = { at: state.now(), url: input.url, contentType: input.contentType, payload: input.payload, httpStatus: null as number | null, error: null as string | null, attempt };
    state.webhooks.push(record);
    try {
      const response = await fetch(input.url, {
        method: 'POST',
        headers: { 'content-type': input.contentType === 'json' ? 'application/json' : 'application/x-www-form-urlencoded' },
        body: input.contentType === 'json' ? JSON.stringify(input.payload) : new URLSearchParams(input.payload).toString(),
        timeout: 30_000,
      });
      record.httpStatus = response.status;
      if (response.status < 500) return;
    } catch (error) {
      record.error = error instanceof Error ? error.message : String(error);
    }
    const retry = options.webhookRetry;
    if (retry?.enabled && attempt <= 5) {
      await sleep(retry.intervalMs);
      await deliverOnce(input, attempt + 1);
    }
  }

  // --- test control API --------------------------------------------------------------------------
  if (options.control) {
    server.post('/__control/payments', async (request, reply) => {
      const body = (request.body ?? {}) as Body;
      const merchantUid = nonEmpty(body.merchant_uid);
      const amount = Number(body.amount);
      if (!merchantUid || !Number.isFinite(amount) || amount < 0) return reply.code(400).send({ error: 'merchant_uid and a non-negative amount are required' });
      const currency = nonEmpty(body.currency) ?? 'KRW';
      const prepared = state.prepared.get(merchantUid);
      if (prepared && (prepared.amount !== amount || (prepared.currency && prepared.currency !== currency))) {
        // PortOne would not open the payment window for a tampered amount of a prepared order.
        return reply.code(409).send({ error: `merchant_uid ${merchantUid} was prepared for ${prepared.amount}; the payment window refuses ${amount}` });
      }
      const payment = state.newPayment({
        merchant_uid: merchantUid,
        amount,
        currency,
        status: (nonEmpty(body.status) as V1Payment['status'] | null) ?? 'paid',
        pay_method: nonEmpty(body.pay_method) ?? undefined,
        sandbox: body.sandbox === undefined ? undefined : Boolean(body.sandbox),
        notice_url: nonEmpty(body.notice_url),
      });
      const webhook = body.webhook !== false;
      if (webhook && (payment.status === 'paid' || (payment.status === 'ready' && payment.pay_method === 'vbank'))) {
        if (body.webhook_content_type === 'form' || body.webhook_content_type === 'json') {
          const url = payment.notice_url ?? options.webhookUrl;
          if (url) void deliverWebhook({ url, payload: { imp_uid: payment.imp_uid, merchant_uid: payment.merchant_uid, status: payment.status }, contentType: body.webhook_content_type });
        } else {
          notify(payment, payment.status);
        }
      }
      return reply.code(201).send(toApiPayment(payment));
    });

    server.post<{ Params: { imp_uid: string } }>('/__control/payments/:imp_uid/status', async (request, reply) => {
      const payment = state.payments.get(request.params.imp_uid);
      if (!payment) return reply.code(404).send({ error: 'unknown imp_uid' });
      const status = nonEmpty(((request.body ?? {}) as Body).status) as V1Payment['status'];
      if (!['ready', 'paid', 'failed'].includes(status)) return reply.code(400).send({ error: 'status must be ready, paid or failed' });
      const now = state.now();
      payment.status = status;
      if (status === 'paid') payment.paid_at = now;
      if (status === 'failed') payment.failed_at = now;
      payment.updated_at = now;
      if (status === 'paid' && ((request.body ?? {}) as Body).webhook !== false) notify(payment, 'paid');
      return toApiPayment(payment);
    });

    server.post<{ Params: { imp_uid: string } }>('/__control/payments/:imp_uid/console-cancel', async (request, reply) => {
      const payment = state.payments.get(request.params.imp_uid);
      if (!payment) return reply.code(404).send({ error: 'unknown imp_uid' });
      const now = state.now();
      const remaining = payment.amount - payment.cancel_amount;
      payment.cancel_history.push({ pg_tid: payment.pg_tid, amount: remaining, cancelled_at: now, reason: '관리자 콘솔 취소', cancellation_id: state.newCancellationId(), receipt_url: '' });
      payment.cancel_amount = payment.amount;
      payment.status = 'cancelled';
      payment.cancelled_at = now;
      payment.updated_at = now;
      notify(payment, 'cancelled');
      return toApiPayment(payment);
    });

    server.post('/__control/clock', async (request) => {
      const body = (request.body ?? {}) as Body;
      if (body.advanceSeconds !== undefined) state.clockOffsetSeconds += Number(body.advanceSeconds);
      if (body.now !== undefined) state.clockOffsetSeconds = Number(body.now) - Math.floor(Date.now() / 1000);
      return { now: state.now() };
    });

    server.post('/__control/faults', async (request, reply) => {
      const body = (request.body ?? {}) as Body;
      const kinds: FaultKind[] = ['latency', 'http500', 'http503', 'reset', 'applyThenLose', 'businessError'];
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
      const delivery = deliverWebhook({
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
      cancelRequests: state.cancelRequests,
      webhooks: state.webhooks,
      prepared: [...state.prepared.values()],
    }));
  }

  const v2State = options.v2 ? new V2SimulatorState() : null;
  if (options.v2 && v2State) {
    const v2Options = options.v2;
    await server.register(async (instance) => registerPortOneV2Simulator(instance, v2State, v2Options), { prefix: '/v2' });
  }

  const address = await server.listen({ port: options.port ?? 0, host: options.host ?? '127.0.0.1' });
  log?.info({ url: address, control: options.control }, 'PortOne simulator listening');
  return {
    url: address,
    state,
    impKey: options.impKey,
    impSecret: options.impSecret,
    v2: v2State ? { url: `${address}/v2`, state: v2State } : undefined,
    close: () => server.close(),
  };
}

function nonEmpty(value: unknown): string | null {
  return typeof value === 'string' && value.trim() !== '' ? value.trim() : null;
}

function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms).unref());
}

