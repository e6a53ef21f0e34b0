import Fastify, { type FastifyInstance } from 'fastify';
import { registerV2ApiRoutes } from './portone-v2-simulator-api.routes';
import { registerV2CancelRoute } from './portone-v2-simulator-cancel.route';
import { INVALID_JSON, type PortOneV2SimulatorOptions, type V2SimulatorContext } from './portone-v2-simulator-context';
import { registerV2ControlRoutes } from './portone-v2-simulator-control.routes';
import { toV2Payment, V2SimulatorState } from './portone-v2-simulator-state';
import { V2WebhookSender } from './portone-v2-simulator-webhooks';

// The route groups live in their own files; importers of this module still find these names here.
export type { PortOneV2SimulatorOptions } from './portone-v2-simulator-context';
export { parseSfString } from './portone-v2-simulator-idempotency';
export { newWebhookSecret } from './portone-v2-simulator-webhooks';

/*
 * A PortOne V2 REST API simulator following PortOne's V2 API contract and its OpenAPI
 * (1.16.0): `GET /payments/{id}`, `GET /payments`, `POST /payments/{id}/cancel`,
 * `POST /payments/{id}/virtual-account/close`, the `{type, message}` error envelopes with their HTTP
 * statuses, the `currentCancellableAmount` guard, Idempotency-Key replay, Standard-Webhooks-signed
 * webhooks (body version 2024-04-25) with retries, and a `/__control` API in the V1 simulator's style.
 * It is a Fastify plugin, so it can be mounted in the V1 simulator's server under a prefix, or run alone.
 * Where the contract marks behaviour UNCONFIRMED it is an option.
 */

export interface PortOneV2Simulator {
  /** The V2 base URL (what `PORTONE_API_URL` is set to with `PORTONE_VERSION=v2`). */
  url: string;
  state: V2SimulatorState;
  apiSecret: string;
  storeId: string;
  webhookSecrets: string[];
  /** The console's webhook URL, when the app's port is known only after the simulator started. */
  setWebhookUrl(url: string | null): void;
  close(): Promise<void>;
}

/**
 * Registers the V2 API (and `/__control` when asked) on `server`; every route lives in this plugin's own
 * encapsulated context, so its body parser and hooks do not touch a V1 simulator it is mounted beside.
 */
export function registerPortOneV2Simulator(server: FastifyInstance, state: V2SimulatorState, options: PortOneV2SimulatorOptions): void {
  const merchantId = options.merchantId ?? 'merchant-00000000-0000-0000-0000-000000000001';
  const context: V2SimulatorContext = {
    state,
    options,
    stores: new Set([options.storeId, ...(options.otherStoreIds ?? [])]),
    render: (payment) => toV2Payment(payment, merchantId),
    webhookSender: new V2WebhookSender(state, options),
  };

  // JSON whatever the Content-Type says: the official SDK sends its cancel body as text/plain.
  server.removeAllContentTypeParsers();
  server.addContentTypeParser('*', { parseAs: 'string' }, (_request, body, done) => {
    const text = String(body);
    if (text.trim() === '') return done(null, undefined);
    try {
      done(null, JSON.parse(text));
    } catch {
      done(null, INVALID_JSON);
    }
  });

  // The API routes add the authentication hooks, so they go first.
  registerV2ApiRoutes(server, context);
  registerV2CancelRoute(server, context);
  if (options.control) registerV2ControlRoutes(server, context);
}

/** Runs the V2 simulator on its own port (tests; `npm start` may instead mount it beside V1). */
export async function startPortOneV2Simulator(options: PortOneV2SimulatorOptions & { port?: number; host?: string }): Promise<PortOneV2Simulator> {
  const state = new V2SimulatorState();
  const server = Fastify({ logger: false });
  await server.register(async (instance) => registerPortOneV2Simulator(instance, state, options));
  const url = await server.listen({ port: options.port ?? 0, host: options.host ?? '127.0.0.1' });
  options.logger?.info({ url, control: options.control }, 'PortOne V2 simulator listening');
  return {
    url,
    state,
    apiSecret: options.apiSecret,
    storeId: options.storeId,
    webhookSecrets: options.webhookSecrets,
    // The plugin reads options.webhookUrl at each delivery.
    setWebhookUrl: (webhookUrl) => {
      options.webhookUrl = webhookUrl;
    },
    close: () => server.close(),
  };
}
