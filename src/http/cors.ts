import cors from '@fastify/cors';
import type { FastifyInstance } from 'fastify';

/**
 * Browsers cache an allowed preflight this long (seconds) and skip it on the next calls; Chromium caps
 * it at two hours. A removed origin loses access at once anyway: answers to it carry no allow header.
 */
export const CORS_PREFLIGHT_MAX_AGE_SECONDS = 7200;

/**
 * Lets pages from the CORS_ORIGINS frontends call /graphql. Nothing is registered when the list is empty,
 * so by default no answer carries a CORS header. Bearer tokens, not cookies, carry identity, so
 * credentials stay off; Apollo's CSRF prevention still refuses simple (unpreflighted) requests.
 */
export async function registerCors(server: FastifyInstance, origins: readonly string[]): Promise<void> {
  if (origins.length === 0) return;
  const allowed = {
    origin: [...origins],
    methods: ['GET', 'POST'],
    allowedHeaders: ['authorization', 'content-type', 'apollo-require-preflight', 'x-apollo-operation-name', 'accept-language'],
    credentials: false,
    maxAge: CORS_PREFLIGHT_MAX_AGE_SECONDS,
  };
  await server.register(cors, {
    // Only the API is for browsers of other origins; webhooks, metrics and health checks are not.
    delegator: (request, callback) => {
      const path = request.url.split('?')[0];
      callback(null, path === '/graphql' ? allowed : { origin: false });
    },
  });
}
