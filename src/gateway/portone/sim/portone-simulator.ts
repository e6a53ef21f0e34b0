import formbody from '@fastify/formbody';
import Fastify, { type FastifyRequest } from 'fastify';
import fetch from 'node-fetch';
import type { Logger } from 'pino';
import { registerPaymentWindow, WINDOW_FAILURE_MESSAGE } from './payment-window';
import { registerPortOneV2Simulator, type PortOneV2SimulatorOptions } from './v2/portone-v2-simulator';
import { V2SimulatorState } from './v2/portone-v2-simulator-state';
import {
  exactMoney,
  SimulatorState,
  toApiPayment,
  type Fault,
  type FaultKind,
  type SimulatorEndpoint,
  type SimulatorRuntimeOptions,
  type StoredPayment,
  type V1Payment,
} from './simulator-state';

declare module 'fastify' {
  interface FastifyContextConfig {
    /** Which simulated PortOne endpoint a route is, for fault injection. */
    endpoint?: SimulatorEndpoint;
    /** A V2 API route (authenticated, faultable), as opposed to the V2 control API. */
    v2Api?: boolean;
  }
}

/**
 * A PortOne V1 REST API simulator that follows PortOne's public V1 documentation (REST reference
 * https://developers.portone.io/api/rest-v1, webhook guide .../opi/ko/integration/webhook/readme-v1, cancel
 * guide .../opi/ko/integration/cancel/v1/basic): the envelope, token rules, lookups, cancel rules and
 * webhooks, plus a test-control API under `/__control` (payments in any state, faults, clock, webhooks,
 * ledger), time-window listings and virtual-account revoke. Where PortOne documents no behaviour (marked
 * UNCONFIRMED below) it is an option.
 *
 * Control API (JSON bodies; `SimulatorControlClient` wraps it):
 * - `POST payments` one payment as the buyer's window makes it (live unless `sandbox: true`; decimals
 *   allowed); `POST payments/batch {payments: [...]}` many at once.
 * - `POST payments/:imp_uid/status {status}` late transitions; ready → paid on a `vbank` is the deposit.
 * - `POST payments/:imp_uid/console-cancel {amount?}` a cancel outside the merchant's server.
 * - `GET|POST options {partialCancelStatus?, includeSandboxFilter?}` UNCONFIRMED behaviour at run time.
 * - `GET /__window?merchant_uid&amount&name&origin[&notice_url]` (not under `/__control`) the buyer's payment window for a browser
 *   checkout: pay, fail, pay and close, tamper with the amount (payment-window.ts).
 * - `POST clock`, `POST|DELETE faults` (endpoints: getToken, getPayment, find, findAll, list, cancel,
 *   revokeVbank, prepare), `POST webhooks`, `GET ledger`, `POST reset` (also restores the options).
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
  /** UNCONFIRMED: status after a partial cancel (default `paid`); also switchable at run time. */
  partialCancelStatus?: 'paid' | 'cancelled';
  /** UNCONFIRMED: hide sandbox payments from single lookups unless include_sandbox=true; switchable too. */
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
  invalidPaymentStatus: 'payment_status 값이 올바르지 않습니다.',
  pageOutOfRange: '데이터 범위를 넘어선 page 입니다.',
  invalidListQuery: '검색 조건이 올바르지 않습니다.',
  notVbank: '가상계좌 결제건이 아닙니다.',
  vbankNotReady: '입금대기(ready) 상태의 가상계좌가 아닙니다.',
};

export interface PortOneSimulator {
  url: string;
  state: SimulatorState;
  impKey: string;
  impSecret: string;
  /** Where notifications go when a payment names no notice_url (the app's port may be known only later). */
  setWebhookUrl(url: string | null): void;
  /** Present when started with `v2`: the V2 base URL (`<url>/v2`) and its state. */
  v2?: { url: string; state: V2SimulatorState; setWebhookUrl(url: string | null): void };
  close(): Promise<void>;
}

type Body = Record<string, unknown>;
const envelope = (response: unknown) => ({ code: 0, message: null, response });
const failure = (code: number, message: string) => ({ code, message, response: null });

