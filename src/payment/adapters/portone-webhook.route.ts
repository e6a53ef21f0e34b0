import formbody from '@fastify/formbody';
import type { MikroORM } from '@mikro-orm/postgresql';
import type { RateLimitOptions } from '@fastify/rate-limit';
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { transactionPaymentId, type PortOneV2WebhookVerifier } from '../../gateway/portone/v2/portone-v2.webhook';
import type { PaymentEventLog } from '../event-log/payment-event-log';
import { scheduleSettlement } from '../settlement/settlement-queue';

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
  deps: {
    orm: MikroORM;
    events: PaymentEventLog;
    rateLimit: RateLimitOptions | false;
    /** Set when PORTONE_VERSION=v2: signed V2 webhooks replace the V1 notifications at the same path. */
    v2?: { verifier: PortOneV2WebhookVerifier; storeId: string };
  },
): Promise<void> {
  const v2 = deps.v2;
  if (v2) {
    await server.register(async (scope) => {
      // The signature covers the exact bytes sent: this route alone keeps the body unparsed.
      scope.removeAllContentTypeParsers();
      scope.addContentTypeParser('*', { parseAs: 'buffer' }, (_request, body, done) => done(null, body));
      scope.post('/webhooks/portone', { bodyLimit: 64 * 1024, config: { rateLimit: deps.rateLimit } }, (request, reply) =>
        handleV2Webhook(request, reply, { ...deps, v2 }),
      );
    });
    return;
  }
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

/**
 * A signed V2 webhook (body version 2024-04-25). Verified on the raw bytes (401 and nothing written on a
 * missing, bad or stale signature); then, in one transaction, the `webhook-id` is recorded and the settle
 * job queued, so a message counts as handled exactly when its work is durably queued, and a re-delivery
 * (PortOne's retry, or one after our crash) is acknowledged without a second settle. `Transaction.*`
 * events name the payment that the job reads back; every other type is acknowledged and ignored.
 */
async function handleV2Webhook(
  request: FastifyRequest,
  reply: FastifyReply,
  deps: { orm: MikroORM; events: PaymentEventLog; v2: { verifier: PortOneV2WebhookVerifier; storeId: string } },
) {
  const raw = Buffer.isBuffer(request.body) ? request.body : Buffer.alloc(0);
  const verified = await deps.v2.verifier.verify(raw, request.headers);
  if (!verified.ok) {
    request.log.warn({ reason: verified.reason }, 'PortOne V2 webhook refused: signature not verified');
    return reply.code(401).send({ error: 'webhook signature not verified' });
  }
  const { webhookId, event } = verified;
  // Another store's event (a secret may reach several stores) is not ours to settle.
  const eventStore = typeof event.data?.storeId === 'string' ? event.data.storeId : null;
  const paymentId = eventStore !== null && eventStore !== deps.v2.storeId ? null : transactionPaymentId(event);
  if (paymentId !== null && (paymentId.length > 200 || paymentId.includes('\u0000'))) {
    return reply.code(400).send({ error: 'data.paymentId: at most 200 characters, no NUL character' });
  }
  const em = deps.orm.em.fork();
  let fresh: boolean;
  try {
    fresh = await em.transactional(async (tx) => {
      const inserted: unknown[] = await tx.execute(
        `insert into webhook_delivery (webhook_id, event_type, payment_id, received_at) values (?, ?, ?, now())
           on conflict (webhook_id) do nothing returning webhook_id`,
        // PostgreSQL text cannot hold U+0000; the type is only kept for the record.
        [webhookId, event.type.replace(/\u0000/g, '').slice(0, 200), paymentId],
      );
      if (inserted.length === 0) return false;
      if (paymentId !== null) await scheduleSettlement(tx, paymentId, 'WEBHOOK');
      return true;
    });
  } catch (error) {
    request.log.error({ err: error, webhookId }, 'could not queue a PortOne V2 webhook; PortOne will retry');
    return reply.code(503).send({ error: 'temporarily unavailable' });
  }
  if (!fresh) return reply.code(200).send({ status: 'duplicate' });
  if (paymentId === null) return reply.code(200).send({ status: 'ignored' });
  await deps.events.record(em, {
    kind: 'WEBHOOK',
    outcome: 'QUEUED',
    gatewayPaymentId: paymentId,
    message: `${event.type} (webhook ${webhookId})`,
  });
  return reply.code(200).send({ status: 'queued' });
}
