import { randomBytes } from 'node:crypto';
import fetch from 'node-fetch';
import { Webhook } from 'standardwebhooks';
import { sleep, type Body, type PortOneV2SimulatorOptions } from './portone-v2-simulator-context';
import type { StoredV2Payment } from './portone-v2-simulator-payment-shapes';
import type { V2SimulatorState } from './portone-v2-simulator-state';

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

/** Knobs applied to the next automatic webhook deliveries (until `remaining` runs out). */
export interface V2WebhookKnobs {
  corruptSignature?: boolean;
  timestampSkewSeconds?: number;
  duplicate?: boolean;
  remaining: number;
}

export interface V2WebhookDelivery {
  url: string;
  type: string;
  data: Body;
  webhookId?: string;
  corruptSignature?: boolean;
  timestampSkewSeconds?: number;
  duplicate?: boolean;
  delayMs?: number;
  retry?: boolean;
}

type V2WebhookAttempt = Pick<V2WebhookDelivery, 'url' | 'type' | 'corruptSignature' | 'timestampSkewSeconds' | 'retry'>;

const RETRY_BACKOFF_UNITS = [1, 4, 16, 64, 256];

/** A fresh signing secret in the console's format. */
export function newWebhookSecret(): string {
  return `whsec_${randomBytes(24).toString('base64')}`;
}

/** Sends Standard-Webhooks-signed webhooks (body version 2024-04-25) with PortOne's retries; every attempt lands in `state.webhooks`. */
export class V2WebhookSender {
  /** PortOne's retry schedule as now set: `/__control/webhook-retry` changes it, `resetRetry` restores the options'. */
  retry: PortOneV2SimulatorOptions['webhookRetry'];
  private readonly signers: Webhook[];

  constructor(
    private readonly state: V2SimulatorState,
    private readonly options: PortOneV2SimulatorOptions,
  ) {
    this.signers = options.webhookSecrets.map((secret) => new Webhook(secret));
    this.retry = options.webhookRetry;
  }

  resetRetry(): void {
    this.retry = this.options.webhookRetry;
  }

  /** The automatic webhook for a payment event, to the console's URL (read at each call), with the pending knobs. */
  notify(payment: StoredV2Payment, type: string, cancellationId?: string): void {
    if (!this.options.webhookUrl) return;
    const knobs = this.state.takeWebhookKnobs();
    void this.deliver({
      url: this.options.webhookUrl,
      type,
      data: { paymentId: payment.id, storeId: payment.storeId, transactionId: payment.transactionId, ...(cancellationId ? { cancellationId } : {}) },
      corruptSignature: knobs?.corruptSignature,
      timestampSkewSeconds: knobs?.timestampSkewSeconds,
      duplicate: knobs?.duplicate,
    });
  }

  async deliver(input: V2WebhookDelivery): Promise<void> {
    if (input.delayMs) await sleep(input.delayMs);
    // One message: its id and body (with the event time) stay the same on every attempt and duplicate.
    const webhookId = input.webhookId ?? `msg_${randomBytes(12).toString('hex')}`;
    const body = JSON.stringify({ type: input.type, timestamp: new Date(this.state.nowMs()).toISOString(), data: input.data });
    const copies = input.duplicate ? 2 : 1;
    await Promise.all(Array.from({ length: copies }, () => this.attempt(input, webhookId, body, 1)));
  }

  private async attempt(input: V2WebhookAttempt, webhookId: string, body: string, attemptNumber: number): Promise<void> {
    const timestamp = new Date(this.state.nowMs() + (input.timestampSkewSeconds ?? 0) * 1000);
    let signature = this.signers.map((signer) => signer.sign(webhookId, timestamp, body)).join(' ');
    if (input.corruptSignature) signature = signature.replace(/v1,(.)/g, (_m, c: string) => `v1,${c === 'A' ? 'B' : 'A'}`);
    const headers = {
      'content-type': 'application/json',
      'webhook-id': webhookId,
      'webhook-timestamp': String(Math.floor(timestamp.getTime() / 1000)),
      'webhook-signature': signature,
    };
    const record = { at: this.state.nowMs(), url: input.url, webhookId, attempt: attemptNumber, type: input.type, body, headers, httpStatus: null as number | null, error: null as string | null };
    this.state.webhooks.push(record);
    try {
      const response = await fetch(input.url, { method: 'POST', headers, body, timeout: 30_000 });
      record.httpStatus = response.status;
      await response.text();
      if (response.status >= 200 && response.status < 300) return;
    } catch (error) {
      record.error = error instanceof Error ? error.message : String(error);
    }
    const retry = this.retry;
    if (input.retry !== false && retry?.enabled && attemptNumber <= RETRY_BACKOFF_UNITS.length) {
      const backoff = RETRY_BACKOFF_UNITS[attemptNumber - 1] * retry.unitMs;
      await sleep(retry.jitter === false ? backoff : Math.random() * backoff);
      await this.attempt(input, webhookId, body, attemptNumber + 1);
    }
  }
}
