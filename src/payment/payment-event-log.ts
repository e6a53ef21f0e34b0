import type { EntityManager } from '@mikro-orm/postgresql';
import type { Logger } from 'pino';
import { isUuid } from '../booking/event.service';
import { badUserInput } from '../graphql/errors';
import { PaymentEvent } from './payment-event.entity';

export interface PaymentEventEntry {
  kind:
    | 'GATEWAY_READ'
    | 'DECISION'
    | 'CANCEL_ATTEMPT'
    | 'REFUND_STATUS'
    | 'DECISION_FAILED'
    | 'WEBHOOK'
    | 'RECONCILIATION'
    | 'EXTERNAL_CANCEL'
    | 'VIRTUAL_ACCOUNT';
  outcome: string;
  reservationId?: string | null;
  gatewayPaymentId?: string | null;
  refundId?: string | null;
  message?: string | null;
  details?: Record<string, unknown> | null;
}

/**
 * Writes the append-only payment event log and the operator's log line for the same fact, so the two
 * never tell different stories.
 */
export class PaymentEventLog {
  constructor(private readonly logger: Logger) {}

  /** Adds the entry to `em`'s unit of work: it commits with the caller's transaction. */
  add(em: EntityManager, entry: PaymentEventEntry): void {
    em.create(PaymentEvent, {
      at: new Date(),
      kind: entry.kind,
      outcome: entry.outcome,
      reservationId: entry.reservationId ?? null,
      gatewayPaymentId: entry.gatewayPaymentId ?? null,
      refundId: entry.refundId ?? null,
      message: entry.message ?? null,
      details: entry.details ?? null,
    });
    this.logger.info({ paymentEvent: entry }, `${entry.kind} ${entry.outcome}`);
  }

  /** Records on its own, outside any transaction (gateway reads and attempts happen outside them). */
  async record(em: EntityManager, entry: PaymentEventEntry): Promise<void> {
    const fork = em.fork();
    this.add(fork, entry);
    try {
      await fork.flush();
    } catch (error) {
      // The log must never turn a money operation into a failure; the pino line above still stands.
      this.logger.error({ err: error, paymentEvent: entry }, 'could not write the payment event log');
    }
  }

  async forReservation(em: EntityManager, reservationId: string): Promise<PaymentEvent[]> {
    if (!isUuid(reservationId)) throw badUserInput('reservationId', 'must be a UUID');
    return em.find(PaymentEvent, { reservationId }, { orderBy: { id: 'asc' } });
  }
}
