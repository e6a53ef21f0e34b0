import fetch from 'node-fetch';
import { sleep } from './portone-v1-sim-support';
import type { SimulatorState } from './simulator-state';

/** The simulator options that shape notifications; read at each delivery, as PortOne's console would. */
export interface V1SimWebhookSettings {
  webhookContentType?: 'json' | 'form';
  /** Webhook retry (opt-in at PortOne): 5 more tries on 5xx or network error. */
  webhookRetry?: { enabled: boolean; intervalMs: number };
}

export interface WebhookDelivery {
  url: string;
  payload: Record<string, string>;
  contentType: 'json' | 'form';
  delayMs?: number;
  duplicate?: boolean;
}

/** Sends the V1 notifications (`{imp_uid, merchant_uid, status}`) and records every attempt in the ledger. */
export class PortOneV1SimWebhooks {
  constructor(
    private readonly state: SimulatorState,
    private readonly settings: V1SimWebhookSettings,
    /** The console's notification URL; a payment's own notice_url wins. */
    private defaultUrl: string | null,
  ) {}

  /** Where notifications go when a payment names no notice_url (the app's port may be known only later). */
  setDefaultUrl(url: string | null): void {
    this.defaultUrl = url;
  }

  /** Notifies the payment's notice_url, else the console's URL; does nothing when neither is set. */
  notify(
    payment: { imp_uid: string; merchant_uid: string; notice_url: string | null },
    status: string,
    contentType: 'json' | 'form' = this.settings.webhookContentType ?? 'json',
  ): void {
    const url = payment.notice_url ?? this.defaultUrl;
    if (!url) return;
    void this.deliver({ url, payload: { imp_uid: payment.imp_uid, merchant_uid: payment.merchant_uid, status }, contentType });
  }

  async deliver(input: WebhookDelivery): Promise<void> {
    if (input.delayMs) await sleep(input.delayMs);
    const copies = input.duplicate ? 2 : 1;
    await Promise.all(Array.from({ length: copies }, () => this.deliverOnce(input, 1)));
  }

  private async deliverOnce(input: { url: string; payload: Record<string, string>; contentType: 'json' | 'form' }, attempt: number): Promise<void> {
    const record = { at: this.state.now(), url: input.url, contentType: input.contentType, payload: input.payload, httpStatus: null as number | null, error: null as string | null, attempt };
    this.state.webhooks.push(record);
    try {
      const response = await fetch(input.url, {
        method: 'POST',
        headers: { 'content-type': input.contentType === 'json' ? 'application/json' : 'application/x-www-form-urlencoded' },
        body: input.contentType === 'json' ? JSON.stringify(input.payload) : new URLSearchParams(input.payload).toString(),
        timeout: 30_000,
      });
      record.httpStatus = response.status;
      if (response.status < 500) return;
    } catch (error) {
      record.error = error instanceof Error ? error.message : String(error);
    }
    const retry = this.settings.webhookRetry;
    if (retry?.enabled && attempt <= 5) {
      await sleep(retry.intervalMs);
      await this.deliverOnce(input, attempt + 1);
    }
  }
}
