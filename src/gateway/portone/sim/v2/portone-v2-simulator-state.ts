import { randomBytes, randomUUID } from 'node:crypto';

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

export type V2SimulatorEndpoint = 'getPayment' | 'listPayments' | 'cancel' | 'closeVirtualAccount';
/**
 * latency: answer late; http500/http503: an error page before any processing; reset: drop the connection
 * before processing; applyThenLose: apply the cancel, then drop the connection instead of answering;
 * pgError: 502 PG_PROVIDER (nothing applied); error: any `{type}` with any status (nothing applied).
 */
export type V2FaultKind = 'latency' | 'http500' | 'http503' | 'reset' | 'applyThenLose' | 'pgError' | 'error';

export interface V2Fault {
  endpoint: V2SimulatorEndpoint | 'all';
  kind: V2FaultKind;
  remaining: number;
  latencyMs?: number;
  httpStatus?: number;
  type?: string;
  message?: string;
}

export interface V2CancelRequestRecord {
  at: number;
  paymentId: string;
  storeId: string;
  idempotencyKey: string | null;
  body: Record<string, unknown>;
  /** Answered from the Idempotency-Key record without processing. */
  replayed: boolean;
  applied: boolean;
  responseLost: boolean;
  httpStatus: number | null;
  outcome: string;
}

export interface V2WebhookRecord {
  at: number;
  url: string;
  webhookId: string;
  attempt: number;
  type: string;
  body: string;
  headers: Record<string, string>;
  httpStatus: number | null;
  error: string | null;
}

export interface V2IdempotencyRecord {
  fingerprint: string;
  state: 'in-flight' | 'done';
  httpStatus: number;
  body: unknown;
  at: number;
}

/** Knobs applied to the next automatic webhook deliveries (until `remaining` runs out). */
export interface V2WebhookKnobs {
  corruptSignature?: boolean;
  timestampSkewSeconds?: number;
  duplicate?: boolean;
  remaining: number;
}

export class V2SimulatorState {
  clockOffsetMs = 0;
  payments = new Map<string, StoredV2Payment>();
  cancelRequests: V2CancelRequestRecord[] = [];
  webhooks: V2WebhookRecord[] = [];
  /** Single-payment reads (`GET /payments/{id}`) answered, so tests can count how often a payment was read. */
  reads: Array<{ at: number; paymentId: string; storeId: string }> = [];
  /** TCP connections that carried at least one API call (control calls aside): keep-alive reuse shows here. */
  apiConnections = 0;
  faults: V2Fault[] = [];
  idempotency = new Map<string, V2IdempotencyRecord>();
  webhookKnobs: V2WebhookKnobs | null = null;
  /** `requested`: API cancels answer REQUESTED and complete only on `/__control/.../complete-cancellations`. */
  cancelMode: 'sync' | 'requested' = 'sync';
  private seq = 0;

  nowMs(): number {
    return Date.now() + this.clockOffsetMs;
  }

  reset(): void {
    this.clockOffsetMs = 0;
    this.payments.clear();
    this.cancelRequests = [];
    this.webhooks = [];
    this.reads = [];
    this.apiConnections = 0;
    this.faults = [];
    this.idempotency.clear();
    this.webhookKnobs = null;
    this.cancelMode = 'sync';
  }

  takeFault(endpoint: V2SimulatorEndpoint): V2Fault | null {
    const fault = this.faults.find((f) => f.remaining > 0 && (f.endpoint === endpoint || f.endpoint === 'all'));
    if (!fault) return null;
    fault.remaining -= 1;
    return fault;
  }

  get(storeId: string, paymentId: string): StoredV2Payment | undefined {
    return this.payments.get(key(storeId, paymentId));
  }

