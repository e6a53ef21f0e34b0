/**
 * The V2 simulator's payment records and their API rendering: what it stores per payment and cancellation,
 * and the OpenAPI shape each status is answered with.
 */

/** Payment statuses of V2's `Payment` oneOf (OpenAPI 1.16.0). */
export type V2PaymentStatus = 'READY' | 'PAY_PENDING' | 'VIRTUAL_ACCOUNT_ISSUED' | 'PAID' | 'FAILED' | 'PARTIAL_CANCELLED' | 'CANCELLED';
export type V2PaymentMethodKind = 'card' | 'virtualAccount' | 'transfer';

export interface StoredV2Cancellation {
  /** REQUESTED: accepted, money not returned yet (async PGs); it counts in amount.cancelled only once SUCCEEDED. */
  status: 'SUCCEEDED' | 'REQUESTED';
  id: string;
  pgCancellationId: string;
  totalAmount: number;
  reason: string;
  requestedAt: number;
  cancelledAt: number;
  trigger: 'API' | 'CONSOLE';
  refundAccount: unknown;
}

/** A V2 payment as the simulator keeps it; `toV2Payment` renders the API shape for its status. */
export interface StoredV2Payment {
  storeId: string;
  id: string;
  transactionId: string;
  status: V2PaymentStatus;
  method: V2PaymentMethodKind;
  channelType: 'LIVE' | 'TEST';
  orderName: string;
  currency: string;
  /** Integers in the currency's smallest unit, as V2 sends them. */
  total: number;
  cancelled: number;
  requestedAt: number;
  updatedAt: number;
  statusChangedAt: number;
  paidAt: number | null;
  failedAt: number | null;
  cancelledAt: number | null;
  failure: { reason: string; pgCode: string; pgMessage: string } | null;
  cancellations: StoredV2Cancellation[];
  virtualAccount: { accountNumber: string; expiredAt: number; issuedAt: number } | null;
  pgTxId: string;
  seq: number;
}

const iso = (ms: number) => new Date(ms).toISOString();

/** VAT included in a taxable amount (Korean 10 %), as PGs compute it when none is given. */
const vatOf = (amount: number) => Math.floor(amount / 11);

export function toV2Cancellation(c: StoredV2Cancellation) {
  return {
    status: c.status,
    id: c.id,
    pgCancellationId: c.pgCancellationId,
    totalAmount: c.totalAmount,
    taxFreeAmount: 0,
    vatAmount: vatOf(c.totalAmount),
    reason: c.reason,
    ...(c.status === 'SUCCEEDED' ? { cancelledAt: iso(c.cancelledAt) } : {}),
    requestedAt: iso(c.requestedAt),
    ...(c.status === 'SUCCEEDED' ? { receiptUrl: `https://iniweb.inicis.com/receipt/cancel/${c.pgCancellationId}` } : {}),
    trigger: c.trigger,
  };
}

/** The API view of a stored payment: the OpenAPI's shape for its status (required fields per oneOf case). */
export function toV2Payment(p: StoredV2Payment, merchantId: string): Record<string, unknown> {
  const paid = ['PAID', 'PARTIAL_CANCELLED', 'CANCELLED'].includes(p.status) && p.paidAt !== null;
  const method =
    p.status === 'READY'
      ? undefined
      : p.method === 'virtualAccount' && p.virtualAccount
        ? {
            type: 'PaymentMethodVirtualAccount',
            bank: 'KOOKMIN',
            accountNumber: p.virtualAccount.accountNumber,
            accountType: 'NORMAL',
            remitteeName: '（주）부킹',
            expiredAt: iso(p.virtualAccount.expiredAt),
            issuedAt: iso(p.virtualAccount.issuedAt),
          }
        : p.method === 'transfer'
          ? { type: 'PaymentMethodTransfer', bank: 'KOOKMIN' }
          : { type: 'PaymentMethodCard', card: { name: 'BC카드', number: '91002000****0003', type: 'CREDIT', ownerType: 'PERSONAL' }, approvalNumber: String(10_000_000 + p.seq) };
  const base: Record<string, unknown> = {
    status: p.status,
    id: p.id,
    transactionId: p.transactionId,
    merchantId,
    storeId: p.storeId,
    ...(method ? { method } : {}),
    ...(p.status === 'READY' ? {} : { channel: { type: p.channelType, id: 'channel-id-sim', key: 'channel-key-sim', name: 'KG이니시스', pgProvider: 'INICIS_V2', pgMerchantId: 'INIpayTest' } }),
    version: 'V2',
    requestedAt: iso(p.requestedAt),
    updatedAt: iso(p.updatedAt),
    statusChangedAt: iso(p.statusChangedAt),
    orderName: p.orderName,
    amount: {
      total: p.total,
      taxFree: 0,
      vat: vatOf(p.total),
      supply: p.total - vatOf(p.total),
      discount: 0,
      // UNCONFIRMED at PortOne: `paid` of a payment that never was paid.
      paid: paid ? p.total : 0,
      cancelled: p.cancelled,
      cancelledTaxFree: 0,
    },
    currency: p.currency,
    customer: { name: '홍길동', email: 'buyer@example.com', phoneNumber: '01012345678' },
    origin: { platformType: 'PC', ipAddress: '203.0.113.10', userAgent: 'Mozilla/5.0 (simulated PortOne payment window)' },
  };
  switch (p.status) {
    case 'PAID':
      return {
        ...base,
        paidAt: iso(p.paidAt ?? p.statusChangedAt),
        pgTxId: p.pgTxId,
        receiptUrl: `https://iniweb.inicis.com/receipt/${p.pgTxId}`,
        disputes: [],
        ...(p.cancellations.length > 0 ? { cancellations: p.cancellations.map(toV2Cancellation) } : {}),
      };
    case 'FAILED':
      return { ...base, failedAt: iso(p.failedAt ?? p.statusChangedAt), failure: p.failure ?? { reason: '결제 실패' } };
    case 'PARTIAL_CANCELLED':
    case 'CANCELLED':
      return {
        ...base,
        ...(p.paidAt !== null ? { paidAt: iso(p.paidAt), receiptUrl: `https://iniweb.inicis.com/receipt/${p.pgTxId}` } : {}),
        pgTxId: p.pgTxId,
        cancellations: p.cancellations.map(toV2Cancellation),
        cancelledAt: iso(p.cancelledAt ?? p.statusChangedAt),
      };
    case 'VIRTUAL_ACCOUNT_ISSUED':
    case 'PAY_PENDING':
      return { ...base, pgTxId: p.pgTxId };
    default:
      return base;
  }
}
