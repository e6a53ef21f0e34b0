/**
 * The payment gateway as the domain sees it. Adapters (PortOne V1 today, V2 later) translate their
 * provider's wire format and error codes into these types in exactly one place each.
 */

export type GatewayPaymentStatus = 'READY' | 'PAID' | 'FAILED' | 'CANCELLED';

export interface GatewayCancellation {
  cancellationId: string;
  amount: number;
  reason: string | null;
  cancelledAt: Date;
}

/** A payment exactly as the gateway reported it; the only source of truth for amounts. */
export interface GatewayPayment {
  /** imp_uid on PortOne V1, paymentId on V2. */
  gatewayPaymentId: string;
  /** The order id the payment was made for (V1 merchant_uid). */
  merchantUid: string;
  status: GatewayPaymentStatus;
  /** Amount paid, in the currency's major unit (KRW: won). */
  amount: number;
  /** Cumulative amount cancelled so far. */
  cancelledAmount: number;
  currency: string;
  paidAt: Date | null;
  cancellations: GatewayCancellation[];
}

export interface CancelPaymentRequest {
  gatewayPaymentId: string;
  /** Always explicit: PortOne treats a missing or zero amount as "cancel everything". */
  amount: number;
  /** The balance we believe is still cancellable (V1 checksum, V2 currentCancellableAmount). */
  expectedCancellableAmount: number;
  reason: string;
}

export interface PaymentGateway {
  /** Throws GatewayError NOT_FOUND when the gateway does not know the id. */
  getPayment(gatewayPaymentId: string): Promise<GatewayPayment>;
  /** Every payment record made for one order id, newest first; empty when none. */
  findPaymentsByMerchantUid(merchantUid: string): Promise<GatewayPayment[]>;
  /** Returns the payment as the gateway reports it after the cancel. */
  cancelPayment(request: CancelPaymentRequest): Promise<GatewayPayment>;
}

/**
 * What the caller may do next, not what went wrong on the wire:
 * - NOT_FOUND: the gateway does not know the payment.
 * - ALREADY_CANCELLED: nothing left to cancel; a refund may count this as done after reading back.
 * - REJECTED: a business error from the gateway (code and message kept); retrying as-is will not help
 *   unless the situation changes.
 * - UNAVAILABLE: the request did not take effect (connection refused, 5xx before processing); safe to retry.
 * - OUTCOME_UNKNOWN: the request may have reached the gateway (timeout, reset after sending); read the
 *   payment back before sending anything again.
 * - MISCONFIGURED: our credentials were refused; an operator must act.
 */
export type GatewayErrorKind =
  | 'NOT_FOUND'
  | 'ALREADY_CANCELLED'
  | 'REJECTED'
  | 'UNAVAILABLE'
  | 'OUTCOME_UNKNOWN'
  | 'MISCONFIGURED';

export class GatewayError extends Error {
  constructor(
    readonly kind: GatewayErrorKind,
    message: string,
    readonly details: { gatewayCode?: number | string; httpStatus?: number; cause?: unknown } = {},
  ) {
    super(message);
    this.name = 'GatewayError';
  }
}

export function isGatewayError(error: unknown, kind?: GatewayErrorKind): error is GatewayError {
  return error instanceof GatewayError && (kind === undefined || error.kind === kind);
}
