import { createHash, timingSafeEqual } from 'node:crypto';
import type { FastifyInstance } from 'fastify';
import type { Registry } from 'prom-client';

/**
 * `GET /metrics` for Prometheus. With a token, a scrape must send `Authorization: Bearer <token>`:
 * the refund counts tell outsiders how the business is doing.
 */
export function registerMetricsRoute(server: FastifyInstance, registry: Registry, token: string | null): void {
  const expected = token === null ? null : digest(token);
  server.get('/metrics', async (request, reply) => {
    if (expected !== null) {
      const match = /^Bearer\s+(\S+)$/i.exec(request.headers.authorization?.trim() ?? '');
      if (!match || !timingSafeEqual(digest(match[1]), expected)) {
        return reply
          .code(401)
          .header('www-authenticate', 'Bearer realm="metrics"')
          .send({ error: 'Authorization: send "Bearer <METRICS_TOKEN>"' });
      }
    }
    return reply.type(registry.contentType).send(await registry.metrics());
  });
}

/** Equal-length digests, so the comparison takes the same time whatever was sent. */
function digest(value: string): Buffer {
  return createHash('sha256').update(value).digest();
}
