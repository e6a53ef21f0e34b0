import { GatewayError, type GatewayErrorKind } from '../../payment-gateway';

export type PortOneV2Operation = 'read' | 'list' | 'cancel' | 'closeVirtualAccount';

/** A V2 error body: `{type, message?}`, plus `pgCode`/`pgMessage` on PG_PROVIDER (OpenAPI 1.16.0). */
export interface PortOneV2ErrorBody {
  type: string;
  message?: string;
  pgCode?: string;
  pgMessage?: string;
}

export type PortOneV2Failure =
  | { kind: 'http'; httpStatus: number; body: PortOneV2ErrorBody | null }
  | { kind: 'network'; code: string | undefined; message: string; requestSent: boolean };

/**
 * Every error `type` the V2 operations we call can answer (OpenAPI 1.16.0: GetPaymentError,
 * GetPaymentsError, CancelPaymentError, CloseVirtualAccountError, plus the Idempotency-Key rule of the
 * REST overview) and what the caller may do next. A type not listed falls back on the HTTP status.
 */
const KIND_BY_TYPE: Record<string, GatewayErrorKind> = {
  PAYMENT_NOT_FOUND: 'NOT_FOUND',
  PAYMENT_ALREADY_CANCELLED: 'ALREADY_CANCELLED',
  // Our credentials or the store they may act for: an operator must fix the configuration.
  UNAUTHORIZED: 'MISCONFIGURED',
  FORBIDDEN: 'MISCONFIGURED',
  // The balance moved since we read it (the I3 guard worked): read back and decide again.
  CANCELLABLE_AMOUNT_CONSISTENCY_BROKEN: 'REJECTED',
  CANCEL_AMOUNT_EXCEEDS_CANCELLABLE_AMOUNT: 'REJECTED',
  PAYMENT_NOT_PAID: 'REJECTED',
  PAYMENT_NOT_WAITING_FOR_DEPOSIT: 'REJECTED',
  INVALID_REQUEST: 'REJECTED',
  MAX_CANCEL_COUNT_REACHED: 'REJECTED',
  SUM_OF_PARTS_EXCEEDS_CANCEL_AMOUNT: 'REJECTED',
  CANCEL_TAX_FREE_AMOUNT_EXCEEDS_CANCELLABLE_TAX_FREE_AMOUNT: 'REJECTED',
  CANCEL_TAX_AMOUNT_EXCEEDS_CANCELLABLE_TAX_AMOUNT: 'REJECTED',
  NEGATIVE_PROMOTION_ADJUSTED_CANCEL_AMOUNT: 'REJECTED',
  PROMOTION_DISCOUNT_RETAIN_OPTION_SHOULD_NOT_BE_CHANGED: 'REJECTED',
  // The PG answered with a refusal: a definite answer, like V1's "결제취소에 실패하였습니다.(...)".
  PG_PROVIDER: 'REJECTED',
  // Another request with the same key is still being processed: its outcome is not known yet.
  IDEMPOTENCY_OUTSTANDING_REQUEST: 'OUTCOME_UNKNOWN',
};

/**
 * The one place PortOne V2 failures become domain errors. The question it answers is what the caller
 * may do next: retry safely, read back first, give up, or call an operator.
 */
export function mapPortOneV2Failure(operation: PortOneV2Operation, failure: PortOneV2Failure): GatewayError {
  const mutating = operation === 'cancel';
  if (failure.kind === 'network') {
    const detail = `PortOne V2 ${operation}: ${failure.message}`;
    // A cancel that may have reached PortOne has an unknown outcome; reads are always safe to repeat.
    if (mutating && failure.requestSent) return new GatewayError('OUTCOME_UNKNOWN', detail, { gatewayCode: failure.code });
    return new GatewayError('UNAVAILABLE', detail, { gatewayCode: failure.code });
  }

  const { httpStatus, body } = failure;
  if (httpStatus >= 200 && httpStatus < 300) {
    // A 2xx we cannot read (a proxy's page, a cut-off body): PortOne got the request and may have acted.
    const detail = `PortOne V2 ${operation}: HTTP ${httpStatus} without a readable answer`;
    return new GatewayError(mutating ? 'OUTCOME_UNKNOWN' : 'UNAVAILABLE', detail, { httpStatus });
  }
  const type = body?.type;
  const message = body?.pgMessage ? `${body.message ?? type} (PG ${body.pgCode ?? '?'}: ${body.pgMessage})` : (body?.message ?? type ?? `HTTP ${httpStatus}`);
  const details = { gatewayCode: type ?? body?.pgCode, httpStatus };
  const known = type ? KIND_BY_TYPE[type] : undefined;
  if (known) return new GatewayError(known, `PortOne V2 ${operation}: ${type}: ${message}`, details);

  // No recognised `type`: fall back on the status, never reading an outage as "not found".
  if (httpStatus === 401 || httpStatus === 403) return new GatewayError('MISCONFIGURED', `PortOne V2 refused our credentials (${operation}): HTTP ${httpStatus}`, details);
  if (httpStatus === 404) {
    // A V2 "not found" always names PAYMENT_NOT_FOUND; a bare 404 means we are talking to the wrong host or path.
    return new GatewayError('MISCONFIGURED', `PortOne V2 ${operation}: HTTP 404 without an error type (is PORTONE_API_URL the V2 API?)`, details);
  }
  if (httpStatus === 429) return new GatewayError('UNAVAILABLE', `PortOne V2 ${operation}: rate limited`, details);
  if (httpStatus >= 500) {
    // 503 comes from PortOne's edge before any processing; other 5xx may follow a processed cancel.
    if (mutating && httpStatus !== 503) return new GatewayError('OUTCOME_UNKNOWN', `PortOne V2 ${operation}: HTTP ${httpStatus}`, details);
    return new GatewayError('UNAVAILABLE', `PortOne V2 ${operation}: HTTP ${httpStatus}`, details);
  }
  return new GatewayError('REJECTED', `PortOne V2 ${operation}: HTTP ${httpStatus} ${message}`, details);
}

/** Parses an error body; anything that is not a V2 error object (an HTML page from a proxy) is null. */
export function parseV2ErrorBody(text: string): PortOneV2ErrorBody | null {
  try {
    const parsed = JSON.parse(text) as unknown;
    if (parsed && typeof parsed === 'object' && typeof (parsed as { type?: unknown }).type === 'string') return parsed as PortOneV2ErrorBody;
  } catch {
    // not JSON
  }
  return null;
}
