import { randomBytes } from 'node:crypto';
import Fastify, { type FastifyInstance, type FastifyReply, type FastifyRequest } from 'fastify';
import fetch from 'node-fetch';
import type { Logger } from 'pino';
import { Webhook } from 'standardwebhooks';
import { registerPaymentWindow, WINDOW_FAILURE_MESSAGE } from '../payment-window';
import {
  toV2Cancellation,
  toV2Payment,
  V2SimulatorState,
  type StoredV2Payment,
  type V2Fault,
  type V2FaultKind,
  type V2PaymentMethodKind,
  type V2PaymentStatus,
  type V2SimulatorEndpoint,
} from './portone-v2-simulator-state';

/**
 * A PortOne V2 REST API simulator following PortOne's V2 API contract and its OpenAPI
 * (1.16.0): `GET /payments/{id}`, `GET /payments`, `POST /payments/{id}/cancel`,
 * `POST /payments/{id}/virtual-account/close`, the `{type, message}` error envelopes with their HTTP
 * statuses, the `currentCancellableAmount` guard, Idempotency-Key replay, Standard-Webhooks-signed
 * webhooks (body version 2024-04-25) with retries, and a `/__control` API in the V1 simulator's style.
 * It is a Fastify plugin, so it can be mounted in the V1 simulator's server under a prefix, or run alone.
 * Where the contract marks behaviour UNCONFIRMED it is an option.
 */
export interface PortOneV2SimulatorOptions {
  /** The V2 API secret the simulator accepts in `Authorization: PortOne <secret>`. */
  apiSecret: string;
  /** The secret's own store: used when a call names none. */
  storeId: string;
  /** Further stores the same secret may act for (a payment id is unique per store only). */
  otherStoreIds?: string[];
  merchantId?: string;
  /** Register `/__control` (tests and demo mode only). */
  control: boolean;
  /** The console's webhook URL; none means no webhooks are sent. */
  webhookUrl?: string | null;
  /** Signing secrets (`whsec_` + base64); during a rotation two, and every delivery carries both signatures. */
  webhookSecrets: string[];
  /** PortOne re-sends a failed delivery up to 5 times after 1, 4, 16, 64, 256 minutes (full jitter); `unitMs` is one "minute". */
  webhookRetry?: { enabled: boolean; unitMs: number; jitter?: boolean };
  /** UNCONFIRMED: whether a completed error answer is replayed for its Idempotency-Key (as successes are). */
  idempotencyReplay?: 'all' | 'success-only';
  /** PortOne keeps keys for 3 hours. */
  idempotencyRetentionMs?: number;
  logger?: Logger;
}

export interface PortOneV2Simulator {
  /** The V2 base URL (what `PORTONE_API_URL` is set to with `PORTONE_VERSION=v2`). */
  url: string;
  state: V2SimulatorState;
  apiSecret: string;
  storeId: string;
  webhookSecrets: string[];
  /** The console's webhook URL, when the app's port is known only after the simulator started. */
  setWebhookUrl(url: string | null): void;
  close(): Promise<void>;
}

type Body = Record<string, unknown>;
const INVALID_JSON = Symbol('invalid JSON');
const RETRY_BACKOFF_UNITS = [1, 4, 16, 64, 256];
const DEFAULT_PAGE_SIZE = 10;

const fail = (reply: FastifyReply, httpStatus: number, type: string, message: string, extra: Body = {}) =>
  reply.code(httpStatus).send({ type, message, ...extra });

/** A fresh signing secret in the console's format. */
export function newWebhookSecret(): string {
  return `whsec_${randomBytes(24).toString('base64')}`;
}

/**
 * Registers the V2 API (and `/__control` when asked) on `server`; every route lives in this plugin's own
 * encapsulated context, so its body parser and hooks do not touch a V1 simulator it is mounted beside.
 */
