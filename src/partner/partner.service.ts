import { createHash, randomBytes } from 'node:crypto';
import type { EntityManager } from '@mikro-orm/postgresql';
import type { Viewer } from '../auth/identity';
import { Event } from '../booking/event.entity';
import { isUuid } from '../booking/event.service';
import type { ReservationStatus } from '../booking/reservation.entity';
import type { Clock } from '../clock';
import { badUserInput, notFound, unauthenticated } from '../errors';
import type { RefundFacts, RefundReason, RefundStatus } from '../payment/refunds/refund.entity';
import { Partner } from './partner.entity';

export const MAX_BOOKING_STATUS_BATCH = 100;

function hashApiKey(apiKey: string): string {
  return createHash('sha256').update(apiKey, 'utf8').digest('hex');
}

export class PartnerService {
  constructor(private readonly clock: Clock) {}

  /** Admin: creates a partner linked to events. The returned key is never stored and never shown again. */
  async createPartner(em: EntityManager, input: { name: string; eventIds: string[] }): Promise<{ partner: Partner; apiKey: string }> {
    input.eventIds.forEach((id, index) => {
      if (!isUuid(id)) throw badUserInput(`input.eventIds[${index}]`, 'must be a UUID');
    });
    const events = await em.find(Event, { id: { $in: input.eventIds } });
    const missing = input.eventIds.findIndex((id) => !events.some((e) => e.id === id));
    if (missing >= 0) throw badUserInput(`input.eventIds[${missing}]`, `event ${input.eventIds[missing]} does not exist`);
    const apiKey = `pk_${randomBytes(32).toString('base64url')}`;
    const partner = em.create(Partner, {
      name: input.name.trim(),
      apiKeyHash: hashApiKey(apiKey),
      apiKeyPrefix: apiKey.slice(0, 10),
      createdAt: this.clock.now(),
    });
    partner.events.set(events);
    await em.flush();
    return { partner, apiKey };
  }

  /** Admin: the key stops working with the next request. */
  async revokePartner(em: EntityManager, id: string): Promise<Partner> {
    if (!isUuid(id)) throw badUserInput('id', 'must be a UUID');
    const partner = await em.findOne(Partner, id, { populate: ['events'] });
    if (!partner) throw notFound('Partner', id);
    partner.revokedAt ??= this.clock.now();
    await em.flush();
    return partner;
  }

  async listPartners(em: EntityManager): Promise<Partner[]> {
    return em.find(Partner, {}, { populate: ['events'], orderBy: { createdAt: 'asc' } });
  }

  /** One query: the key's partner (not revoked) and the events it may see. */
  async viewerFromApiKey(em: EntityManager, apiKey: string): Promise<Viewer> {
    const rows: Array<{ id: string; event_ids: string[] | null }> = await em.execute(
      `select p.id, array_remove(array_agg(pe.event_id), null) as event_ids
         from partner p left join partner_event pe on pe.partner_id = p.id
        where p.api_key_hash = ? and p.revoked_at is null
        group by p.id`,
      [hashApiKey(apiKey.trim())],
    );
    if (rows.length === 0) throw unauthenticated('The API key is unknown or revoked');
    return { kind: 'partner', partnerId: rows[0].id, eventIds: rows[0].event_ids ?? [] };
  }

