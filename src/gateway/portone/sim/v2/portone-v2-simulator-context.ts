import type { FastifyReply } from 'fastify';
import type { Logger } from 'pino';
import type { StoredV2Payment } from './portone-v2-simulator-payment-shapes';
import type { V2SimulatorState } from './portone-v2-simulator-state';
import type { V2WebhookSender } from './portone-v2-simulator-webhooks';

export interface PortOneV2SimulatorOptions {
  /** The V2 API secret the simulator accepts in `Authorization: PortOne <secret>`. */
  apiSecret: string;
  /** The secret's own store: used when a call names none. */
  storeId: string;
  /** Further stores the same secret may act for (a payment id is unique per store only). */
  otherStoreIds?: string[];
  merchantId?: string;
  /** Register `/__control` (tests and demo mode only). */
  control: boolean;
  /** The console's webhook URL; none means no webhooks are sent. */
  webhookUrl?: string | null;
  /** Signing secrets (`whsec_` + base64); during a rotation two, and every delivery carries both signatures. */
  webhookSecrets: string[];
  /** PortOne re-sends a failed delivery up to 5 times after 1, 4, 16, 64, 256 minutes (full jitter); `unitMs` is one "minute". */
  webhookRetry?: { enabled: boolean; unitMs: number; jitter?: boolean };
  /** UNCONFIRMED: whether a completed error answer is replayed for its Idempotency-Key (as successes are). */
  idempotencyReplay?: 'all' | 'success-only';
  /** PortOne keeps keys for 3 hours. */
  idempotencyRetentionMs?: number;
  logger?: Logger;
}

/** What the route groups of one mounted simulator share (they are registered on the same Fastify context). */
export interface V2SimulatorContext {
  state: V2SimulatorState;
  options: PortOneV2SimulatorOptions;
  /** The secret's own store and the further stores it may act for. */
  stores: Set<string>;
  render(payment: StoredV2Payment): Record<string, unknown>;
  webhookSender: V2WebhookSender;
}

export type Body = Record<string, unknown>;

/** What the content-type parser hands on for a body that is not JSON, so each route decides how to answer. */
export const INVALID_JSON = Symbol('invalid JSON');

/** V2's error envelope: `{type, message}` (plus any extra fields) with the HTTP status. */
export const fail = (reply: FastifyReply, httpStatus: number, type: string, message: string, extra: Body = {}) =>
  reply.code(httpStatus).send({ type, message, ...extra });

export function cancelEvent(payment: StoredV2Payment): string {
  return payment.cancelled >= payment.total ? 'Transaction.Cancelled' : 'Transaction.PartialCancelled';
}

export function nonEmpty(value: unknown): string | null {
  return typeof value === 'string' && value.trim() !== '' ? value.trim() : null;
}

export function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms).unref());
}
