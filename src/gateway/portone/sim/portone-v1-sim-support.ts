import type { PortOneV1SimWebhooks } from './portone-v1-sim-webhooks';
import type { V1SimMessages } from './portone-v1-sim-messages';
import type { SimulatorState } from './simulator-state';

/** What the V1 simulator's route files share: its state, its messages and its webhook sender. */
export interface V1SimContext {
  state: SimulatorState;
  messages: V1SimMessages;
  webhooks: PortOneV1SimWebhooks;
}

export type Body = Record<string, unknown>;

/** PortOne V1's response envelope: `code` 0 and the `response`, or a non-zero `code` and a `message`. */
export const envelope = (response: unknown) => ({ code: 0, message: null, response });
export const failure = (code: number, message: string) => ({ code, message, response: null });

export function nonEmpty(value: unknown): string | null {
  return typeof value === 'string' && value.trim() !== '' ? value.trim() : null;
}

export function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms).unref());
}
