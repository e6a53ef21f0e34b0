import { randomBytes, randomUUID } from 'node:crypto';

/** A V1 payment record exactly as PortOne's API returns it (PaymentAnnotation), plus simulator bookkeeping. */
export interface V1Payment {
  imp_uid: string;
  merchant_uid: string;
  pay_method: string;
  channel: string;
  pg_provider: string;
  emb_pg_provider: string | null;
  pg_tid: string;
  pg_id: string;
  sandbox: boolean;
  escrow: boolean;
  apply_num: string | null;
  bank_code: string | null;
  bank_name: string | null;
  card_code: string | null;
  card_name: string | null;
  card_issuer_code: string | null;
  card_issuer_name: string | null;
  card_publisher_code: string | null;
  card_publisher_name: string | null;
  card_quota: number;
  card_number: string | null;
  card_type: number | null;
  vbank_code: string | null;
  vbank_name: string | null;
  vbank_num: string | null;
  vbank_holder: string | null;
  vbank_date: number;
  vbank_issued_at: number;
  name: string;
  amount: number;
  cancel_amount: number;
  currency: string;
  buyer_name: string | null;
  buyer_email: string | null;
  buyer_tel: string | null;
  buyer_addr: string | null;
  buyer_postcode: string | null;
  custom_data: string | null;
  user_agent: string;
  status: 'ready' | 'paid' | 'failed' | 'cancelled';
  started_at: number;
  paid_at: number;
  failed_at: number;
  cancelled_at: number;
  fail_reason: string | null;
  cancel_reason: string | null;
  receipt_url: string;
  cancel_history: V1Cancellation[];
  deposit_history: unknown[];
  cancel_receipt_urls: string[];
  cash_receipt_issued: boolean;
  customer_uid: string | null;
  customer_uid_usage: string | null;
  promotion: null;
}

export interface V1Cancellation {
  pg_tid: string;
  amount: number;
  cancelled_at: number;
  reason: string;
  cancellation_id: string;
  receipt_url: string;
}

export type SimulatorEndpoint = 'getToken' | 'getPayment' | 'find' | 'findAll' | 'list' | 'cancel' | 'revokeVbank' | 'prepare';

/**
 * Behaviour PortOne does not document (contract part E), switchable at run time through
 * `POST /__control/options` and restored to the start-up values by `/__control/reset`.
 */
export interface SimulatorRuntimeOptions {
  /** UNCONFIRMED: the status a payment shows after a partial (not full) cancel. */
  partialCancelStatus: 'paid' | 'cancelled';
  /** UNCONFIRMED: hide sandbox payments from single lookups unless include_sandbox=true. */
  includeSandboxFilter: boolean;
}

/**
 * PortOne V1 amounts are JSON numbers that may carry decimals (USD 10.40). Every sum and difference is
 * rounded to 4 decimal places so that 0.40 + 10.00 is exactly 10.4, never 10.399999999999999.
 */
export function exactMoney(value: number): number {
  return Math.round(value * 10_000) / 10_000;
}
export type FaultKind = 'latency' | 'http500' | 'http503' | 'reset' | 'applyThenLose' | 'applyThenGarble' | 'businessError';

export interface Fault {
  endpoint: SimulatorEndpoint | 'all';
  kind: FaultKind;
  remaining: number;
  latencyMs?: number;
  code?: number;
  message?: string;
}

export interface CancelRequestRecord {
  at: number;
  body: Record<string, unknown>;
  impUid: string | null;
  applied: boolean;
  /** The cancel took effect but the simulator dropped the connection instead of answering. */
  responseLost: boolean;
  outcome: string;
}

export interface ListingRequestRecord {
  at: number;
  status: string;
  /** The query's window and page as sent (UNIX seconds; null when absent or not a number). */
  from: number | null;
  to: number | null;
  page: number | null;
  limit: number | null;
  /** The fault this request drew, if any (it then never reached the listing). */
  fault: FaultKind | null;
}

export interface WebhookRecord {
  at: number;
  url: string;
  contentType: 'json' | 'form';
  payload: Record<string, string>;
  httpStatus: number | null;
  error: string | null;
  attempt: number;
}

/** Everything the simulator knows; also what the control API's ledger shows. */
export class SimulatorState {
  clockOffsetSeconds = 0;
  private frozenAt: number | null = null; // while frozen: the second now() answers
  tokens = new Map<string, { token: string; expiredAt: number }>();
  tokensIssued: Array<{ at: number; token: string; expiredAt: number; reused: boolean }> = [];
  /** TCP connections that carried at least one API call (control calls aside): keep-alive reuse shows here. */
  apiConnections = 0;
  /** API requests received per endpoint, faulted and refused ones too: what one run of a client cost. */
  apiCalls: Partial<Record<SimulatorEndpoint, number>> = {};
  /** Every time-window listing request in order (where a sweep read from and to), faulted ones too. */
  listingRequests: ListingRequestRecord[] = [];
  payments = new Map<string, StoredPayment>();
  prepared = new Map<string, { merchant_uid: string; amount: number; currency: string | null }>();
  cancelRequests: CancelRequestRecord[] = [];
  webhooks: WebhookRecord[] = [];
  faults: Fault[] = [];
  options: SimulatorRuntimeOptions;
  private seq = 0;

  constructor(private readonly initialOptions: SimulatorRuntimeOptions = { partialCancelStatus: 'paid', includeSandboxFilter: false }) {
    this.options = { ...initialOptions };
  }

  now(): number {
    return this.frozenAt ?? Math.floor(Date.now() / 1000) + this.clockOffsetSeconds;
  }

