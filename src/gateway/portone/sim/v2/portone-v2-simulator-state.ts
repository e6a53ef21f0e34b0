import { randomBytes, randomUUID } from 'node:crypto';
import type { V2CancelRequestRecord } from './portone-v2-simulator-cancel.route';
import type { V2Fault, V2SimulatorEndpoint } from './portone-v2-simulator-faults';
import { V2IdempotencyStore } from './portone-v2-simulator-idempotency';
import type { StoredV2Cancellation, StoredV2Payment, V2PaymentMethodKind, V2PaymentStatus } from './portone-v2-simulator-payment-shapes';
import type { V2WebhookKnobs, V2WebhookRecord } from './portone-v2-simulator-webhooks';

// The record types and the payment rendering live beside what uses them; importers still find them here.
export type { V2CancelRequestRecord } from './portone-v2-simulator-cancel.route';
export type { V2Fault, V2FaultKind, V2SimulatorEndpoint } from './portone-v2-simulator-faults';
export type { V2IdempotencyRecord } from './portone-v2-simulator-idempotency';
export { toV2Cancellation, toV2Payment, type StoredV2Cancellation, type StoredV2Payment, type V2PaymentMethodKind, type V2PaymentStatus } from './portone-v2-simulator-payment-shapes';
export type { V2WebhookKnobs, V2WebhookRecord } from './portone-v2-simulator-webhooks';

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
  idempotency = new V2IdempotencyStore();
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

  /** The knobs for the next automatic webhook, counting it against their `remaining`; null when none are pending. */
  takeWebhookKnobs(): V2WebhookKnobs | null {
    const knobs = this.webhookKnobs && this.webhookKnobs.remaining > 0 ? this.webhookKnobs : null;
    if (knobs) knobs.remaining -= 1;
    return knobs;
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
