import { createHash, randomUUID } from 'node:crypto';
import type http from 'node:http';
import type { Logger } from 'pino';
import type { GatewayCallObserver } from '../../../observability/app-metrics';
import {
  GatewayError,
  type CancelPaymentRequest,
  type GatewayPayment,
  type PaymentGateway,
  type PaymentListPage,
  type PaymentListQuery,
} from '../../payment-gateway';
import { agentWithConnectTimeout, fetchTextWithin, NOT_SENT, PortOneDeadlineExceeded } from '../portone-http';
import { mapPortOneV2Failure, parseV2ErrorBody, type PortOneV2Operation } from './portone-v2.errors';
import { toGatewayPayment, toMinorUnits, toV2RefundAccount, type V2PaymentBody } from './portone-v2.payment-mapping';

export { minorDigits, toGatewayPayment, type V2PaymentBody } from './portone-v2.payment-mapping';

/*
 * Why not `@portone/server-sdk`'s PaymentClient (0.19.0) for the REST calls: it uses the global fetch with
 * no timeout, no connection pool settings, no retry and no way to send an Idempotency-Key; it throws a
 * SyntaxError (not a typed error) on a non-JSON error page, which would hide whether a cancel may have
 * been applied; it ignores the client-level storeId on getPayment; and it sends the cancel body as
 * text/plain. Those are exactly the parts the money path depends on, so this client speaks HTTP itself
 * (node-fetch with a keep-alive agent and connect + response timeouts, like the V1 client). The SDK is
 * used where it serves: Standard Webhooks verification (portone-v2.webhook.ts).
 */

export interface PortOneV2ClientOptions {
  /** `https://api.portone.io` in production. */
  baseUrl: string;
  /** The V2 API secret from the console (not a PG channel secret: that one gets 401). */
  apiSecret: string;
  /** Sent on every call: a secret may reach several stores, and payment ids are unique per store only. */
  storeId: string;
  connectTimeoutMs: number;
  /** PortOne asks clients to allow at least 60 s; a request is not cancelled when the client gives up. */
  responseTimeoutMs: number;
  logger?: Logger;
  /** Told about every HTTP call (operation, outcome, duration): the gateway latency histogram. */
  onCall?: GatewayCallObserver;
}

interface V2CancellationBody {
  cancellation: { status: string; id: string; totalAmount?: number };
}

const LIST_FILTER: Record<PaymentListQuery['status'], { status: string[]; timestampType: 'STATUS_CHANGED_AT' | 'CREATED_AT' }> = {
  // A partial cancel moves a paid payment to PARTIAL_CANCELLED, which is still paid (balance > 0).
  paid: { status: ['PAID', 'PARTIAL_CANCELLED'], timestampType: 'STATUS_CHANGED_AT' },
  cancelled: { status: ['CANCELLED', 'PARTIAL_CANCELLED'], timestampType: 'STATUS_CHANGED_AT' },
  ready: { status: ['READY', 'VIRTUAL_ACCOUNT_ISSUED', 'PENDING'], timestampType: 'CREATED_AT' },
};

/**
 * PortOne V2 REST client (`Authorization: PortOne <secret>`). Every failure goes through
 * `mapPortOneV2Failure`. The secret is never logged.
 */
export class PortOneV2Client implements PaymentGateway {
  private readonly baseUrl: string;
  private readonly agent: http.Agent;

  constructor(private readonly options: PortOneV2ClientOptions) {
    this.baseUrl = options.baseUrl.replace(/\/+$/, '');
    this.agent = agentWithConnectTimeout(this.baseUrl, options.connectTimeoutMs);
  }

  async getPayment(gatewayPaymentId: string): Promise<GatewayPayment> {
    return toGatewayPayment(await this.request<V2PaymentBody>('read', 'GET', this.paymentPath(gatewayPaymentId)));
  }

  /** On V2 the merchant chooses the payment id, and it is our merchantUid: at most one payment per order id. */
  async findPaymentsByMerchantUid(merchantUid: string): Promise<GatewayPayment[]> {
    try {
      return [await this.getPayment(merchantUid)];
    } catch (error) {
      if (error instanceof GatewayError && error.kind === 'NOT_FOUND') return [];
      throw error;
    }
  }

  async cancelPayment(request: CancelPaymentRequest): Promise<GatewayPayment> {
    if (!(request.amount > 0)) throw new Error('cancelPayment needs an explicit positive amount: a missing amount cancels everything');
    const currency = await this.currencyOf(request);
    const amount = toMinorUnits(request.amount, currency);
    const currentCancellableAmount = toMinorUnits(request.expectedCancellableAmount, currency);
    const body = {
      storeId: this.options.storeId,
      amount,
      currentCancellableAmount,
      reason: request.reason,
      ...(request.refundAccount ? { refundAccount: toV2RefundAccount(request.refundAccount) } : {}),
    };
    // PortOne forbids reusing a key for a different request and may answer a reused key with the first
    // response. So the wire key names the request: the refund's key plus a digest of this exact body.
    // Every retry of the same cancel sends the same key; once the balance (or the refund account) changed,
    // it is a new request with a new key.
    const idempotencyKey =
      request.idempotencyKey === undefined
        ? `cancel-${randomUUID()}`
        : `${request.idempotencyKey}:${createHash('sha256').update(JSON.stringify([request.gatewayPaymentId, body])).digest('base64url').slice(0, 22)}`;
    assertIdempotencyKey(idempotencyKey);
    const result = await this.request<V2CancellationBody>(
      'cancel',
      'POST',
      `/payments/${encodeURIComponent(request.gatewayPaymentId)}/cancel`,
      body,
      { 'idempotency-key': sfString(idempotencyKey) },
    );
    if (result.cancellation?.status === 'FAILED') {
      throw new GatewayError('REJECTED', `PortOne V2 cancel: cancellation ${result.cancellation.id} FAILED`, { gatewayCode: 'CANCELLATION_FAILED', httpStatus: 200 });
    }
    // The cancel took effect (SUCCEEDED) or was accepted (REQUESTED); the caller decides on the balance read back.
    try {
      return await this.getPayment(request.gatewayPaymentId);
    } catch (error) {
      throw new GatewayError('OUTCOME_UNKNOWN', `PortOne V2 accepted cancellation ${result.cancellation?.id} but the read-back failed`, { cause: error });
    }
  }

