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

/**
 * A payment exactly as the gateway reported it; the only source of truth for amounts.
 *
 * Amounts are exact decimals in the currency's major unit (KRW: won; USD 10.40 is 10.4). Decisions use
 * the balance (`amount - cancelledAmount`, see `gatewayBalance`), never the status string alone: PortOne
 * V1 does not document the status after a partial cancel.
 */
export interface GatewayPayment {
  /** imp_uid on PortOne V1, paymentId on V2. */
  gatewayPaymentId: string;
  /** The order id the payment was made for (V1 merchant_uid; on V2 the paymentId itself). */
  merchantUid: string;
  status: GatewayPaymentStatus;
  /** Amount paid, in the currency's major unit (KRW: won). */
  amount: number;
  /** Cumulative amount cancelled so far. */
  cancelledAmount: number;
  currency: string;
  paidAt: Date | null;
  cancellations: GatewayCancellation[];
  /** Made through a test channel (V1 `sandbox`, V2 `channel.type === 'TEST'`): no real money moved. */
  sandbox: boolean;
  /** Payment method as the gateway names it, lower-case (`card`, `vbank`, `trans`, ...). */
  payMethod: string;
  /** V1 vbank / V2 VIRTUAL_ACCOUNT: a refund needs the buyer's bank account. */
  isVirtualAccount: boolean;
  /**
   * V2 only: the store the payment belongs to. A payment id is unique per store only, so a payment whose
   * storeId is not ours is somebody else's and must be neither confirmed nor cancelled. Absent on V1.
   */
  storeId?: string;
}

/** Exact decimal arithmetic for gateway amounts (at most 4 decimal places, as PortOne's currencies need). */
export function moneyMinus(a: number, b: number): number {
  return Math.round((a - b) * 10_000) / 10_000;
}

/** What is still paid: amount minus everything cancelled so far. */
export function gatewayBalance(payment: Pick<GatewayPayment, 'amount' | 'cancelledAmount'>): number {
  return moneyMinus(payment.amount, payment.cancelledAmount);
}

/** Where a virtual-account refund is sent (PortOne V1 refund_holder / refund_bank / refund_account). */
export interface RefundAccount {
  /** Bank code as PortOne lists them (e.g. "004" for KB). */
  bank: string;
  holder: string;
  account: string;
  tel?: string | null;
}

/** One page of a time-window listing (V1 `GET /payments/status/{status}`). */
export interface PaymentListQuery {
  /** `paid` is filtered by paid time, `cancelled` by cancel time, `ready` by start time (V1 semantics). */
  status: 'paid' | 'cancelled' | 'ready';
  /** Inclusive window, gateway time. */
  from: Date;
  to: Date;
  /** 1-based. */
  page: number;
  /** Page size, at most 1000 on V1. */
  limit: number;
}

export interface PaymentListPage {
  payments: GatewayPayment[];
  /** The next page to ask for, or null when this was the last one. */
  nextPage: number | null;
}

export interface CancelPaymentRequest {
  gatewayPaymentId: string;
  /** Always explicit: PortOne treats a missing or zero amount as "cancel everything". */
  amount: number;
  /** The balance we believe is still cancellable (V1 checksum, V2 currentCancellableAmount). */
  expectedCancellableAmount: number;
  reason: string;
  /** Required by PortOne for a paid virtual account: where the money goes back. */
  refundAccount?: RefundAccount | null;
  /**
   * Names one refund for V2's `Idempotency-Key` (printable ASCII, e.g. `refund:<id>`). The caller keeps it
   * the same for every retry of that refund; the V2 client appends a digest of the request body, so a retry
   * of the same cancel is answered from PortOne's record instead of being applied again (keys live 3 hours;
   * the balance guard protects after that), while a cancel for a new balance or with a refund account is a
   * new request. Keep `reason` the same across retries. Ignored by V1, whose checksum is the only guard.
   * Without it, V2 sends a fresh key per call.
   */
  idempotencyKey?: string;
  /** The payment's currency as last read. V2 sends amounts in the smallest unit (USD cents); read when absent. */
  currency?: string;
}

export interface PaymentGateway {
  /** Throws GatewayError NOT_FOUND when the gateway does not know the id. */
  getPayment(gatewayPaymentId: string): Promise<GatewayPayment>;
  /** Every payment record made for one order id, newest first; empty when none. */
  findPaymentsByMerchantUid(merchantUid: string): Promise<GatewayPayment[]>;
  /** Returns the payment as the gateway reports it after the cancel. */
  cancelPayment(request: CancelPaymentRequest): Promise<GatewayPayment>;
  /** Payments by status in a time window, for the reconciliation sweep. */
  listPayments(query: PaymentListQuery): Promise<PaymentListPage>;
  /**
   * Revokes an issued, unpaid virtual account so the buyer cannot deposit into it any more (V1
   * `DELETE /vbanks/{imp_uid}`). Throws REJECTED when it is not an unpaid virtual account.
   */
  revokeVirtualAccount(gatewayPaymentId: string): Promise<GatewayPayment>;
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