export async function startPortOneSimulator(options: PortOneSimulatorOptions): Promise<PortOneSimulator> {
  const state = new SimulatorState({
    partialCancelStatus: options.partialCancelStatus ?? 'paid',
    includeSandboxFilter: options.includeSandboxFilter ?? false,
  });
  const messages = { ...DEFAULT_MESSAGES, ...options.messages };
  const server = Fastify({ logger: false });
  await server.register(formbody);
  const log = options.logger;
  let webhookUrl = options.webhookUrl ?? null;

  // --- faults and auth -------------------------------------------------------------------------
  const endpointOf = (request: FastifyRequest): SimulatorEndpoint | null =>
    ((request.routeOptions.config as { endpoint?: SimulatorEndpoint } | undefined)?.endpoint ?? null);

  const apiSockets = new WeakSet<object>();
  server.addHook('onRequest', async (request) => {
    if (endpointOf(request) === null || apiSockets.has(request.raw.socket)) return;
    apiSockets.add(request.raw.socket);
    state.apiConnections += 1;
  });

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
      const hidden = state.options.includeSandboxFilter && payment?.sandbox && request.query.include_sandbox !== 'true';
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
        if (!validStatus(request.params.payment_status)) return reply.code(400).send(failure(-1, messages.invalidPaymentStatus));
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
        if (!validStatus(request.params.payment_status)) return reply.code(400).send(failure(-1, messages.invalidPaymentStatus));
        const all = findSorted(request.params.merchant_uid, request.params.payment_status, request.query.sorting);
        if (all.length === 0) return reply.code(404).send(failure(-1, messages.notFound));
        const limit = Math.min(1000, Math.max(1, Number(request.query.limit ?? 20) || 20));
        const page = Math.max(1, Number(request.query.page ?? 1) || 1);
        return envelope(pageOf(all, page, limit));
      },
    );
  }

  // GET /payments/status/{payment_status}: the time-window listing (Swagger `getPaymentsByStatus`).
  const LISTING_STATUSES = ['all', 'ready', 'paid', 'cancelled', 'failed'] as const;
  const SORTINGS = ['-started', 'started', '-paid', 'paid', '-updated', 'updated'];
  const NINETY_DAYS = 90 * 86_400;
  /**
   * The Swagger (from/to): "결제건의 최종 status에 따라 다른 검색기준이 적용됩니다" — the window applies to the
   * time of each payment's own status (ready: started, paid: paid, cancelled: cancelled, failed: failed),
   * for `all` as well: a paid payment is listed by when it was paid, not when its window opened.
   */
  const windowTime = (payment: StoredPayment): number =>
    ({ ready: payment.started_at, paid: payment.paid_at, cancelled: payment.cancelled_at, failed: payment.failed_at })[payment.status];
  /** The parameter as an integer, `fallback` when absent, NaN when it is not an integer. */
  const integerParam = (value: string | undefined, fallback: number): number => {
    if (value === undefined || value === '') return fallback;
    return /^-?\d+$/.test(value) ? Number(value) : Number.NaN;
  };

  server.get<{ Params: { payment_status: string }; Querystring: { page?: string; limit?: string; from?: string; to?: string; sorting?: string } }>(
    '/payments/status/:payment_status',
    { config: { endpoint: 'list' } },
    async (request, reply) => {
      const status = request.params.payment_status;
      if (!(LISTING_STATUSES as readonly string[]).includes(status)) return reply.code(400).send(failure(-1, messages.invalidPaymentStatus));
      const page = integerParam(request.query.page, 1);
      const limit = integerParam(request.query.limit, 20);
      const windowEnd = integerParam(request.query.to, state.now());
      const windowStart = integerParam(request.query.from, windowEnd - NINETY_DAYS);
      const sorting = request.query.sorting ?? '-started';
      const integers = [page, limit, windowEnd, windowStart].every(Number.isInteger);
      // Outside the Swagger's bounds (limit 1..1000): PortOne's answer is UNCONFIRMED (it may clamp); refusing
      // makes a client that relies on more than 1000 rows per page fail here rather than in production.
      if (!integers || page < 1 || limit < 1 || limit > 1000 || !SORTINGS.includes(sorting)) {
        return reply.code(400).send(failure(-1, messages.invalidListQuery));
      }
      // "검색기간은 최대 90일": the response to a longer window is UNCONFIRMED; refusing it keeps callers honest.
      if (windowStart > windowEnd || windowEnd - windowStart > NINETY_DAYS) return reply.code(400).send(failure(-1, messages.invalidListQuery));
      const field = sorting.endsWith('paid') ? 'paid_at' : sorting.endsWith('updated') ? 'updated_at' : 'started_at';
      const descending = sorting.startsWith('-');
      const matching = [...state.payments.values()]
        .filter((p) => (status === 'all' || p.status === status) && windowTime(p) >= windowStart && windowTime(p) <= windowEnd)
        .sort((a, b) => {
          const diff = a[field] - b[field] || a.seq - b.seq;
          return descending ? -diff : diff;
        });
      // The Swagger answers 400 for "a page beyond the data"; page 1 of an empty listing is an empty page.
      if (page > Math.max(1, Math.ceil(matching.length / limit))) return reply.code(400).send(failure(-1, messages.pageOutOfRange));
      return envelope(pageOf(matching, page, limit));
    },
  );

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
    else if (merchantUid) payment = findSorted(merchantUid, 'paid', undefined)[0] ?? findSorted(merchantUid, undefined, undefined)[0];
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
    const url = payment.notice_url ?? webhookUrl;
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
        if (body.webhook_content_type === 'form' || body.webhook_content_type === 'json') {
          const url = payment.notice_url ?? webhookUrl;
          if (url) void deliverWebhook({ url, payload: { imp_uid: payment.imp_uid, merchant_uid: payment.merchant_uid, status: payment.status }, contentType: body.webhook_content_type });
        } else {
          notify(payment, payment.status);
        }
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
      if (status === 'paid' && ((request.body ?? {}) as Body).webhook !== false) notify(payment, 'paid');
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
      notify(payment, 'cancelled');
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
      apiConnections: state.apiConnections,
      cancelRequests: state.cancelRequests,
      webhooks: state.webhooks,
      prepared: [...state.prepared.values()],
    }));
  }

  const v2State = options.v2 ? new V2SimulatorState() : null;
  let v2WebhookTarget: PortOneV2SimulatorOptions | null = null;
  if (options.v2 && v2State) {
    // A copy the plugin reads each delivery's URL from, so setWebhookUrl works after start.
    const v2Options = { ...options.v2 };
    v2WebhookTarget = v2Options;
    await server.register(async (instance) => registerPortOneV2Simulator(instance, v2State, v2Options), { prefix: '/v2' });
  }

  const address = await server.listen({ port: options.port ?? 0, host: options.host ?? '127.0.0.1' });
  log?.info({ url: address, control: options.control }, 'PortOne simulator listening');
  return {
    url: address,
    state,
    impKey: options.impKey,
    impSecret: options.impSecret,
    setWebhookUrl: (url) => {
      webhookUrl = url;
    },
    v2: v2State
      ? {
          url: `${address}/v2`,
          state: v2State,
          setWebhookUrl: (url) => {
            if (v2WebhookTarget) v2WebhookTarget.webhookUrl = url;
          },
        }
      : undefined,
    close: () => server.close(),
  };
}

/** One page of a listing in PortOne's paged shape; `previous`/`next` are 0 when there is none. */
function pageOf(all: StoredPayment[], page: number, limit: number) {
  const last = Math.ceil(all.length / limit);
  return {
    total: all.length,
    previous: page > 1 ? page - 1 : 0,
    next: page < last ? page + 1 : 0,
    list: all.slice((page - 1) * limit, page * limit).map(toApiPayment),
  };
}

function nonEmpty(value: unknown): string | null {
  return typeof value === 'string' && value.trim() !== '' ? value.trim() : null;
}

function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms).unref());
}

