import { GatewayError } from '../../payment-gateway';

/** PortOne V1's wording for the two code-1 cancel outcomes we must tell apart. */
const ALREADY_CANCELLED = /이미 전액\s*취소|already.*cancel/i;
const CANCEL_TARGET_MISSING = /취소할 결제건이 존재하지 않습니다/;

export type PortOneV1Operation = 'getToken' | 'read' | 'list' | 'cancel' | 'revokeVbank';

/** Calls that change a payment: when one may have reached PortOne, only reading back tells what happened. */
const CHANGES_PAYMENT: ReadonlySet<PortOneV1Operation> = new Set(['cancel', 'revokeVbank']);

export type PortOneV1Failure =
  | { kind: 'http'; httpStatus: number; code: number | null; message: string | null }
  | { kind: 'envelope'; httpStatus: number; code: number; message: string | null }
  | { kind: 'network'; code: string | undefined; message: string; requestSent: boolean };

/**
 * The one place PortOne V1 failures become domain errors. The question it answers is what the caller
 * may do next: retry safely, read back first, give up, or call an operator.
 */
export function mapPortOneV1Failure(operation: PortOneV1Operation, failure: PortOneV1Failure): GatewayError {
  if (failure.kind === 'network') {
    const detail = `PortOne ${operation}: ${failure.message}`;
    // A cancel or revoke that may have reached PortOne has an unknown outcome; reads are always safe to repeat.
    if (CHANGES_PAYMENT.has(operation) && failure.requestSent) return new GatewayError('OUTCOME_UNKNOWN', detail, { gatewayCode: failure.code });
    return new GatewayError('UNAVAILABLE', detail, { gatewayCode: failure.code });
  }

  const { httpStatus, code } = failure;
  const message = failure.message ?? `HTTP ${httpStatus}`;
  const details = { gatewayCode: code ?? undefined, httpStatus };
  // A 2xx whose body is not an envelope (a proxy's page, a cut-off body), or code 0 without a response:
  // PortOne got the request and we cannot tell what it did. A change is read back; a read is repeated.
  const unreadableSuccess = (failure.kind === 'http' && httpStatus >= 200 && httpStatus < 300) || (failure.kind === 'envelope' && code === 0);
  if (unreadableSuccess) {
    const detail = `PortOne ${operation}: HTTP ${httpStatus} without a readable answer`;
    return new GatewayError(CHANGES_PAYMENT.has(operation) ? 'OUTCOME_UNKNOWN' : 'UNAVAILABLE', detail, details);
  }
  if (httpStatus === 401) return new GatewayError('MISCONFIGURED', `PortOne refused our credentials (${operation}): ${message}`, details);
  if (failure.kind === 'http') {
    if (httpStatus === 404) return new GatewayError('NOT_FOUND', `PortOne: ${message}`, details);
    // A listing answers 400 for "a page beyond the data" (Swagger getPaymentsByStatus). The client checks
    // status, limit and window before sending, so for it a 400 can only mean that page does not exist.
    if (operation === 'list' && httpStatus === 400) return new GatewayError('NOT_FOUND', `PortOne list: no such page (${message})`, details);
    if (httpStatus >= 500) {
      // 503 comes from PortOne's edge before any processing; other 5xx may follow a processed change.
      if (CHANGES_PAYMENT.has(operation) && httpStatus !== 503) return new GatewayError('OUTCOME_UNKNOWN', `PortOne ${operation}: HTTP ${httpStatus}`, details);
      return new GatewayError('UNAVAILABLE', `PortOne ${operation}: HTTP ${httpStatus}`, details);
    }
    return new GatewayError('REJECTED', `PortOne ${operation}: HTTP ${httpStatus} ${message}`, details);
  }
  // HTTP 200 with code != 0: a business failure.
  if (operation === 'cancel' && code === 1 && ALREADY_CANCELLED.test(message)) return new GatewayError('ALREADY_CANCELLED', message, details);
  if (operation === 'cancel' && code === 1 && CANCEL_TARGET_MISSING.test(message)) return new GatewayError('NOT_FOUND', message, details);
  return new GatewayError('REJECTED', `PortOne ${operation} code ${code}: ${message}`, details);
}
