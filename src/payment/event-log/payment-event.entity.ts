import { Entity, Index, PrimaryKey, Property } from '@mikro-orm/core';

/**
 * Append-only log of everything that happened to money: gateway reads, decisions, cancel attempts and
 * their outcomes. Never updated or deleted; admins read it to answer "what happened to this payment?".
 */
@Entity({ tableName: 'payment_event' })
@Index({ name: 'payment_event_reservation_idx', properties: ['reservationId', 'id'] })
@Index({ name: 'payment_event_gateway_payment_idx', properties: ['gatewayPaymentId', 'id'] })
export class PaymentEvent {
  @PrimaryKey({ type: 'bigint', autoincrement: true })
  id: string;

  @Property({ type: 'timestamptz' })
  at: Date = new Date();

  @Property({ type: 'uuid', nullable: true })
  reservationId: string | null = null;

  @Property({ type: 'text', nullable: true })
  gatewayPaymentId: string | null = null;

  @Property({ type: 'uuid', nullable: true })
  refundId: string | null = null;

  /** GATEWAY_READ, DECISION, CANCEL_ATTEMPT, REFUND_STATUS, ... */
  @Property({ type: 'text' })
  kind: string;

  /** What came of it: PAID, CONFIRMED, REFUND, SUCCEEDED, UNAVAILABLE, ... */
  @Property({ type: 'text' })
  outcome: string;

  @Property({ type: 'text', nullable: true })
  message: string | null = null;

  @Property({ type: 'jsonb', nullable: true })
  details: Record<string, unknown> | null = null;
}