  newPayment(input: {
    storeId: string;
    id: string;
    total: number;
    currency?: string;
    status?: V2PaymentStatus;
    method?: V2PaymentMethodKind;
    channelType?: 'LIVE' | 'TEST';
    orderName?: string;
  }): StoredV2Payment {
    const now = this.nowMs();
    const status = input.status ?? 'PAID';
    const method = input.method ?? (status === 'VIRTUAL_ACCOUNT_ISSUED' ? 'virtualAccount' : 'card');
    const payment: StoredV2Payment = {
      storeId: input.storeId,
      id: input.id,
      transactionId: randomUUID(),
      status,
      method,
      channelType: input.channelType ?? 'LIVE',
      orderName: input.orderName ?? '좌석 예매',
      currency: input.currency ?? 'KRW',
      total: input.total,
      cancelled: 0,
      requestedAt: now,
      updatedAt: now,
      statusChangedAt: now,
      paidAt: status === 'PAID' ? now : null,
      failedAt: status === 'FAILED' ? now : null,
      cancelledAt: null,
      failure: status === 'FAILED' ? { reason: '사용자가 결제를 취소하였습니다', pgCode: 'PAY_PROCESS_CANCELED', pgMessage: '사용자 취소' } : null,
      cancellations: [],
      virtualAccount: method === 'virtualAccount' ? { accountNumber: `T${randomBytes(6).toString('hex')}`, issuedAt: now, expiredAt: now + 3 * 86_400_000 } : null,
      pgTxId: `StdpayCARDINIpayTest${randomBytes(8).toString('hex')}`,
      seq: ++this.seq,
    };
    this.payments.set(key(input.storeId, input.id), payment);
    return payment;
  }

  setStatus(payment: StoredV2Payment, status: V2PaymentStatus): void {
    const now = this.nowMs();
    payment.status = status;
    payment.updatedAt = now;
    payment.statusChangedAt = now;
    if (status === 'PAID') payment.paidAt = now;
    if (status === 'FAILED') {
      payment.failedAt = now;
      payment.failure = { reason: '결제 실패', pgCode: 'FAILED', pgMessage: '결제 실패' };
    }
  }

  /** What may still be cancelled: the balance minus cancellations accepted but not completed (UNCONFIRMED at PortOne). */
  cancellable(payment: StoredV2Payment): number {
    const pending = payment.cancellations.filter((c) => c.status === 'REQUESTED').reduce((sum, c) => sum + c.totalAmount, 0);
    return payment.total - payment.cancelled - pending;
  }

  /** Records a cancel of `amount` minor units; a SUCCEEDED one moves the balance and the status. */
  applyCancel(
    payment: StoredV2Payment,
    amount: number,
    reason: string,
    trigger: 'API' | 'CONSOLE',
    refundAccount: unknown = null,
    status: StoredV2Cancellation['status'] = 'SUCCEEDED',
  ): StoredV2Cancellation {
    const now = this.nowMs();
    const cancellation: StoredV2Cancellation = {
      status,
      id: randomUUID(),
      pgCancellationId: `cancel-${randomBytes(6).toString('hex')}`,
      totalAmount: amount,
      reason,
      requestedAt: now,
      cancelledAt: now,
      trigger,
      refundAccount,
    };
    payment.cancellations.push(cancellation);
    if (status === 'SUCCEEDED') this.settleCancellation(payment, cancellation);
    return cancellation;
  }

  /** A cancellation takes effect: amount.cancelled grows and the status follows the balance. */
  settleCancellation(payment: StoredV2Payment, cancellation: StoredV2Cancellation): void {
    const now = this.nowMs();
    cancellation.status = 'SUCCEEDED';
    cancellation.cancelledAt = now;
    payment.cancelled += cancellation.totalAmount;
    payment.cancelledAt = now;
    payment.status = payment.cancelled >= payment.total ? 'CANCELLED' : 'PARTIAL_CANCELLED';
    payment.updatedAt = now;
    payment.statusChangedAt = now;
  }
}

function key(storeId: string, paymentId: string): string {
  return `${storeId}\u0000${paymentId}`;
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
