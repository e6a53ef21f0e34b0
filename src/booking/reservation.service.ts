import { randomBytes, randomUUID } from 'node:crypto';
import { LockMode, UniqueConstraintViolationException } from '@mikro-orm/core';
import type { EntityManager } from '@mikro-orm/postgresql';
import type { Clock } from '../clock';
import { AppError, badUserInput, forbidden, notFound } from '../errors';
import { instantIdCursor, pageFromCursor, pageRequest, type Page, type PageArgs } from '../graphql/pagination';
import { isUuid } from './event.service';
import { Reservation, ReservationStatus } from './reservation.entity';

export interface Actor {
  userId: string;
  isAdmin: boolean;
}

/** Hook for what a CONFIRMED booking needs on cancellation (the refund); provided by the payment module. */
export interface ConfirmedCancellation {
  cancelConfirmed(em: EntityManager, reservation: Reservation): Promise<Reservation>;
}

export class ReservationService {
  private confirmedCancellation: ConfirmedCancellation | null = null;

  constructor(
    private readonly clock: Clock,
    private readonly holdMinutes: number,
    /** An ended hold keeps its seat this long: a payment made just before the end may still be settling. */
    private readonly holdGraceMs: number = 0,
    private readonly maxActiveHoldsPerBuyerPerEvent = 4,
  ) {}

  setConfirmedCancellation(handler: ConfirmedCancellation): void {
    this.confirmedCancellation = handler;
  }

  /**
   * Holds a seat for `holdMinutes`, snapshotting its price. The seat row is locked so concurrent holds
   * queue up (seat first, then the buyer's hold-limit lock, then reservations: settlement locks seat
   * before reservation too); holds ended more than the grace ago are expired first; the partial unique
   * index on active reservations is the final guard if anything slips past (it then reads as
   * SEAT_UNAVAILABLE, not as a fault).
   *
   * This is the hottest write of a ticket opening, so it is written as SQL over the transaction's own
   * connection instead of entity look-ups and a flush: 5 statements (BEGIN, lock, read, insert, COMMIT;
   * one more only when stale holds must be expired) where the ORM's convenience cost 9 and most of the
   * server's CPU for the call (query building and change-set computation; see `npm run bench:profile`).
   * The returned snapshot is not managed by the EntityManager.
   */
  async holdSeat(em: EntityManager, buyerId: string, seatId: string): Promise<HeldReservation> {
    try {
      return await em.transactional(async (tx) => {
        const now = this.clock.now();
        const seat = await lockSeatForHold(tx, seatId, buyerId);
        if (!seat) throw notFound('Seat', seatId);
        if (seat.startsAt.getTime() <= now.getTime()) {
          throw new AppError('SEAT_UNAVAILABLE', `The event of seat ${seat.label} has already started`);
        }
        const { activeHolds, onSeat } = await readSeatReservations(tx, seat, buyerId, now);
        // Ended longer ago than the grace: nothing can settle them any more (settle reads them as late).
        const staleBefore = now.getTime() - this.holdGraceMs;
        const stale = onSeat.filter((r) => r.status === ReservationStatus.HELD && r.expiresAt.getTime() <= staleBefore);
        if (stale.length > 0) await expireStaleHolds(tx, seat.id, new Date(staleBefore));
        const occupying = onSeat.filter((r) => !stale.includes(r));
        // Holding again what you hold (a retried request, a second tab) is your hold, not a refusal.
        const yours = occupying.find(
          (r) => r.buyerId === buyerId && r.status === ReservationStatus.HELD && r.expiresAt.getTime() > now.getTime(),
        );
        if (yours) return yours;
        if (occupying.length > 0) throw seatUnavailableFor(buyerId, seat.label, occupying, this.holdGraceMs);
        this.assertBelowHoldLimit(activeHolds);
        const reservation: HeldReservation = {
          id: randomUUID(),
          seat: { id: seat.id },
          buyerId,
          status: ReservationStatus.HELD,
          amount: seat.price,
          merchantUid: newMerchantUid(now),
          expiresAt: new Date(now.getTime() + this.holdMinutes * 60_000),
          confirmedAt: null,
          cancelledAt: null,
          createdAt: now,
        };
        await insertHold(tx, reservation);
        return reservation;
      });
    } catch (error) {
      if (error instanceof UniqueConstraintViolationException) throw seatUnavailable(seatId);
      throw error;
    }
  }

  /** A reservation its owner or an admin may read; null when it does not exist. */
  async findVisible(em: EntityManager, actor: Actor, id: string): Promise<Reservation | null> {
    if (!isUuid(id)) throw badUserInput('id', 'must be a UUID');
    const reservation = await em.findOne(Reservation, id);
    if (!reservation) return null;
    if (reservation.buyerId !== actor.userId && !actor.isAdmin) throw forbidden('This reservation belongs to another buyer');
    return reservation;
  }

