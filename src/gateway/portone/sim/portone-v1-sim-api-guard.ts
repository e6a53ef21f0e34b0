import type { FastifyInstance, FastifyRequest } from 'fastify';
import { failure, sleep, type V1SimContext } from './portone-v1-sim-support';
import type { Fault, SimulatorEndpoint, SimulatorState } from './simulator-state';

declare module 'fastify' {
  interface FastifyContextConfig {
    /** Which simulated PortOne endpoint a route is, for fault injection. */
    endpoint?: SimulatorEndpoint;
  }
}

/** A V1 API request that drew a fault; the cancel route acts on `applyThenLose` and `applyThenGarble` after applying. */
export type RequestWithFault = FastifyRequest & { fault?: Fault };

const endpointOf = (request: FastifyRequest): SimulatorEndpoint | null =>
  ((request.routeOptions.config as { endpoint?: SimulatorEndpoint } | undefined)?.endpoint ?? null);

/**
 * Hooks for every V1 API route (one with a `config.endpoint`): counts the connections that carried API
 * calls, injects the next queued fault, then checks the access token (except on getToken).
 */
export function registerV1ApiGuard(server: FastifyInstance, { state, messages }: Pick<V1SimContext, 'state' | 'messages'>): void {
  const apiSockets = new WeakSet<object>();
  server.addHook('onRequest', async (request) => {
    if (endpointOf(request) === null || apiSockets.has(request.raw.socket)) return;
    apiSockets.add(request.raw.socket);
    state.apiConnections += 1;
  });

  server.addHook('preHandler', async (request, reply) => {
    const endpoint = endpointOf(request);
    if (!endpoint) return;
    const fault = state.takeFault(endpoint);
    state.apiCalls[endpoint] = (state.apiCalls[endpoint] ?? 0) + 1;
    if (endpoint === 'list') recordListing(state, request, fault);
    if (fault) {
      (request as RequestWithFault).fault = fault;
      if (fault.kind === 'latency') await sleep(fault.latencyMs ?? 1000);
      if (fault.kind === 'http500') return reply.code(500).type('text/html').send('<html><body>500 Internal Server Error</body></html>');
      if (fault.kind === 'http503') return reply.code(503).type('text/html').send('<html><body>503 Service Temporarily Unavailable</body></html>');
      if (fault.kind === 'reset') {
        request.raw.socket.destroy();
        return reply.hijack();
      }
      if (fault.kind === 'businessError') return reply.code(200).send(failure(fault.code ?? -1, fault.message ?? '결제취소에 실패하였습니다.(PG사 오류)'));
    }
    if (endpoint === 'getToken') return;
    // Authorization wins over X-ImpTokenHeader; "Bearer t" and a raw "t" are both accepted.
    const authorization = request.headers.authorization;
    const legacy = request.headers['x-imptokenheader'];
    const raw = typeof authorization === 'string' && authorization.trim() !== '' ? authorization : typeof legacy === 'string' ? legacy : '';
    const token = raw.replace(/^Bearer\s+/i, '').trim();
    const now = state.now();
    const valid = [...state.tokens.values()].some((t) => t.token === token && t.expiredAt > now);
    if (!valid) return reply.code(401).header('WWW-Authenticate', 'iamport').send(failure(-1, messages.unauthorized));
  });
}

function recordListing(state: SimulatorState, request: FastifyRequest, fault: Fault | null): void {
  const query = (request.query ?? {}) as Record<string, string | undefined>;
  const number = (value: string | undefined) => (value !== undefined && /^-?\d+$/.test(value) ? Number(value) : null);
  state.listingRequests.push({
    at: state.now(),
    status: (request.params as { payment_status?: string }).payment_status ?? '',
    from: number(query.from),
    to: number(query.to),
    page: number(query.page),
    limit: number(query.limit),
    fault: fault?.kind ?? null,
  });
}