export function registerPortOneV2Simulator(server: FastifyInstance, state: V2SimulatorState, options: PortOneV2SimulatorOptions): void {
  const stores = new Set([options.storeId, ...(options.otherStoreIds ?? [])]);
  const merchantId = options.merchantId ?? 'merchant-00000000-0000-0000-0000-000000000001';
  const retentionMs = options.idempotencyRetentionMs ?? 3 * 3_600_000;
  const signers = options.webhookSecrets.map((secret) => new Webhook(secret));
  let webhookRetry = options.webhookRetry;

  // JSON whatever the Content-Type says: the official SDK sends its cancel body as text/plain.
  server.removeAllContentTypeParsers();
  server.addContentTypeParser('*', { parseAs: 'string' }, (_request, body, done) => {
    const text = String(body);
    if (text.trim() === '') return done(null, undefined);
    try {
      done(null, JSON.parse(text));
    } catch {
      done(null, INVALID_JSON);
    }
  });

  const isApi = (request: FastifyRequest) => (request.routeOptions.config as { v2Api?: boolean } | undefined)?.v2Api === true;

  const apiSockets = new WeakSet<object>();
  server.addHook('onRequest', async (request) => {
    if (!isApi(request) || apiSockets.has(request.raw.socket)) return;
    apiSockets.add(request.raw.socket);
    state.apiConnections += 1;
  });

  server.addHook('onRequest', async (request, reply) => {
    if (!isApi(request)) return;
    // UNCONFIRMED: whether the scheme is case-sensitive; accepted either way.
    const match = /^portone\s+(.+)$/i.exec(String(request.headers.authorization ?? '').trim());
    if (!match || match[1] !== options.apiSecret) return fail(reply, 401, 'UNAUTHORIZED', '인증 정보가 올바르지 않습니다.');
  });

  /** The store a call acts for, or a reply already sent (403) when the secret may not act for it. */
  const storeOf = (requested: unknown, reply: FastifyReply): string | null => {
    if (requested === undefined || requested === null || requested === '') return options.storeId;
    if (typeof requested === 'string' && stores.has(requested)) return requested;
    void fail(reply, 403, 'FORBIDDEN', '요청이 거절되었습니다.');
    return null;
  };

  /** Applies a pre-processing fault; true when the fault already answered (or dropped) the request. */
  const preFault = async (fault: V2Fault | null, request: FastifyRequest, reply: FastifyReply): Promise<boolean> => {
    if (!fault) return false;
    if (fault.kind === 'latency') await sleep(fault.latencyMs ?? 1000);
    if (fault.kind === 'http500') {
      void reply.code(500).type('text/html').send('<html><body>500 Internal Server Error</body></html>');
      return true;
    }
    if (fault.kind === 'http503') {
      void reply.code(503).type('text/html').send('<html><body>503 Service Temporarily Unavailable</body></html>');
      return true;
    }
    if (fault.kind === 'reset') {
      request.raw.socket.destroy();
      void reply.hijack();
      return true;
    }
    if (fault.kind === 'pgError') {
      void fail(reply, 502, 'PG_PROVIDER', 'PG사에서 오류를 전달했습니다.', { pgCode: 'PG9999', pgMessage: fault.message ?? '취소 처리 중 PG사 오류' });
      return true;
    }
    if (fault.kind === 'error') {
      void fail(reply, fault.httpStatus ?? 400, fault.type ?? 'INVALID_REQUEST', fault.message ?? 'injected error');
      return true;
    }
    return false;
  };

  const render = (payment: StoredV2Payment) => toV2Payment(payment, merchantId);

  // --- V2 API ----------------------------------------------------------------------------------
  server.get<{ Params: { paymentId: string }; Querystring: { storeId?: string } }>(
    '/payments/:paymentId',
    { config: { v2Api: true } },
    async (request, reply) => {
      if (await preFault(state.takeFault('getPayment'), request, reply)) return reply;
      const storeId = storeOf(request.query.storeId, reply);
      if (!storeId) return reply;
      state.reads.push({ at: state.nowMs(), paymentId: request.params.paymentId, storeId });
      const payment = state.get(storeId, request.params.paymentId);
      if (!payment) return fail(reply, 404, 'PAYMENT_NOT_FOUND', '결제 건이 존재하지 않습니다.');
      return render(payment);
    },
  );

  server.get<{ Querystring: { requestBody?: string } }>('/payments', { config: { v2Api: true } }, async (request, reply) => {
    if (await preFault(state.takeFault('listPayments'), request, reply)) return reply;
    let input: Body = {};
    try {
      // The OpenAPI's "query or body": a JSON document in the `requestBody` query parameter, or a JSON body.
      if (request.query.requestBody !== undefined) input = JSON.parse(request.query.requestBody) as Body;
      else if (request.body && request.body !== INVALID_JSON) input = request.body as Body;
      else if (request.body === INVALID_JSON) throw new Error('invalid');
    } catch {
      return fail(reply, 400, 'INVALID_REQUEST', 'requestBody 가 올바른 JSON 이 아닙니다.');
    }
    const filter = (input.filter ?? {}) as Body;
    const page = (input.page ?? {}) as Body;
    const number = page.number === undefined ? 0 : Number(page.number);
    const size = page.size === undefined ? DEFAULT_PAGE_SIZE : Number(page.size);
    if (!Number.isInteger(number) || number < 0 || !Number.isInteger(size) || size < 1 || size > 1000) {
      return fail(reply, 400, 'INVALID_REQUEST', 'page.number 는 0 이상, page.size 는 1~1000 이어야 합니다.');
    }
    let storeIds = [...stores];
    if (filter.storeId !== undefined) {
      const storeId = storeOf(filter.storeId, reply);
      if (!storeId) return reply;
      storeIds = [storeId];
    }
    const until = filter.until === undefined ? state.nowMs() : Date.parse(String(filter.until));
    const from = filter.from === undefined ? until - 90 * 86_400_000 : Date.parse(String(filter.from));
    if (Number.isNaN(from) || Number.isNaN(until)) return fail(reply, 400, 'INVALID_REQUEST', 'from / until 은 RFC 3339 시각이어야 합니다.');
    const timestampType = filter.timestampType ?? 'CREATED_AT';
    if (timestampType !== 'CREATED_AT' && timestampType !== 'STATUS_CHANGED_AT') return fail(reply, 400, 'INVALID_REQUEST', 'timestampType 이 올바르지 않습니다.');
    // The filter enum says PENDING where the payment itself says PAY_PENDING.
    const statuses = Array.isArray(filter.status) ? new Set((filter.status as string[]).map((s) => (s === 'PENDING' ? 'PAY_PENDING' : s))) : null;
    const at = (p: StoredV2Payment) => (timestampType === 'CREATED_AT' ? p.requestedAt : p.statusChangedAt);
    const sortAt = (p: StoredV2Payment) => (filter.sortBy === 'STATUS_CHANGED_AT' ? p.statusChangedAt : p.requestedAt);
    const descending = filter.sortOrder !== 'ASC';
    const matching = [...state.payments.values()]
      .filter((p) => storeIds.includes(p.storeId) && at(p) >= from && at(p) <= until && (!statuses || statuses.has(p.status)))
      .filter((p) => filter.isTest === undefined || (p.channelType === 'TEST') === Boolean(filter.isTest))
      .sort((a, b) => {
        const diff = sortAt(a) - sortAt(b) || a.seq - b.seq;
        return descending ? -diff : diff;
      });
    return { items: matching.slice(number * size, (number + 1) * size).map(render), page: { number, size, totalCount: matching.length } };
  });

  server.post<{ Params: { paymentId: string } }>('/payments/:paymentId/cancel', { config: { v2Api: true } }, async (request, reply) => {
    const body = (request.body && request.body !== INVALID_JSON ? request.body : {}) as Body;
    const record = {
      at: state.nowMs(),
      paymentId: request.params.paymentId,
      storeId: typeof body.storeId === 'string' ? body.storeId : options.storeId,
      idempotencyKey: null as string | null,
      body,
      replayed: false,
      applied: false,
      responseLost: false,
      httpStatus: null as number | null,
      outcome: '',
    };
    state.cancelRequests.push(record);

    const rawKey = request.headers['idempotency-key'];
    let key: string | null = null;
    if (rawKey !== undefined) {
      key = parseSfString(Array.isArray(rawKey) ? rawKey.join(',') : rawKey);
      if (key === null || key.length < 16 || key.length > 256) {
        record.httpStatus = 400;
        record.outcome = 'rejected: malformed Idempotency-Key';
        return fail(reply, 400, 'INVALID_REQUEST', 'Idempotency-Key 는 16~256자의 ASCII 문자열(RFC 8941 sf-string)이어야 합니다.');
      }
      record.idempotencyKey = key;
      const scope = `${options.apiSecret}\u0000${key}`;
      const fingerprint = JSON.stringify([request.params.paymentId, body]);
      const existing = state.idempotency.get(scope);
      if (existing && state.nowMs() - existing.at > retentionMs) state.idempotency.delete(scope);
      const kept = state.idempotency.get(scope);
      if (kept) {
        record.replayed = true;
        if (kept.fingerprint !== fingerprint) {
          record.httpStatus = 400;
          record.outcome = 'rejected: Idempotency-Key reused for another request';
          // UNCONFIRMED: PortOne only says never to do this.
          return fail(reply, 400, 'INVALID_REQUEST', '같은 Idempotency-Key 로 다른 요청을 보낼 수 없습니다.');
        }
        if (kept.state === 'in-flight') {
          record.httpStatus = 409;
          record.outcome = 'rejected: same Idempotency-Key in flight';
          return fail(reply, 409, 'IDEMPOTENCY_OUTSTANDING_REQUEST', '같은 Idempotency-Key 의 요청이 처리 중입니다.');
        }
        record.httpStatus = kept.httpStatus;
        record.outcome = 'replayed';
        return reply.code(kept.httpStatus).send(kept.body);
      }
      state.idempotency.set(scope, { fingerprint, state: 'in-flight', httpStatus: 0, body: null, at: state.nowMs() });
    }
    const scope = key === null ? null : `${options.apiSecret}\u0000${key}`;

    const fault = state.takeFault('cancel');
    if (fault?.kind === 'latency') await sleep(fault.latencyMs ?? 1000);
    if (fault && (['http500', 'http503', 'reset'] as V2FaultKind[]).includes(fault.kind)) {
      // An edge failure before any processing: nothing applied, and the key is free again.
      if (scope) state.idempotency.delete(scope);
      record.outcome = `fault: ${fault.kind}`;
      record.httpStatus = fault.kind === 'reset' ? null : fault.kind === 'http500' ? 500 : 503;
      await preFault(fault, request, reply);
      return reply;
    }
    let outcome: { httpStatus: number; body: unknown; applied: boolean };
    if (fault?.kind === 'pgError') {
      outcome = { httpStatus: 502, body: { type: 'PG_PROVIDER', message: 'PG사에서 오류를 전달했습니다.', pgCode: 'PG9999', pgMessage: fault.message ?? '취소 처리 중 PG사 오류' }, applied: false };
    } else if (fault?.kind === 'error') {
      outcome = { httpStatus: fault.httpStatus ?? 400, body: { type: fault.type ?? 'INVALID_REQUEST', message: fault.message ?? 'injected error' }, applied: false };
    } else {
      outcome = processCancel(request.params.paymentId, body);
    }
    record.httpStatus = outcome.httpStatus;
    record.applied = outcome.applied;
    record.outcome = outcome.applied ? 'applied' : `rejected: ${(outcome.body as { type?: string }).type}`;
    if (scope) complete(scope, outcome.httpStatus, outcome.body);
    if (fault?.kind === 'applyThenLose' && outcome.applied) {
      record.responseLost = true;
      request.raw.socket.destroy();
      return reply.hijack();
    }
    return reply.code(outcome.httpStatus).send(outcome.body);
  });

  function complete(scope: string, httpStatus: number, body: unknown): void {
    const kept = state.idempotency.get(scope);
    if (!kept) return;
    if (options.idempotencyReplay === 'success-only' && httpStatus >= 300) {
      state.idempotency.delete(scope);
      return;
    }
    Object.assign(kept, { state: 'done', httpStatus, body, at: state.nowMs() });
  }

  /** The cancel rules of contract B2; order of checks where several apply is UNCONFIRMED. */
  function processCancel(paymentId: string, body: Body): { httpStatus: number; body: unknown; applied: boolean } {
    const reject = (httpStatus: number, type: string, message: string) => ({ httpStatus, body: { type, message }, applied: false });
    const storeId = body.storeId === undefined || body.storeId === '' ? options.storeId : body.storeId;
    if (typeof storeId !== 'string' || !stores.has(storeId)) return reject(403, 'FORBIDDEN', '요청이 거절되었습니다.');
    if (typeof body.reason !== 'string' || body.reason.trim() === '') return reject(400, 'INVALID_REQUEST', 'reason 은 필수입니다.');
    for (const field of ['amount', 'currentCancellableAmount'] as const) {
      if (body[field] !== undefined && !(Number.isInteger(body[field]) && (body[field] as number) >= 0)) return reject(400, 'INVALID_REQUEST', `${field} 는 0 이상의 정수여야 합니다.`);
    }
    const payment = state.get(storeId, paymentId);
    if (!payment) return reject(404, 'PAYMENT_NOT_FOUND', '결제 건이 존재하지 않습니다.');
    if (payment.status === 'CANCELLED') return reject(409, 'PAYMENT_ALREADY_CANCELLED', '이미 취소된 결제 건입니다.');
    if (payment.status !== 'PAID' && payment.status !== 'PARTIAL_CANCELLED') return reject(409, 'PAYMENT_NOT_PAID', '결제가 완료되지 않았습니다.');
    const cancellable = state.cancellable(payment);
    if (body.currentCancellableAmount !== undefined && body.currentCancellableAmount !== cancellable) {
      return reject(409, 'CANCELLABLE_AMOUNT_CONSISTENCY_BROKEN', '취소 가능 잔액 검증에 실패하였습니다.');
    }
    // Omitted amount: everything that is left.
    const amount = body.amount === undefined || body.amount === 0 ? cancellable : (body.amount as number);
    if (amount > cancellable) return reject(409, 'CANCEL_AMOUNT_EXCEEDS_CANCELLABLE_AMOUNT', '취소 금액이 취소 가능 금액을 초과합니다.');
    const account = body.refundAccount as Body | undefined;
    if (payment.method === 'virtualAccount' && !(account && account.bank && account.number && account.holderName)) {
      // UNCONFIRMED at PortOne: the exact error for a virtual-account refund without an account.
      return reject(400, 'INVALID_REQUEST', '가상계좌 결제 취소에는 환불 계좌(refundAccount)가 필요합니다.');
    }
    const requested = state.cancelMode === 'requested';
    const cancellation = state.applyCancel(payment, amount, body.reason as string, 'API', account ?? null, requested ? 'REQUESTED' : 'SUCCEEDED');
    if (body.skipWebhook !== true) notify(payment, requested ? 'Transaction.CancelPending' : cancelEvent(payment), cancellation.id);
    return { httpStatus: 200, body: { cancellation: toV2Cancellation(cancellation) }, applied: true };
  }

  server.post<{ Params: { paymentId: string }; Querystring: { storeId?: string } }>(
    '/payments/:paymentId/virtual-account/close',
    { config: { v2Api: true } },
    async (request, reply) => {
      if (await preFault(state.takeFault('closeVirtualAccount'), request, reply)) return reply;
      const storeId = storeOf(request.query.storeId, reply);
      if (!storeId) return reply;
      const payment = state.get(storeId, request.params.paymentId);
      if (!payment) return fail(reply, 404, 'PAYMENT_NOT_FOUND', '결제 건이 존재하지 않습니다.');
      if (payment.status !== 'VIRTUAL_ACCOUNT_ISSUED') return fail(reply, 409, 'PAYMENT_NOT_WAITING_FOR_DEPOSIT', '결제 건이 입금 대기 상태가 아닙니다.');
      // UNCONFIRMED: the status of a closed, never-paid virtual account. CANCELLED with nothing cancelled.
      state.setStatus(payment, 'CANCELLED');
      payment.cancelledAt = state.nowMs();
      return { closedAt: new Date(payment.cancelledAt).toISOString() };
    },
  );

  // --- webhooks ---------------------------------------------------------------------------------
  function notify(payment: StoredV2Payment, type: string, cancellationId?: string): void {
    if (!options.webhookUrl) return;
    const knobs = state.webhookKnobs && state.webhookKnobs.remaining > 0 ? state.webhookKnobs : null;
    if (knobs) knobs.remaining -= 1;
    void deliver({
      url: options.webhookUrl,
      type,
      data: { paymentId: payment.id, storeId: payment.storeId, transactionId: payment.transactionId, ...(cancellationId ? { cancellationId } : {}) },
      corruptSignature: knobs?.corruptSignature,
      timestampSkewSeconds: knobs?.timestampSkewSeconds,
      duplicate: knobs?.duplicate,
    });
  }

  async function deliver(input: {
    url: string;
    type: string;
    data: Body;
    webhookId?: string;
    corruptSignature?: boolean;
    timestampSkewSeconds?: number;
    duplicate?: boolean;
    delayMs?: number;
    retry?: boolean;
  }): Promise<void> {
    if (input.delayMs) await sleep(input.delayMs);
    // One message: its id and body (with the event time) stay the same on every attempt and duplicate.
    const webhookId = input.webhookId ?? `msg_${randomBytes(12).toString('hex')}`;
    const body = JSON.stringify({ type: input.type, timestamp: new Date(state.nowMs()).toISOString(), data: input.data });
    const copies = input.duplicate ? 2 : 1;
    await Promise.all(Array.from({ length: copies }, () => attempt(input, webhookId, body, 1)));
  }

  async function attempt(
    input: { url: string; type: string; corruptSignature?: boolean; timestampSkewSeconds?: number; retry?: boolean },
    webhookId: string,
    body: string,
    attemptNumber: number,
  ): Promise<void> {
    const timestamp = new Date(state.nowMs() + (input.timestampSkewSeconds ?? 0) * 1000);
    let signature = signers.map((signer) => signer.sign(webhookId, timestamp, body)).join(' ');
    if (input.corruptSignature) signature = signature.replace(/v1,(.)/g, (_m, c: string) => `v1,${c === 'A' ? 'B' : 'A'}`);
    const headers = {
      'content-type': 'application/json',
      'webhook-id': webhookId,
      'webhook-timestamp': String(Math.floor(timestamp.getTime() / 1000)),
      'webhook-signature': signature,
    };
    const record = { at: state.nowMs(), url: input.url, webhookId, attempt: attemptNumber, type: input.type, body, headers, httpStatus: null as number | null, error: null as string | null };
    state.webhooks.push(record);
    try {
      const response = await fetch(input.url, { method: 'POST', headers, body, timeout: 30_000 });
      record.httpStatus = response.status;
      await response.text();
      if (response.status >= 200 && response.status < 300) return;
    } catch (error) {
      record.error = error instanceof Error ? error.message : String(error);
    }
    const retry = webhookRetry;
    if (input.retry !== false && retry?.enabled && attemptNumber <= RETRY_BACKOFF_UNITS.length) {
      const backoff = RETRY_BACKOFF_UNITS[attemptNumber - 1] * retry.unitMs;
      await sleep(retry.jitter === false ? backoff : Math.random() * backoff);
      await attempt(input, webhookId, body, attemptNumber + 1);
    }
  }

  // --- test control API --------------------------------------------------------------------------
  if (!options.control) return;

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
    const kinds: V2FaultKind[] = ['latency', 'http500', 'http503', 'reset', 'applyThenLose', 'pgError', 'error'];
    const endpoints = ['getPayment', 'listPayments', 'cancel', 'closeVirtualAccount', 'all'];
    if (!kinds.includes(body.kind as V2FaultKind)) return reply.code(400).send({ error: `kind must be one of ${kinds.join(', ')}` });
    if (body.endpoint !== undefined && !endpoints.includes(body.endpoint as string)) return reply.code(400).send({ error: `endpoint must be one of ${endpoints.join(', ')}` });
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
    const delivery = deliver({
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
    webhookRetry = { enabled: body.enabled !== false, unitMs: Number(body.unitMs ?? 60_000), jitter: body.jitter !== false };
    return webhookRetry;
  });

  server.post('/__control/reset', async () => {
    webhookRetry = options.webhookRetry;
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

/** Runs the V2 simulator on its own port (tests; `npm start` may instead mount it beside V1). */
export async function startPortOneV2Simulator(options: PortOneV2SimulatorOptions & { port?: number; host?: string }): Promise<PortOneV2Simulator> {
  const state = new V2SimulatorState();
  const server = Fastify({ logger: false });
  await server.register(async (instance) => registerPortOneV2Simulator(instance, state, options));
  const url = await server.listen({ port: options.port ?? 0, host: options.host ?? '127.0.0.1' });
  options.logger?.info({ url, control: options.control }, 'PortOne V2 simulator listening');
  return {
    url,
    state,
    apiSecret: options.apiSecret,
    storeId: options.storeId,
    webhookSecrets: options.webhookSecrets,
    // The plugin reads options.webhookUrl at each delivery.
    setWebhookUrl: (webhookUrl) => {
      options.webhookUrl = webhookUrl;
    },
    close: () => server.close(),
  };
}

/** RFC 8941 sf-string (`"..."`, `\"` and `\\` escapes, printable ASCII); null when malformed. */
export function parseSfString(raw: string): string | null {
  const match = /^\s*"((?:[\x20-\x21\x23-\x5b\x5d-\x7e]|\\["\\])*)"\s*$/.exec(raw);
  return match ? match[1].replace(/\\(["\\])/g, '$1') : null;
}

function cancelEvent(payment: StoredV2Payment): string {
  return payment.cancelled >= payment.total ? 'Transaction.Cancelled' : 'Transaction.PartialCancelled';
}

function nonEmpty(value: unknown): string | null {
  return typeof value === 'string' && value.trim() !== '' ? value.trim() : null;
}

function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms).unref());
}