  /** One page of a buyer's reservations, newest first: keyset pagination on (createdAt, id), both descending. */
  async listForBuyer(em: EntityManager, buyerId: string, args: PageArgs): Promise<Page<Reservation>> {
    const page = pageRequest(RESERVATION_CURSOR, args);
    const cursor = await em.findByCursor(Reservation, { buyerId }, {
      first: page.first,
      after: page.after ? { createdAt: new Date(page.after[0]), id: page.after[1] } : undefined,
      orderBy: { createdAt: 'desc', id: 'desc' },
      includeCount: false,
    });
    return pageFromCursor(cursor, RESERVATION_CURSOR, (row) => [row.createdAt.toISOString(), row.id]);
  }

  /**
   * Cancels a reservation for its owner (or an admin). A HELD one simply releases the seat; a
   * CONFIRMED one goes through the payment module so the refund is recorded in the same transaction.
   */
  async cancelReservation(em: EntityManager, actor: Actor, id: string): Promise<Reservation> {
    const existing = await this.findVisible(em, actor, id);
    if (!existing) throw notFound('Reservation', id);
    const released = await em.transactional(async (tx) => {
      const reservation = await tx.findOneOrFail(Reservation, id, { lockMode: LockMode.PESSIMISTIC_WRITE, refresh: true });
      // Confirmed meanwhile (a payment just settled): that needs the refund path below.
      if (reservation.status === ReservationStatus.CONFIRMED) return null;
      if (reservation.status === ReservationStatus.CANCELLED) return reservation;
      if (reservation.status !== ReservationStatus.HELD) {
        throw badUserInput('input.reservationId', `a ${reservation.status} reservation cannot be cancelled`);
      }
      reservation.status = ReservationStatus.CANCELLED;
      reservation.cancelledAt = this.clock.now();
      return reservation;
    });
    if (released) return released;
    if (!this.confirmedCancellation) throw new Error('No handler for cancelling confirmed bookings is configured');
    return this.confirmedCancellation.cancelConfirmed(em, existing);
  }

  /**
   * One buyer may hold at most `maxActiveHoldsPerBuyerPerEvent` seats of an event at a time, or one
   * account could hold a whole event hostage. The seat lock does not serialise one buyer's holds on
   * different seats, so a transaction-scoped advisory lock on (buyer, event) does (see lockSeatForHold);
   * `active` was counted after it was taken.
   */
  private assertBelowHoldLimit(active: number): void {
    if (active >= this.maxActiveHoldsPerBuyerPerEvent) {
      throw new AppError(
        'HOLD_LIMIT_REACHED',
        `You already hold ${active} seats of this event; at most ${this.maxActiveHoldsPerBuyerPerEvent} can be held at once. Pay for or cancel a hold first.`,
        { limit: this.maxActiveHoldsPerBuyerPerEvent },
      );
    }
  }

  /**
   * The status a client should see: a hold past its end and the payment grace reads EXPIRED even before
   * the next hold or reconciliation writes it (both expire it then too).
   */
  statusAsSeen(reservation: { status: ReservationStatus; expiresAt: Date }): ReservationStatus {
    if (reservation.status !== ReservationStatus.HELD) return reservation.status;
    const over = reservation.expiresAt.getTime() + this.holdGraceMs <= this.clock.now().getTime();
    return over ? ReservationStatus.EXPIRED : ReservationStatus.HELD;
  }
}

const RESERVATION_CURSOR = instantIdCursor('reservation');

/** What holdSeat returns: the reservation as written (or found), detached from any EntityManager. */
export type HeldReservation = Pick<
  Reservation,
  'id' | 'buyerId' | 'status' | 'amount' | 'merchantUid' | 'expiresAt' | 'confirmedAt' | 'cancelledAt' | 'createdAt'
> & { seat: { id: string } };

interface LockedSeat {
  id: string;
  label: string;
  price: number;
  eventId: string;
  startsAt: Date;
}

/**
 * Locks the seat row (FOR UPDATE), reads its event's start, and then takes the (event, buyer) advisory
 * lock of the hold limit, in one round trip. The order is the point: the advisory lock is in the outer
 * query, which PostgreSQL evaluates above the inner query's LockRows, so it is requested only once the
 * seat lock is held (seat first, always; test/integration/booking/hold-seat-locks.test.ts checks it).
 */
