import fetch from 'node-fetch';
import type { CancelRequestRecord, FaultKind, SimulatorEndpoint, V1Payment, WebhookRecord } from './simulator-state';

export interface SimulatorLedger {
  now: number;
  payments: V1Payment[];
  tokensIssued: Array<{ at: number; token: string; expiredAt: number; reused: boolean }>;
  cancelRequests: CancelRequestRecord[];
  webhooks: WebhookRecord[];
  prepared: Array<{ merchant_uid: string; amount: number; currency: string | null }>;
}

/** Drives the simulator's `/__control` API over HTTP: what tests and the demo use to play the browser. */
export class SimulatorControlClient {
  constructor(private readonly baseUrl: string) {}

  /** What the buyer's PortOne payment window produces; fires the notification unless `webhook: false`. */
  async createPayment(input: {
    merchant_uid: string;
    amount: number;
    currency?: string;
    status?: V1Payment['status'];
    pay_method?: string;
    notice_url?: string;
    webhook?: boolean;
    webhook_content_type?: 'json' | 'form';
  }): Promise<V1Payment> {
    return this.post('/__control/payments', input);
  }

  async setStatus(impUid: string, status: 'ready' | 'paid' | 'failed', webhook = true): Promise<V1Payment> {
    return this.post(`/__control/payments/${encodeURIComponent(impUid)}/status`, { status, webhook });
  }

  async consoleCancel(impUid: string): Promise<V1Payment> {
    return this.post(`/__control/payments/${encodeURIComponent(impUid)}/console-cancel`, {});
  }

  async advanceClock(seconds: number): Promise<{ now: number }> {
    return this.post('/__control/clock', { advanceSeconds: seconds });
  }

  async injectFault(fault: {
    endpoint: SimulatorEndpoint | 'all';
    kind: FaultKind;
    times?: number;
    latencyMs?: number;
    code?: number;
    message?: string;
  }): Promise<void> {
    await this.post('/__control/faults', fault);
  }

  async clearFaults(): Promise<void> {
    await this.request('DELETE', '/__control/faults');
  }

  async sendWebhook(input: {
    url: string;
    imp_uid: string;
    merchant_uid?: string;
    status: string;
    contentType?: 'json' | 'form';
    delayMs?: number;
    duplicate?: boolean;
    wait?: boolean;
  }): Promise<void> {
    await this.post('/__control/webhooks', input);
  }

  async reset(): Promise<void> {
    await this.post('/__control/reset', {});
  }

  async ledger(): Promise<SimulatorLedger> {
    return this.request('GET', '/__control/ledger');
  }

  private post<T>(path: string, body: unknown): Promise<T> {
    return this.request('POST', path, body);
  }

  private async request<T>(method: string, path: string, body?: unknown): Promise<T> {
    const response = await fetch(`${this.baseUrl}${path}`, {
      method,
      headers: body === undefined ? {} : { 'content-type': 'application/json' },
      body: body === undefined ? undefined : JSON.stringify(body),
    });
    const text = await response.text();
    if (!response.ok) throw new Error(`simulator control ${method} ${path}: HTTP ${response.status} ${text}`);
    return (text ? JSON.parse(text) : undefined) as T;
  }
}