  /** Stops the clock at its second (many payments in one second for tests); unfrozen it is back on its course, moves kept; a set frozen clock stays frozen. */
  freezeClock(frozen: boolean): void {
    this.frozenAt = frozen ? (this.frozenAt ?? this.now()) : null;
  }
  advanceClock(seconds: number): void {
    this.clockOffsetSeconds += seconds;
    if (this.frozenAt !== null) this.frozenAt += seconds;
  }
  setClock(now: number): void {
    this.clockOffsetSeconds = now - Math.floor(Date.now() / 1000);
    if (this.frozenAt !== null) this.frozenAt = now;
  }

  reset(): void {
    this.clockOffsetSeconds = 0;
    this.frozenAt = null;
    this.tokens.clear();
    this.tokensIssued = [];
    this.apiConnections = 0;
    this.apiCalls = {};
    this.listingRequests = [];
    this.payments.clear();
    this.prepared.clear();
    this.cancelRequests = [];
    this.webhooks = [];
    this.faults = [];
    this.options = { ...this.initialOptions };
  }

  /** Records a change of a payment; `updated_at` backs the `updated` sortings of the listings. */
  touch(payment: StoredPayment): number {
    const now = this.now();
    payment.updated_at = now;
    return now;
  }

  /** The fault to apply to this request, if any; consumes one of its remaining uses. */
  takeFault(endpoint: SimulatorEndpoint): Fault | null {
    const fault = this.faults.find((f) => f.remaining > 0 && (f.endpoint === endpoint || f.endpoint === 'all'));
    if (!fault) return null;
    fault.remaining -= 1;
    return fault;
  }

  newPayment(input: {
    merchant_uid: string;
    amount: number;
    currency?: string;
    status?: V1Payment['status'];
    pay_method?: string;
    /** Test channel; a payment is live unless asked (issue 10: channel keys are public). */
    sandbox?: boolean;
    notice_url?: string | null;
    name?: string;
    fail_reason?: string;
  }) {
    const now = this.now();
    const status = input.status ?? 'paid';
    const imp_uid = `imp_${String(Date.now()).slice(-6)}${String(++this.seq).padStart(6, '0')}`;
    const isCard = (input.pay_method ?? 'card') === 'card';
    const isVbank = input.pay_method === 'vbank';
    const payment = {
      imp_uid,
      merchant_uid: input.merchant_uid,
      pay_method: input.pay_method ?? 'card',
      channel: 'pc',
      pg_provider: 'html5_inicis',
      emb_pg_provider: null,
      pg_tid: `StdpayCARDINIpayTest${randomBytes(8).toString('hex')}`,
      pg_id: 'INIpayTest',
      sandbox: input.sandbox ?? false,
      escrow: false,
      apply_num: isCard && status === 'paid' ? String(10000000 + this.seq) : null,
      bank_code: null,
      bank_name: null,
      card_code: isCard ? '361' : null,
      card_name: isCard ? 'BC카드' : null,
      card_issuer_code: null,
      card_issuer_name: null,
      card_publisher_code: null,
      card_publisher_name: null,
      card_quota: 0,
      card_number: isCard ? '910020*********3' : null,
      card_type: isCard ? 0 : null,
      vbank_code: isVbank ? '004' : null,
      vbank_name: isVbank ? 'KB국민은행' : null,
      vbank_num: isVbank ? `T${randomBytes(6).toString('hex')}` : null,
      vbank_holder: isVbank ? '（주）부킹' : null,
      vbank_date: isVbank ? now + 86400 * 3 : 0,
      vbank_issued_at: isVbank ? now : 0,
      name: input.name ?? '좌석 예매',
      amount: exactMoney(input.amount),
      cancel_amount: 0,
      currency: input.currency ?? 'KRW',
      buyer_name: '홍길동',
      buyer_email: 'buyer@example.com',
      buyer_tel: '010-1234-5678',
      buyer_addr: null,
      buyer_postcode: null,
      custom_data: null,
      user_agent: 'Mozilla/5.0 (simulated PortOne payment window)',
      status,
      started_at: now,
      paid_at: status === 'paid' ? now : 0,
      failed_at: status === 'failed' ? now : 0,
      cancelled_at: 0,
      fail_reason: status === 'failed' ? (input.fail_reason ?? '사용자가 결제를 취소함') : null,
      cancel_reason: null,
      receipt_url: `https://iniweb.inicis.com/receipt/${imp_uid}`,
      cancel_history: [],
      deposit_history: [],
      cancel_receipt_urls: [],
      cash_receipt_issued: false,
      customer_uid: null,
      customer_uid_usage: null,
      promotion: null,
      seq: this.seq,
      updated_at: now,
      notice_url: input.notice_url ?? null,
    } satisfies V1Payment & { seq: number; updated_at: number; notice_url: string | null };
    this.payments.set(imp_uid, payment);
    return payment;
  }

  newToken(): string {
    return randomBytes(20).toString('hex');
  }

  newCancellationId(): string {
    return randomUUID();
  }
}

/** The API view of a stored payment: the documented fields only, keys in alphabetical order like real dumps. */
export type StoredPayment = V1Payment & { seq: number; updated_at: number; notice_url: string | null };

export function toApiPayment(payment: StoredPayment): V1Payment {
  const { seq: _seq, updated_at: _updated, notice_url: _notice, ...api } = payment;
  return Object.fromEntries(Object.entries(api).sort(([a], [b]) => a.localeCompare(b))) as unknown as V1Payment;
}
