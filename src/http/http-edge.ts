import { STATUS_CODES } from 'node:http';
import helmet from '@fastify/helmet';
import rateLimit from '@fastify/rate-limit';
import type { FastifyError, FastifyInstance, FastifyServerOptions } from 'fastify';
import type { HttpConfig } from '../config';

/**
 * Node's own request/headers timeouts are only enforced when its connection sweep runs (every 30 s by
 * default), so a short timeout would be honoured up to 30 s late; sweep a few times per timeout instead.
 */
function connectionsCheckingInterval(http: HttpConfig): number {
  return Math.max(50, Math.min(30_000, Math.floor(Math.min(http.requestTimeoutMs, http.headersTimeoutMs) / 4)));
}

/**
 * Server options for the public port. Fastify's own default is no request timeout at all, which let
 * clients hold connections open indefinitely by sending a body slowly.
 */
export function httpServerOptions(http: HttpConfig): Pick<
  FastifyServerOptions,
  'requestTimeout' | 'connectionTimeout' | 'keepAliveTimeout' | 'trustProxy'
> & { http: { headersTimeout: number; connectionsCheckingInterval: number } } {
  return {
    requestTimeout: http.requestTimeoutMs,
    connectionTimeout: http.connectionTimeoutMs,
    keepAliveTimeout: http.keepAliveTimeoutMs,
    // A hop count is supported at run time (proxy-addr) though missing from Fastify's type.
    trustProxy: http.trustProxy as FastifyServerOptions['trustProxy'],
    http: { headersTimeout: http.headersTimeoutMs, connectionsCheckingInterval: connectionsCheckingInterval(http) },
  };
}

/**
 * What every route gets: security headers, a Host check, the rate-limit plugin (limits are set per
 * route), and an error handler under which nothing a client sends reads as a server fault.
 */
export async function registerHttpEdge(server: FastifyInstance): Promise<void> {
  await server.register(helmet, { global: true });
  await server.register(rateLimit, {
    // Each route sets its own limit (src/http/rate-limits.ts); routes without one are not limited.
    global: false,
    errorResponseBuilder: (_request, context) => ({
      statusCode: context.statusCode,
      error: 'Too Many Requests',
      message: `Rate limit exceeded, retry in ${context.after}`,
    }),
  });

  // Without a usable Host the request URL cannot be built (HTTP/1.0 allows leaving it out); that is
  // the client's mistake, so it is a 400 and not the 500 that URL parsing further in would produce.
  server.addHook('onRequest', async (request, reply) => {
    if (!request.headers.host || !isParsableUrl(request.url, `${request.protocol}://${request.hostname}/`)) {
      return reply.code(400).send({ error: 'Host: a valid Host header is required' });
    }
  });

  server.setErrorHandler((error: FastifyError, request, reply) => {
    const status = error.statusCode ?? 500;
    if (status >= 500) {
      request.log.error({ err: error }, 'unhandled error in an HTTP route');
      return reply.code(500).send({ error: 'Internal server error' });
    }
    request.log.info({ status, code: error.code }, error.message);
    return reply.code(status).send({ statusCode: status, code: error.code, error: STATUS_CODES[status], message: error.message });
  });
}

function isParsableUrl(path: string, base: string): boolean {
  try {
    new URL(path, base);
    return true;
  } catch {
    return false;
  }
}
