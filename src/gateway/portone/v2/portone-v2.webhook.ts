import { verify, WebhookVerificationError, type WebhookVerificationFailureReason } from '@portone/server-sdk/webhook';

/*
 * Verification uses PortOne's own `@portone/server-sdk` (Webhook.verify): Standard Webhooks HMAC-SHA256
 * over "{webhook-id}.{webhook-timestamp}.{body}", constant-time comparison, ±5 minutes tolerance, typed
 * failure reasons. 0.19.0 declares no `engines` (its README asks for Node ≥ 20), is dual CJS/ESM (its
 * `./webhook` entry loads with require, so under jest's CommonJS), has no dependencies, and needs only Web
 * Crypto and atob, which Node 20 has. It takes one secret per call, so rotation (two secrets) is a second
 * call. The tests check it against the `standardwebhooks` library and the specification's test vector.
 */

/** Why a delivery was refused: the SDK's reasons, plus a body that is not UTF-8 JSON or a bad secret. */
export type PortOneV2WebhookRejection = WebhookVerificationFailureReason | 'INVALID_BODY';

/** The 2024-04-25 body. Only what we read is typed; unknown types and fields are kept and ignored. */
export interface PortOneV2WebhookEvent {
  type: string;
  timestamp?: string;
  data?: { paymentId?: string; storeId?: string; transactionId?: string; cancellationId?: string; [field: string]: unknown };
  [field: string]: unknown;
}

export type PortOneV2WebhookVerification =
  | { ok: true; webhookId: string; event: PortOneV2WebhookEvent }
  | { ok: false; reason: PortOneV2WebhookRejection };

const UTF8 = new TextDecoder('utf-8', { fatal: true });

export class PortOneV2WebhookVerifier {
  private readonly secrets: string[];

  /**
   * @param secrets the console's signing secret(s), `whsec_` prefix optional; during a rotation both the
   *   old and the new one (at most two are active at PortOne).
   */
  constructor(secrets: ReadonlyArray<string>) {
    this.secrets = secrets.map((s) => s.trim()).filter((s) => s !== '');
    if (this.secrets.length === 0 || this.secrets.length > 2) throw new Error('PORTONE_WEBHOOK_SECRET: give one or two signing secrets');
    for (const secret of this.secrets) {
      const base64 = secret.startsWith('whsec_') ? secret.slice('whsec_'.length) : secret;
      if (!/^[A-Za-z0-9+/]+={0,2}$/.test(base64)) throw new Error('PORTONE_WEBHOOK_SECRET: a signing secret is not base64 (whsec_ prefix optional)');
    }
  }

  /**
   * Verifies one delivery on the exact bytes received. A body that was parsed and serialised again does
   * not verify, by design. Never throws for bad input: the caller answers 401 on `ok: false`.
   */
  async verify(rawBody: Buffer | Uint8Array | string, headers: Record<string, string | string[] | undefined>): Promise<PortOneV2WebhookVerification> {
    let payload: string;
    try {
      // Fatal decoding: a body that is not valid UTF-8 cannot be the bytes PortOne signed as JSON.
      payload = typeof rawBody === 'string' ? rawBody : UTF8.decode(rawBody);
    } catch {
      return { ok: false, reason: 'INVALID_BODY' };
    }
    let reason: PortOneV2WebhookRejection = 'NO_MATCHING_SIGNATURE';
    for (const secret of this.secrets) {
      try {
        const event = (await verify(secret, payload, headers)) as unknown;
        if (!event || typeof event !== 'object' || typeof (event as { type?: unknown }).type !== 'string') return { ok: false, reason: 'INVALID_BODY' };
        return { ok: true, webhookId: headerValue(headers, 'webhook-id') ?? '', event: event as PortOneV2WebhookEvent };
      } catch (error) {
        if (error instanceof SyntaxError) return { ok: false, reason: 'INVALID_BODY' };
        if (!(error instanceof WebhookVerificationError)) throw error;
        reason = error.reason;
        // Missing headers or a stale timestamp do not depend on the secret: no point trying the other one.
        if (reason !== 'NO_MATCHING_SIGNATURE') return { ok: false, reason };
      }
    }
    return { ok: false, reason };
  }
}

/** The payment a `Transaction.*` event is about, or null for every other type (acknowledged and ignored). */
export function transactionPaymentId(event: PortOneV2WebhookEvent): string | null {
  if (!event.type.startsWith('Transaction.')) return null;
  const paymentId = event.data?.paymentId;
  return typeof paymentId === 'string' && paymentId !== '' ? paymentId : null;
}

function headerValue(headers: Record<string, string | string[] | undefined>, name: string): string | undefined {
  for (const [key, value] of Object.entries(headers)) {
    if (key.toLowerCase() === name) return Array.isArray(value) ? value[0] : value;
  }
  return undefined;
}