  /**
   * Bookings a partner may see among the given order ids, in the order asked, with seat, event and money
   * read in the same query. Unknown ids and other events' bookings are simply absent.
   *
   * One statement of plain rows, not entities: a batch of 100 made some 400 managed entities
   * (reservation, seat, event, payment; refunds) whose hydration and change tracking cost most of the
   * call's CPU, for a read that changes nothing (a refund included: em.map costs ~0.1 ms a row).
   *
   * The money follows the rule of the payment module's `moneyByReservationId` loader (the payment that
   * confirmed the booking, else the latest decided one; the refund of that confirmed payment, else the
   * latest refund); test/integration/partner/booking-money-parity.test.ts holds the two to the same answers.
   */
  async bookingStatuses(em: EntityManager, eventIds: string[], merchantUids: string[]): Promise<BookingRecord[]> {
    if (merchantUids.length > MAX_BOOKING_STATUS_BATCH) {
      throw badUserInput('merchantUids', `at most ${MAX_BOOKING_STATUS_BATCH} per request (got ${merchantUids.length})`);
    }
    if (merchantUids.length === 0 || eventIds.length === 0) return [];
    const rows = await em.execute<BookingRow[]>(
      `select r.id, r.merchant_uid, r.status, r.amount, r.expires_at, r.confirmed_at, r.cancelled_at,
              s.id as seat_id, s.label as seat_label, s.price as seat_price,
              e.id as event_id, e.title as event_title, e.starts_at as event_starts_at,
              coalesce(confirmed.amount, latest.amount)::text as paid_amount,
              f.id as refund_id, f.gateway_payment_id as refund_gateway_payment_id, f.amount::text as refund_amount,
              f.currency as refund_currency, f.reason as refund_reason, f.status as refund_status,
              f.attempts as refund_attempts, f.next_attempt_at as refund_next_attempt_at,
              f.created_at as refund_created_at, f.succeeded_at as refund_succeeded_at
         from reservation r
         join seat s on s.id = r.seat_id
         join event e on e.id = s.event_id
         left join lateral (select p.gateway_payment_id, p.amount from payment p
                             where p.reservation_id = r.id and p.decision = 'CONFIRMED'
                             order by p.decided_at, p.id limit 1) confirmed on true
         left join lateral (select p.amount from payment p
                             where p.reservation_id = r.id
                             order by p.decided_at desc, p.id desc limit 1) latest on true
         left join lateral (select * from refund x
                             where x.reservation_id = r.id
                               and (confirmed.gateway_payment_id is null or x.gateway_payment_id = confirmed.gateway_payment_id)
                             order by x.created_at desc, x.id desc limit 1) f on true
        where r.merchant_uid in (?) and s.event_id in (?)`,
      [[...new Set(merchantUids)], eventIds],
    );
    const byUid = new Map(rows.map((row) => [row.merchant_uid, bookingRecord(row)]));
    return merchantUids.map((uid) => byUid.get(uid)).filter((r): r is BookingRecord => r !== undefined);
  }
}

/** A refund as bookingStatuses shows it: the fields RefundView reads, as plain data. */
export type RefundRecord = RefundFacts;

/** A booking as bookingStatuses reads it: the reservation with its seat and the seat's event. */
export interface BookingRecord {
  id: string;
  merchantUid: string;
  status: ReservationStatus;
  amount: number;
  expiresAt: Date;
  confirmedAt: Date | null;
  cancelledAt: Date | null;
  seat: { id: string; label: string; price: number; event: { id: string; title: string; startsAt: Date } };
  /** What PortOne reported as paid for the payment that backs the booking, else the latest decided one. */
  paidAmount: number | null;
  /** The refund of that payment (or the latest). */
  refund: RefundRecord | null;
}

interface BookingRow {
  id: string;
  merchant_uid: string;
  status: ReservationStatus;
  amount: number;
  expires_at: Date;
  confirmed_at: Date | null;
  cancelled_at: Date | null;
  seat_id: string;
  seat_label: string;
  seat_price: number;
  event_id: string;
  event_title: string;
  event_starts_at: Date;
  paid_amount: string | null;
  refund_id: string | null;
  refund_gateway_payment_id: string;
  refund_amount: string;
  refund_currency: string;
  refund_reason: RefundReason;
  refund_status: RefundStatus;
  refund_attempts: number;
  refund_next_attempt_at: Date | null;
  refund_created_at: Date;
  refund_succeeded_at: Date | null;
}

function bookingRecord(row: BookingRow): BookingRecord {
  return {
    id: row.id,
    merchantUid: row.merchant_uid,
    status: row.status,
    amount: row.amount,
    expiresAt: new Date(row.expires_at),
    confirmedAt: row.confirmed_at && new Date(row.confirmed_at),
    cancelledAt: row.cancelled_at && new Date(row.cancelled_at),
    seat: {
      id: row.seat_id,
      label: row.seat_label,
      price: row.seat_price,
      event: { id: row.event_id, title: row.event_title, startsAt: new Date(row.event_starts_at) },
    },
    paidAmount: row.paid_amount === null ? null : Number(row.paid_amount),
    refund:
      row.refund_id === null
        ? null
        : {
            id: row.refund_id,
            gatewayPaymentId: row.refund_gateway_payment_id,
            reservation: { id: row.id },
            amount: Number(row.refund_amount),
            currency: row.refund_currency,
            reason: row.refund_reason,
            status: row.refund_status,
            attempts: row.refund_attempts,
            nextAttemptAt: row.refund_next_attempt_at && new Date(row.refund_next_attempt_at),
            // Operators' detail; partners never see it.
            lastError: null,
            createdAt: new Date(row.refund_created_at),
            succeededAt: row.refund_succeeded_at && new Date(row.refund_succeeded_at),
          },
  };
}
