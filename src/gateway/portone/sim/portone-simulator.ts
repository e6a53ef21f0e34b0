import formbody from '@fastify/formbody';
import Fastify from 'fastify';
import type { Logger } from 'pino';
import { registerV1ApiGuard } from './portone-v1-sim-api-guard';
import { registerV1ApiRoutes } from './portone-v1-sim-api.routes';
import { registerV1ControlRoutes } from './portone-v1-sim-control.routes';
import { registerV1LookupRoutes } from './portone-v1-sim-lookup.routes';
import { DEFAULT_MESSAGES } from './portone-v1-sim-messages';
import type { V1SimContext } from './portone-v1-sim-support';
import { PortOneV1SimWebhooks } from './portone-v1-sim-webhooks';
import { registerPortOneV2Simulator, type PortOneV2SimulatorOptions } from './v2/portone-v2-simulator';
import { V2SimulatorState } from './v2/portone-v2-simulator-state';
import { SimulatorState } from './simulator-state';

export { DEFAULT_MESSAGES } from './portone-v1-sim-messages';

declare module 'fastify' {
  interface FastifyContextConfig {
    /** A V2 API route (authenticated, faultable), as opposed to the V2 control API. */
    v2Api?: boolean;
  }
}

/**
 * A PortOne V1 REST API simulator that follows PortOne's public V1 documentation (REST reference
 * https://developers.portone.io/api/rest-v1, webhook guide .../opi/ko/integration/webhook/readme-v1, cancel
 * guide .../opi/ko/integration/cancel/v1/basic): the envelope, token rules, lookups, cancel rules and
 * webhooks, plus a test-control API under `/__control` (payments in any state, faults, clock, webhooks,
 * ledger), time-window listings and virtual-account revoke. Where PortOne documents no behaviour (marked
 * UNCONFIRMED here and in the portone-v1-sim-* files) it is an option.
 *
 * Control API (JSON bodies; `SimulatorControlClient` wraps it):
 * - `POST payments` one payment as the buyer's window makes it (live unless `sandbox: true`; decimals
 *   allowed); `POST payments/batch {payments: [...]}` many at once.
 * - `POST payments/:imp_uid/status {status}` late transitions; ready → paid on a `vbank` is the deposit.
 * - `POST payments/:imp_uid/console-cancel {amount?}` a cancel outside the merchant's server.
 * - `GET|POST options {partialCancelStatus?, includeSandboxFilter?}` UNCONFIRMED behaviour at run time.
 * - `GET /__window?merchant_uid&amount&name&origin[&notice_url]` (not under `/__control`) the buyer's payment window for a browser
 *   checkout: pay, fail, pay and close, tamper with the amount (payment-window.ts).
 * - `POST clock`, `POST|DELETE faults` (endpoints: getToken, getPayment, find, findAll, list, cancel,
 *   revokeVbank, prepare), `POST webhooks`, `GET ledger`, `POST reset` (also restores the options).
 */
export interface PortOneSimulatorOptions {
  port?: number;
  host?: string;
  impKey: string;
  impSecret: string;
  /** Register the `/__control` API (tests and demo mode only). */
  control: boolean;
  /** The console's notification URL; a payment's own notice_url wins. */
  webhookUrl?: string | null;
  webhookContentType?: 'json' | 'form';
  /** UNCONFIRMED: status after a partial cancel (default `paid`); also switchable at run time. */
  partialCancelStatus?: 'paid' | 'cancelled';
  /** UNCONFIRMED: hide sandbox payments from single lookups unless include_sandbox=true; switchable too. */
  includeSandboxFilter?: boolean;
  /** Webhook retry (opt-in at PortOne): 5 more tries on 5xx or network error. */
  webhookRetry?: { enabled: boolean; intervalMs: number };
  messages?: Partial<typeof DEFAULT_MESSAGES>;
  /** Also serve the PortOne V2 API (and its `/__control`) under `/v2` in the same server. */
  v2?: PortOneV2SimulatorOptions;
  logger?: Logger;
}

export interface PortOneSimulator {
  url: string;
  state: SimulatorState;
  impKey: string;
  impSecret: string;
  /** Where notifications go when a payment names no notice_url (the app's port may be known only later). */
  setWebhookUrl(url: string | null): void;
  /** Present when started with `v2`: the V2 base URL (`<url>/v2`) and its state. */
  v2?: { url: string; state: V2SimulatorState; setWebhookUrl(url: string | null): void };
  close(): Promise<void>;
}

/**
 * Starts the simulator. The V1 parts live beside this file: portone-v1-sim-api-guard.ts (faults and token
 * check), portone-v1-sim-api.routes.ts and portone-v1-sim-lookup.routes.ts (the V1 API),
 * portone-v1-sim-control.routes.ts (`/__control`, `/__window`) and portone-v1-sim-webhooks.ts (notifications).
 */
export async function startPortOneSimulator(options: PortOneSimulatorOptions): Promise<PortOneSimulator> {
  const state = new SimulatorState({
    partialCancelStatus: options.partialCancelStatus ?? 'paid',
    includeSandboxFilter: options.includeSandboxFilter ?? false,
  });
  const context: V1SimContext = {
    state,
    messages: { ...DEFAULT_MESSAGES, ...options.messages },
    webhooks: new PortOneV1SimWebhooks(state, options, options.webhookUrl ?? null),
  };
  const server = Fastify({ logger: false });
  await server.register(formbody);
  const log = options.logger;

  registerV1ApiGuard(server, context);
  registerV1ApiRoutes(server, context, { impKey: options.impKey, impSecret: options.impSecret });
  registerV1LookupRoutes(server, context);
  if (options.control) registerV1ControlRoutes(server, context);

  const v2State = options.v2 ? new V2SimulatorState() : null;
  let v2WebhookTarget: PortOneV2SimulatorOptions | null = null;
  if (options.v2 && v2State) {
    // A copy the plugin reads each delivery's URL from, so setWebhookUrl works after start.
    const v2Options = { ...options.v2 };
    v2WebhookTarget = v2Options;
    await server.register(async (instance) => registerPortOneV2Simulator(instance, v2State, v2Options), { prefix: '/v2' });
  }

  const address = await server.listen({ port: options.port ?? 0, host: options.host ?? '127.0.0.1' });
  log?.info({ url: address, control: options.control }, 'PortOne simulator listening');
  return {
    url: address,
    state,
    impKey: options.impKey,
    impSecret: options.impSecret,
    setWebhookUrl: (url) => context.webhooks.setDefaultUrl(url),
    v2: v2State
      ? {
          url: `${address}/v2`,
          state: v2State,
          setWebhookUrl: (url) => {
            if (v2WebhookTarget) v2WebhookTarget.webhookUrl = url;
          },
        }
      : undefined,
    close: () => server.close(),
  };
}
