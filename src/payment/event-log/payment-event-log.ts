import type { EntityManager } from '@mikro-orm/postgresql';
import type { Logger } from 'pino';
import { isUuid } from '../../booking/event.service';
import { badUserInput } from '../../errors';
import { cursorPart, pageFromCursor, pageRequest, type CursorKind, type Page, type PageArgs } from '../../graphql/pagination';
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

const PAYMENT_EVENT_CURSOR: CursorKind<[id: string]> = {
  name: 'payment-event',
  parse: ([id, ...rest]) => (rest.length === 0 && cursorPart.serial(id) ? [id] : null),
};

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
    this.logOnly(entry);
  }

  /** The operator's log line of an entry whose row a hot-path statement wrote itself. */
  logOnly(entry: PaymentEventEntry): void {
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

  /** One page of a reservation's events, oldest first: keyset pagination on the append order (id). */
  async forReservation(em: EntityManager, reservationId: string, args: PageArgs): Promise<Page<PaymentEvent>> {
    if (!isUuid(reservationId)) throw badUserInput('reservationId', 'must be a UUID');
    const page = pageRequest(PAYMENT_EVENT_CURSOR, args);
    const cursor = await em.findByCursor(PaymentEvent, { reservationId }, {
      first: page.first,
      after: page.after ? { id: page.after[0] } : undefined,
      orderBy: { id: 'asc' },
      includeCount: false,
    });
    return pageFromCursor(cursor, PAYMENT_EVENT_CURSOR, (event) => [String(event.id)]);
  }
}
