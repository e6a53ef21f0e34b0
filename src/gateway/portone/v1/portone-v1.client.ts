import type http from 'node:http';
import type { Logger } from 'pino';
import {
  GatewayError,
  type CancelPaymentRequest,
  type GatewayPayment,
  type GatewayPaymentStatus,
  type PaymentGateway,
  type PaymentListPage,
  type PaymentListQuery,
} from '../../payment-gateway';
import type { GatewayCallObserver } from '../../../observability/app-metrics';
import { mapPortOneV1Failure, type PortOneV1Operation } from './portone-v1.errors';
import { agentWithConnectTimeout, fetchTextWithin, NOT_SENT, PortOneDeadlineExceeded } from '../portone-http';

export interface PortOneV1ClientOptions {
  baseUrl: string;
  impKey: string;
  impSecret: string;
  connectTimeoutMs: number;
  responseTimeoutMs: number;
  logger?: Logger;
  /** Told about every HTTP call (operation, outcome, duration): the metrics' hook, beside the log line. */
  onCall?: GatewayCallObserver;
}

interface V1Envelope<T> {
  code: number;
  message: string | null;
  response: T | null;
}

interface V1PaymentBody {
  imp_uid: string;
  merchant_uid: string;
  status: string;
  amount: number;
  cancel_amount: number;
  currency: string;
  pay_method: string | null;
  sandbox?: boolean | null;
  paid_at: number;
  cancel_history: Array<{ cancellation_id: string; amount: number; reason: string | null; cancelled_at: number }> | null;
}

const STATUS: Record<string, GatewayPaymentStatus> = { ready: 'READY', paid: 'PAID', failed: 'FAILED', cancelled: 'CANCELLED' };

/** PortOne's documented bounds for `GET /payments/status/{status}`. */
const LIST_LIMIT_MAX = 1000;
const LIST_WINDOW_MAX_SECONDS = 90 * 86_400;

/**
 * V1 amounts are JSON numbers with decimals for some currencies; drop binary noise past 4 decimal places
 * (the precision `moneyMinus` keeps) and never round to whole units.
 */
function exactAmount(value: number | string | null | undefined): number {
  const n = Number(value ?? 0);
  return Number.isFinite(n) ? Math.round(n * 10_000) / 10_000 : Number.NaN;
}


/**
 * PortOne V1 REST client. The access token is cached by the expiry PortOne reports (`expired_at - now`,
 * never our own wall clock), fetched once however many calls wait for it, and refreshed once on a 401.
 * Every failure goes through `mapPortOneV1Failure`. Secrets and tokens are never logged.
 */
export class PortOneV1Client implements PaymentGateway {
  private readonly baseUrl: string;
  private readonly agent: http.Agent;
  private token: { value: string; validUntilMs: number } | null = null;
  private tokenInFlight: Promise<string> | null = null;

  constructor(private readonly options: PortOneV1ClientOptions) {
    this.baseUrl = options.baseUrl.replace(/\/+$/, '');
    this.agent = agentWithConnectTimeout(this.baseUrl, options.connectTimeoutMs);
  }

  async getPayment(gatewayPaymentId: string): Promise<GatewayPayment> {
    const body = await this.authorized<V1PaymentBody>('read', 'GET', `/payments/${encodeURIComponent(gatewayPaymentId)}?include_sandbox=true`);
    return toGatewayPayment(body);
  }

  async findPaymentsByMerchantUid(merchantUid: string): Promise<GatewayPayment[]> {
    const payments: GatewayPayment[] = [];
    for (let page = 1; page <= 50; page++) {
      let body: { list: V1PaymentBody[]; next: number };
      try {
        body = await this.authorized('read', 'GET', `/payments/findAll/${encodeURIComponent(merchantUid)}?page=${page}&limit=100&sorting=-started`);
      } catch (error) {
        if (error instanceof GatewayError && error.kind === 'NOT_FOUND') return payments;
        throw error;
      }
      payments.push(...body.list.map(toGatewayPayment));
      if (!body.next) break;
    }
    return payments;
  }