  async listPayments(query: PaymentListQuery): Promise<PaymentListPage> {
    const filter = LIST_FILTER[query.status];
    const requestBody = {
      page: { number: query.page - 1, size: query.limit },
      filter: {
        storeId: this.options.storeId,
        timestampType: filter.timestampType,
        from: query.from.toISOString(),
        until: query.to.toISOString(),
        status: filter.status,
        // Oldest first, so a page boundary never hides a payment that changes while we read.
        sortBy: filter.timestampType === 'CREATED_AT' ? 'REQUESTED_AT' : 'STATUS_CHANGED_AT',
        sortOrder: 'ASC',
      },
    };
    const body = await this.request<{ items: V2PaymentBody[]; page: { number: number; size: number; totalCount: number } }>(
      'list',
      'GET',
      `/payments?requestBody=${encodeURIComponent(JSON.stringify(requestBody))}`,
    );
    // Counted from the page we asked for, not the number PortOne echoes: one that never moved would keep
    // the sweep's walk (no call budget inside a crowd) going forever. PortOne's size, in case it capped ours.
    const seen = query.page * body.page.size;
    return { payments: body.items.map(toGatewayPayment), nextPage: body.items.length > 0 && seen < body.page.totalCount ? query.page + 1 : null };
  }

  /** V2 `POST /payments/{id}/virtual-account/close`; 409 PAYMENT_NOT_WAITING_FOR_DEPOSIT becomes REJECTED. */
  async revokeVirtualAccount(gatewayPaymentId: string): Promise<GatewayPayment> {
    await this.request<{ closedAt: string }>('closeVirtualAccount', 'POST', `${this.paymentPath(gatewayPaymentId, '/virtual-account/close')}`, {});
    return this.getPayment(gatewayPaymentId);
  }

  private paymentPath(paymentId: string, suffix = ''): string {
    return `/payments/${encodeURIComponent(paymentId)}${suffix}?storeId=${encodeURIComponent(this.options.storeId)}`;
  }

  /** V2 amounts are integers in the currency's smallest unit (USD cents): the currency decides the scale. */
  private async currencyOf(request: CancelPaymentRequest): Promise<string> {
    return request.currency ?? (await this.getPayment(request.gatewayPaymentId)).currency;
  }

  private async request<T>(operation: PortOneV2Operation, method: string, path: string, body?: unknown, extraHeaders: Record<string, string> = {}): Promise<T> {
    const started = performance.now();
    const logPath = path.replace(/\?.*$/, '');
    let response;
    try {
      response = await fetchTextWithin(
        `${this.baseUrl}${path}`,
        {
          method,
          agent: this.agent,
          headers: {
            accept: 'application/json',
            authorization: `PortOne ${this.options.apiSecret}`,
            ...(body === undefined ? {} : { 'content-type': 'application/json' }),
            ...extraHeaders,
          },
          body: body === undefined ? undefined : JSON.stringify(body),
        },
        this.options.responseTimeoutMs,
      );
      this.observe(operation, `${Math.floor(response.status / 100)}xx`, started);
    } catch (error) {
      const code = (error as { code?: string }).code;
      const message = error instanceof Error ? error.message : String(error);
      this.options.logger?.warn({ portone: { version: 'v2', method, path: logPath, error: code ?? message, ms: Math.round(performance.now() - started) } }, 'PortOne call failed');
      const timedOut = error instanceof PortOneDeadlineExceeded;
      this.observe(operation, timedOut ? 'timeout' : 'network', started);
      throw mapPortOneV2Failure(operation, { kind: 'network', code: timedOut ? 'ETIMEDOUT' : code, message, requestSent: timedOut || !NOT_SENT.has(code ?? '') });
    }
    this.options.logger?.info(
      { portone: { version: 'v2', method, path: logPath, status: response.status, ms: Math.round(performance.now() - started) } },
      'PortOne call',
    );
    if (response.status < 200 || response.status >= 300) {
      throw mapPortOneV2Failure(operation, { kind: 'http', httpStatus: response.status, body: parseV2ErrorBody(response.text) });
    }
    try {
      return JSON.parse(response.text) as T;
    } catch {
      throw mapPortOneV2Failure(operation, { kind: 'http', httpStatus: response.status, body: null });
    }
  }

  private observe(operation: PortOneV2Operation, outcome: string, started: number): void {
    this.options.onCall?.({ gateway: 'portone_v2', endpoint: operation, outcome, seconds: (performance.now() - started) / 1000 });
  }
}

/** RFC 8941 sf-string: the form PortOne's REST overview asks for (`Idempotency-Key: "…"`). */
function sfString(value: string): string {
  return `"${value.replace(/[\\"]/g, (c) => `\\${c}`)}"`;
}

function assertIdempotencyKey(key: string): void {
  if (key.length < 16 || key.length > 256 || !/^[\x20-\x7e]+$/.test(key)) {
    throw new Error('idempotencyKey must be printable ASCII, 16 to 256 characters with its 23-character request digest appended');
  }
}
