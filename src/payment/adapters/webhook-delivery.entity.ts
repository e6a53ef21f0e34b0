import { Entity, type Opt, PrimaryKey, Property } from '@mikro-orm/core';

/**
 * A signed PortOne V2 webhook we have handled, by its `webhook-id`: PortOne re-sends a message with the
 * same id, and a second delivery must not cause a second settle. The row is written in the same
 * transaction that queues the settle job, so it exists exactly when the work is durably queued.
 */
@Entity({ tableName: 'webhook_delivery' })
export class WebhookDelivery {
  @PrimaryKey({ type: 'text' })
  webhookId: string;

  /** The event type as sent (`Transaction.Paid`, ...); unknown types are recorded and ignored. */
  @Property({ type: 'text' })
  eventType: string;

  /** The payment a `Transaction.*` event named; null for other types. */
  @Property({ type: 'text', nullable: true })
  paymentId: string | null = null;

  @Property({ type: 'timestamptz' })
  receivedAt: Opt<Date> = new Date();
}