  async cancelPayment(request: CancelPaymentRequest): Promise<GatewayPayment> {
    if (!(request.amount > 0)) throw new Error('cancelPayment needs an explicit positive amount: 0 would cancel everything');
    const account = request.refundAccount;
    const body = await this.authorized<V1PaymentBody>('cancel', 'POST', '/payments/cancel', {
      imp_uid: request.gatewayPaymentId,
      amount: request.amount,
      checksum: request.expectedCancellableAmount,
      reason: request.reason,
      ...(account
        ? { refund_holder: account.holder, refund_bank: account.bank, refund_account: account.account, ...(account.tel ? { refund_tel: account.tel } : {}) }
        : {}),
    });
    return toGatewayPayment(body);
  }

  /**
   * One page of `GET /payments/status/{status}`. The window is inclusive at both ends in whole seconds
   * (from rounded down, to rounded up, so nothing inside it is lost) and at most 90 days, as PortOne
   * documents. Pages are numbered over a set that can change between two calls: a payment that leaves the
   * listing (paid → cancelled) shifts later ones one place back, so a walk by page number can skip one;
   * callers that must see everything overlap their windows or walk again.
   */
  async listPayments(query: PaymentListQuery): Promise<PaymentListPage> {
    const from = Math.floor(query.from.getTime() / 1000);
    const to = Math.ceil(query.to.getTime() / 1000);
    if (!Number.isInteger(query.page) || query.page < 1) throw new RangeError(`listPayments page must be an integer >= 1, got ${query.page}`);
    if (!Number.isInteger(query.limit) || query.limit < 1 || query.limit > LIST_LIMIT_MAX) {
      throw new RangeError(`listPayments limit must be an integer from 1 to ${LIST_LIMIT_MAX}, got ${query.limit}`);
    }
    if (!Number.isFinite(from) || !Number.isFinite(to) || from > to || to - from > LIST_WINDOW_MAX_SECONDS) {
      throw new RangeError(`listPayments window must be valid dates running forwards over at most 90 days, got UNIX ${from} .. ${to}`);
    }
    const params = new URLSearchParams({
      page: String(query.page),
      limit: String(query.limit),
      from: String(from),
      to: String(to),
      // Oldest first, so a payment that changes while we read moves towards pages not yet read.
      sorting: query.status === 'paid' ? 'paid' : query.status === 'ready' ? 'started' : 'updated',
    });
    let body: { total: number; next: number; list: V1PaymentBody[] | null };
    try {
      body = await this.authorized('list', 'GET', `/payments/status/${query.status}?${params.toString()}`);
    } catch (error) {
      // The mapper says NOT_FOUND only when the page does not exist (the listing shrank under us).
      if (error instanceof GatewayError && error.kind === 'NOT_FOUND') return { payments: [], nextPage: null };
      throw error;
    }
    const list = body.list ?? [];
    // The sweep pages a crowd to its end with no call budget, so the walk ends on what came back, not on
    // `next` alone: an empty page, or the pages asked for covering `total`, ends it.
    const more = list.length > 0 && body.next > query.page && (typeof body.total !== 'number' || query.page * query.limit < body.total);
    return { payments: list.map(toGatewayPayment), nextPage: more ? body.next : null };
  }

  /** `DELETE /vbanks/{imp_uid}`: the account then reads CANCELLED with nothing cancelled and no paidAt. */
  async revokeVirtualAccount(gatewayPaymentId: string): Promise<GatewayPayment> {
    const body = await this.authorized<V1PaymentBody>('revokeVbank', 'DELETE', `/vbanks/${encodeURIComponent(gatewayPaymentId)}`);
    return toGatewayPayment(body);
  }

  private async authorized<T>(operation: PortOneV1Operation, method: string, path: string, body?: unknown): Promise<T> {
    const token = await this.accessToken();
    const first = await this.send<T>(operation, method, path, body, token);
    if (first.httpStatus !== 401) return this.unwrap(operation, first);
    // A token can expire while a request is in flight: refresh once and try again.
    this.invalidate(token);
    const second = await this.send<T>(operation, method, path, body, await this.accessToken());
    return this.unwrap(operation, second);
  }

  private async accessToken(): Promise<string> {
    if (this.token && performance.now() < this.token.validUntilMs) return this.token.value;
    this.tokenInFlight ??= this.fetchToken().finally(() => {
      this.tokenInFlight = null;
    });
    return this.tokenInFlight;
  }

  private invalidate(token: string): void {
    if (this.token?.value === token) this.token = null;
  }

