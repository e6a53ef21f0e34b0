import formbody from '@fastify/formbody';
import type { MikroORM } from '@mikro-orm/postgresql';
import type { RateLimitOptions } from '@fastify/rate-limit';
import type { FastifyInstance } from 'fastify';
import type { PaymentEventLog } from './payment-event-log';
import { scheduleSettlement } from './settlement-queue';

interface PortOneV1Notification {
  imp_uid?: unknown;
  merchant_uid?: unknown;
  status?: unknown;
}

const ID = /^[A-Za-z0-9_\-.]{1,100}$/;

/**
 * `POST /webhooks/portone`: PortOne V1 notifications (JSON or form). The body is unsigned and never
 * trusted: it only names a payment, which the queued settle job reads back from PortOne. We answer 2xx
 * only once the job is durably queued, and 5xx when it could not be, so PortOne sends it again.
 */
export async function registerPortOneWebhook(
  server: FastifyInstance,
  deps: { orm: MikroORM; events: PaymentEventLog; rateLimit: RateLimitOptions | false },
): Promise<void> {
  await server.register(async (scope) => {
    await scope.register(formbody, { bodyLimit: 16 * 1024 });
    scope.post('/webhooks/portone', { bodyLimit: 16 * 1024, config: { rateLimit: deps.rateLimit } }, async (request, reply) => {
      const body = (request.body ?? {}) as PortOneV1Notification;
      // PostgreSQL cannot store U+0000 in text: such a notification would lose its audit row.
      const withNul = (['imp_uid', 'merchant_uid', 'status'] as const).find(
        (field) => typeof body[field] === 'string' && (body[field] as string).includes('\u0000'),
      );
      if (withNul) return reply.code(400).send({ error: `${withNul}: must not contain the NUL character (U+0000)` });
      const impUid = typeof body.imp_uid === 'string' ? body.imp_uid.trim() : '';
      const merchantUid = typeof body.merchant_uid === 'string' ? body.merchant_uid.trim() : null;
      const status = typeof body.status === 'string' ? body.status : null;
      if (!ID.test(impUid)) {
        request.log.warn({ body: { merchantUid, status } }, 'PortOne webhook without a usable imp_uid');
        return reply.code(400).send({ error: 'imp_uid: required, 1-100 letters, digits, _ - .' });
      }
      const em = deps.orm.em.fork();
      try {
        // The queued job is the only thing a notification writes: a forged one changes no booking.
        await scheduleSettlement(em, impUid, 'WEBHOOK');
      } catch (error) {
        request.log.error({ err: error, impUid }, 'could not queue a PortOne webhook; PortOne will retry');
        return reply.code(503).send({ error: 'temporarily unavailable' });
      }
      await deps.events.record(em, {
        kind: 'WEBHOOK',
        outcome: 'QUEUED',
        gatewayPaymentId: impUid,
        message: `notification says ${status ?? 'nothing'} for ${merchantUid ?? 'no order id'}`,
      });
      return reply.code(200).send({ status: 'queued' });
    });
  });
}
