import { SimulatorControlHttpClient } from '../simulator-control-http';
import type { V2CancelRequestRecord, V2FaultKind, V2PaymentMethodKind, V2PaymentStatus, V2SimulatorEndpoint, V2WebhookRecord } from './portone-v2-simulator-state';

/** A V2 payment as the simulator's API renders it (OpenAPI `Payment`, any status). */
export type V2ApiPayment = Record<string, unknown> & { id: string; status: string; storeId: string; amount: { total: number; cancelled: number } };

export interface V2SimulatorLedger {
  now: string;
  payments: V2ApiPayment[];
  cancelRequests: V2CancelRequestRecord[];
  webhooks: V2WebhookRecord[];
  reads: Array<{ at: number; paymentId: string; storeId: string }>;
  /** TCP connections that carried at least one API call since the start or the last reset. */
  apiConnections: number;
}

/** Drives the V2 simulator's `/__control` API over HTTP: what tests and the demo use to play the browser. */
export class PortOneV2SimulatorControlClient extends SimulatorControlHttpClient<V2SimulatorLedger> {
  /** @param baseUrl the V2 base URL (`<simulator>/v2` when mounted beside V1). */
  constructor(baseUrl: string) {
    super(baseUrl, 'V2 simulator control');
  }

  /** What the buyer's payment window produces (amount in the smallest currency unit). */
  async createPayment(input: {
    paymentId: string;
    amount: number;
    currency?: string;
    status?: V2PaymentStatus;
    method?: V2PaymentMethodKind;
    channelType?: 'LIVE' | 'TEST';
    storeId?: string;
    orderName?: string;
    webhook?: boolean;
  }): Promise<V2ApiPayment> {
    return this.post('/__control/payments', input);
  }

  /** The buyer deposits into an issued virtual account: PAID, then `Transaction.Paid`. */
  async deposit(paymentId: string, options: { storeId?: string; webhook?: boolean } = {}): Promise<V2ApiPayment> {
    return this.post(`/__control/payments/${encodeURIComponent(paymentId)}/deposit`, options);
  }

  async setStatus(paymentId: string, status: V2PaymentStatus, options: { storeId?: string; webhook?: boolean } = {}): Promise<V2ApiPayment> {
    return this.post(`/__control/payments/${encodeURIComponent(paymentId)}/status`, { status, ...options });
  }

  /** A cancel in PortOne's console: everything left, or `amount` (smallest unit). */
  async consoleCancel(paymentId: string, options: { amount?: number; storeId?: string; webhook?: boolean } = {}): Promise<V2ApiPayment> {
    return this.post(`/__control/payments/${encodeURIComponent(paymentId)}/console-cancel`, options);
  }

  /** `requested`: API cancels answer REQUESTED and take effect only on `completeCancellations`. */
  async setCancelMode(mode: 'sync' | 'requested'): Promise<void> {
    await this.post('/__control/cancel-mode', { mode });
  }

  async completeCancellations(paymentId: string, options: { storeId?: string } = {}): Promise<V2ApiPayment> {
    return this.post(`/__control/payments/${encodeURIComponent(paymentId)}/complete-cancellations`, options);
  }

  async advanceClock(seconds: number): Promise<{ now: string }> {
    return this.post('/__control/clock', { advanceSeconds: seconds });
  }

  async injectFault(fault: {
    endpoint: V2SimulatorEndpoint | 'all';
    kind: V2FaultKind;
    times?: number;
    latencyMs?: number;
    httpStatus?: number;
    type?: string;
    message?: string;
  }): Promise<void> {
    await this.post('/__control/faults', fault);
  }

  /** Knobs for the next `times` automatic webhooks. */
  async setWebhookKnobs(knobs: { corruptSignature?: boolean; timestampSkewSeconds?: number; duplicate?: boolean; times?: number }): Promise<void> {
    await this.post('/__control/webhook-knobs', knobs);
  }

  /** PortOne's retry schedule (1, 4, 16, 64, 256 "minutes") on or off; `unitMs` is one minute here. Reset restores the start options. */
  async setWebhookRetry(retry: { enabled: boolean; unitMs?: number; jitter?: boolean }): Promise<void> {
    await this.post('/__control/webhook-retry', retry);
  }

  /** Sends one signed webhook now. */
  async sendWebhook(input: {
    type: string;
    paymentId?: string;
    storeId?: string;
    data?: Record<string, unknown>;
    url?: string;
    webhookId?: string;
    corruptSignature?: boolean;
    timestampSkewSeconds?: number;
    duplicate?: boolean;
    delayMs?: number;
    retry?: boolean;
    wait?: boolean;
  }): Promise<void> {
    await this.post('/__control/webhooks', input);
  }
}
