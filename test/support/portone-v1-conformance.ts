import fetch from 'node-fetch';
import { startPortOneSimulator, type PortOneSimulator } from '../../src/gateway/portone/sim/portone-simulator';
import { SimulatorControlClient } from '../../src/gateway/portone/sim/simulator-control.client';
import { standIn, useStarted } from './use-started';
import { startWebhookReceiver, type WebhookReceiver } from './webhook-receiver';

/** PortOne V1's answer envelope (`response` is whatever the endpoint documents). */
export interface V1Envelope {
  code: number;
  message: string | null;
  response: any;
}

/**
 * A raw request to a V1 API as PortOne's documentation shows it: a JSON or form body, the headers the
 * test chooses (none added). Returns the HTTP status and the envelope.
 */
export async function callPortOneV1(
  baseUrl: string,
  method: string,
  path: string,
  options: { body?: unknown; form?: Record<string, string>; headers?: Record<string, string> } = {},
): Promise<{ status: number; json: V1Envelope }> {
  const headers: Record<string, string> = { ...options.headers };
  let body: string | undefined;
  if (options.form) {
    headers['content-type'] = 'application/x-www-form-urlencoded';
    body = new URLSearchParams(options.form).toString();
  } else if (options.body !== undefined) {
    headers['content-type'] = 'application/json';
    body = JSON.stringify(options.body);
  }
  const response = await fetch(`${baseUrl}${path}`, { method, headers, body });
  return { status: response.status, json: (await response.json()) as V1Envelope };
}

/** A fresh access token from `POST /users/getToken`. */
export async function portOneV1Token(baseUrl: string, credentials: { impKey: string; impSecret: string }): Promise<string> {
  const answer = await callPortOneV1(baseUrl, 'POST', '/users/getToken', { body: { imp_key: credentials.impKey, imp_secret: credentials.impSecret } });
  return answer.json.response.access_token;
}

/** What a V1 conformance test talks to: the simulator, its control API and the endpoint its notifications reach. */
export interface V1ConformanceSimulator {
  sim: PortOneSimulator;
  control: SimulatorControlClient;
  receiver: WebhookReceiver;
  /** Empties the simulator and the receiver (before each test). */
  reset(): Promise<void>;
  close(): Promise<void>;
}

/** A V1 simulator with the sandbox filter and its control API, sending every notification to a receiver of its own. */
export async function startV1ConformanceSimulator(credentials: { impKey: string; impSecret: string }): Promise<V1ConformanceSimulator> {
  const receiver = await startWebhookReceiver('/hook');
  const sim = await startPortOneSimulator({ ...credentials, control: true, webhookUrl: receiver.url, includeSandboxFilter: true });
  const control = new SimulatorControlClient(sim.url);
  return {
    sim,
    control,
    receiver,
    async reset() {
      await control.reset();
      receiver.clear();
    },
    async close() {
      await sim.close();
      await receiver.close();
    },
  };
}

/**
 * startV1ConformanceSimulator for a whole test file: started before the first test, reset before each,
 * closed after the last. The three parts can be destructured at module level (see useStarted).
 */
export function useV1ConformanceSimulator(credentials: { impKey: string; impSecret: string }): Pick<V1ConformanceSimulator, 'sim' | 'control' | 'receiver'> {
  const conformance = useStarted('the V1 conformance simulator', () => startV1ConformanceSimulator(credentials), {
    reset: (c) => c.reset(),
    close: (c) => c.close(),
  });
  return { sim: standIn(() => conformance.sim), control: standIn(() => conformance.control), receiver: standIn(() => conformance.receiver) };
}