async function lockSeatForHold(tx: EntityManager, seatId: string, buyerId: string): Promise<LockedSeat | null> {
  const rows = await tx.execute<Array<{ id: string; label: string; price: number; event_id: string; starts_at: Date }>>(
    `select locked.*, pg_advisory_xact_lock(hashtextextended('hold-limit:' || locked.event_id || ':' || ?, 0))
       from (select s.id, s.label, s.price, s.event_id, e.starts_at
               from seat s join event e on e.id = s.event_id
              where s.id = ?
                for update of s) locked`,
    [buyerId, seatId],
  );
  const row = rows[0];
  return row ? { id: row.id, label: row.label, price: row.price, eventId: row.event_id, startsAt: new Date(row.starts_at) } : null;
}

interface ReservationRow {
  active_holds: number;
  id: string | null;
  buyer_id: string;
  status: ReservationStatus;
  amount: number;
  merchant_uid: string;
  expires_at: Date;
  confirmed_at: Date | null;
  cancelled_at: Date | null;
  created_at: Date;
}

/**
 * After the locks (a statement of its own, so its snapshot sees every hold committed before them): the
 * seat's HELD and CONFIRMED reservations, stale ones included, and how many live holds the buyer has on
 * the seat's event. The statuses are literals so that the partial index `reservation_seat_active_unique`
 * serves the look-up.
 */
async function readSeatReservations(
  tx: EntityManager,
  seat: LockedSeat,
  buyerId: string,
  now: Date,
): Promise<{ activeHolds: number; onSeat: HeldReservation[] }> {
  const rows = await tx.execute<ReservationRow[]>(
    `select held.n as active_holds, r.id, r.buyer_id, r.status, r.amount, r.merchant_uid,
            r.expires_at, r.confirmed_at, r.cancelled_at, r.created_at
       from (select count(*)::int as n
               from reservation h join seat hs on hs.id = h.seat_id
              where h.buyer_id = ? and h.status = 'HELD' and h.expires_at > ? and hs.event_id = ?) held
       left join reservation r on r.seat_id = ? and r.status in ('HELD', 'CONFIRMED')`,
    [buyerId, now, seat.eventId, seat.id],
  );
  const onSeat = rows
    .filter((row) => row.id !== null)
    .map((row) => ({
      id: row.id!,
      seat: { id: seat.id },
      buyerId: row.buyer_id,
      status: row.status,
      amount: row.amount,
      merchantUid: row.merchant_uid,
      expiresAt: new Date(row.expires_at),
      confirmedAt: row.confirmed_at && new Date(row.confirmed_at),
      cancelledAt: row.cancelled_at && new Date(row.cancelled_at),
      createdAt: new Date(row.created_at),
    }));
  return { activeHolds: rows[0].active_holds, onSeat };
}

async function expireStaleHolds(tx: EntityManager, seatId: string, endedBefore: Date): Promise<void> {
  await tx.execute(
    `update reservation set status = 'EXPIRED', version = version + 1
      where seat_id = ? and status = 'HELD' and expires_at <= ?`,
    [seatId, endedBefore],
  );
}

/** The columns left out take their defaults (version 1, no report checks, nulls). */
async function insertHold(tx: EntityManager, hold: HeldReservation): Promise<void> {
  await tx.execute(
    `insert into reservation (id, seat_id, buyer_id, status, amount, merchant_uid, expires_at, created_at, updated_at)
     values (?, ?, ?, 'HELD', ?, ?, ?, ?, ?)`,
    [hold.id, hold.seat.id, hold.buyerId, hold.amount, hold.merchantUid, hold.expiresAt, hold.createdAt, hold.createdAt],
    'run',
  );
}

function seatUnavailable(label: string): AppError {
  return new AppError('SEAT_UNAVAILABLE', `Seat ${label} is held or booked by someone else`);
}

/** Says whose the seat is when it is the asking buyer's own booking or just-ended hold. */
function seatUnavailableFor(buyerId: string, label: string, occupying: HeldReservation[], holdGraceMs: number): AppError {
  if (occupying.some((r) => r.buyerId !== buyerId)) return seatUnavailable(label);
  const booked = occupying.find((r) => r.status === ReservationStatus.CONFIRMED);
  if (booked) return new AppError('SEAT_UNAVAILABLE', `You have already booked seat ${label}`, { reservationId: booked.id });
  const ended = occupying[0];
  const freeAt = new Date(ended.expiresAt.getTime() + holdGraceMs).toISOString();
  return new AppError(
    'SEAT_UNAVAILABLE',
    `Your hold on seat ${label} has ended; a payment made for it may still arrive, so the seat can be held again from ${freeAt}`,
    { reservationId: ended.id },
  );
}

/** `bk_<date>_<random>`: unique, unguessable, and short enough for every PG's order id field. */
function newMerchantUid(now: Date): string {
  const day = now.toISOString().slice(0, 10).replace(/-/g, '');
  return `bk_${day}_${randomBytes(12).toString('base64url')}`;
}