  private async fetchToken(): Promise<string> {
    const result = await this.send<{ access_token: string; now: number; expired_at: number }>('getToken', 'POST', '/users/getToken', {
      imp_key: this.options.impKey,
      imp_secret: this.options.impSecret,
    });
    const auth = this.unwrap('getToken', result);
    const lifetimeMs = Math.max(0, (auth.expired_at - auth.now) * 1000);
    // Refresh a little early, but never throw away a token PortOne just extended for us.
    const marginMs = Math.min(60_000, lifetimeMs / 2);
    this.token = { value: auth.access_token, validUntilMs: performance.now() + lifetimeMs - marginMs };
    this.options.logger?.debug({ expiresInSeconds: auth.expired_at - auth.now }, 'PortOne access token obtained');
    return auth.access_token;
  }

  private unwrap<T>(operation: PortOneV1Operation, result: { httpStatus: number; envelope: V1Envelope<T> | null }): T {
    const { httpStatus, envelope } = result;
    if (httpStatus !== 200 || !envelope) {
      throw mapPortOneV1Failure(operation, { kind: 'http', httpStatus, code: envelope?.code ?? null, message: envelope?.message ?? null });
    }
    if (envelope.code !== 0 || envelope.response === null) {
      throw mapPortOneV1Failure(operation, { kind: 'envelope', httpStatus, code: envelope.code, message: envelope.message });
    }
    return envelope.response;
  }

  private async send<T>(
    operation: PortOneV1Operation,
    method: string,
    path: string,
    body: unknown,
    token?: string,
  ): Promise<{ httpStatus: number; envelope: V1Envelope<T> | null }> {
    const started = performance.now();
    const logPath = path.replace(/\?.*$/, '');
    try {
      const response = await fetchTextWithin(
        `${this.baseUrl}${path}`,
        {
          method,
          agent: this.agent,
          headers: {
            accept: 'application/json',
            ...(body === undefined ? {} : { 'content-type': 'application/json' }),
            ...(token ? { authorization: `Bearer ${token}` } : {}),
          },
          body: body === undefined ? undefined : JSON.stringify(body),
        },
        this.options.responseTimeoutMs,
      );
      this.observe(operation, `${Math.floor(response.status / 100)}xx`, started);
      this.options.logger?.info(
        { portone: { method, path: logPath, status: response.status, ms: Math.round(performance.now() - started) } },
        'PortOne call',
      );
      return { httpStatus: response.status, envelope: parseEnvelope<T>(response.text) };
    } catch (error) {
      const code = (error as { code?: string }).code;
      const message = error instanceof Error ? error.message : String(error);
      this.options.logger?.warn({ portone: { method, path: logPath, error: code ?? message, ms: Math.round(performance.now() - started) } }, 'PortOne call failed');
      const timedOut = error instanceof PortOneDeadlineExceeded;
      this.observe(operation, timedOut ? 'timeout' : 'network', started);
      throw mapPortOneV1Failure(operation, { kind: 'network', code: timedOut ? 'ETIMEDOUT' : code, message, requestSent: timedOut || !NOT_SENT.has(code ?? '') });
    }
  }

  private observe(operation: PortOneV1Operation, outcome: string, started: number): void {
    this.options.onCall?.({ gateway: 'portone_v1', endpoint: operation, outcome, seconds: (performance.now() - started) / 1000 });
  }
}

function parseEnvelope<T>(text: string): V1Envelope<T> | null {
  try {
    const parsed = JSON.parse(text) as V1Envelope<T>;
    return parsed && typeof parsed === 'object' && 'code' in parsed ? parsed : null;
  } catch {
    return null;
  }
}

function toGatewayPayment(body: V1PaymentBody): GatewayPayment {
  return {
    gatewayPaymentId: body.imp_uid,
    merchantUid: body.merchant_uid,
    status: STATUS[body.status] ?? 'FAILED',
    amount: exactAmount(body.amount),
    cancelledAmount: exactAmount(body.cancel_amount),
    currency: body.currency,
    sandbox: body.sandbox === true,
    payMethod: (body.pay_method ?? 'card').toLowerCase(),
    isVirtualAccount: (body.pay_method ?? '').toLowerCase() === 'vbank',
    paidAt: body.paid_at ? new Date(body.paid_at * 1000) : null,
    cancellations: (body.cancel_history ?? []).map((c) => ({
      cancellationId: c.cancellation_id,
      amount: exactAmount(c.amount),
      reason: c.reason,
      cancelledAt: new Date(c.cancelled_at * 1000),
    })),
  };
}
