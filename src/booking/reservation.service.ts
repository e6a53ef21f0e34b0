import { randomBytes } from 'node:crypto';
import { LockMode, UniqueConstraintViolationException } from '@mikro-orm/core';
import type { EntityManager } from '@mikro-orm/postgresql';
import type { Clock } from '../clock';
import { AppError, badUserInput, forbidden, notFound } from '../errors';
import { instantIdCursor, pageFromCursor, pageRequest, type Page, type PageArgs } from '../graphql/pagination';
import { isUuid } from './event.service';
import { Reservation, ReservationStatus } from './reservation.entity';
import { Seat } from './seat.entity';

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
   * queue up (seat first, then reservations: the lock order settlement uses too); holds ended more than
   * the grace ago are expired first; the partial unique index on active reservations is the final guard
   * if anything slips past (it then reads as SEAT_UNAVAILABLE, not as a fault).
   */
  async holdSeat(em: EntityManager, buyerId: string, seatId: string): Promise<Reservation> {
    try {
      return await em.transactional(async (tx) => {
        const seat = await tx.findOne(Seat, seatId, { lockMode: LockMode.PESSIMISTIC_WRITE });
        if (!seat) throw notFound('Seat', seatId);
        await tx.populate(seat, ['event']);
        const now = this.clock.now();
        if (seat.event.startsAt.getTime() <= now.getTime()) {
          throw new AppError('SEAT_UNAVAILABLE', `The event of seat ${seat.label} has already started`);
        }
        await this.expireStaleHolds(tx, seat, now);
        const occupying = await tx.find(Reservation, {
          seat,
          status: { $in: [ReservationStatus.HELD, ReservationStatus.CONFIRMED] },
        });
        // Holding again what you hold (a retried request, a second tab) is your hold, not a refusal.
        const yours = occupying.find(
          (r) => r.buyerId === buyerId && r.status === ReservationStatus.HELD && r.expiresAt.getTime() > now.getTime(),
        );
        if (yours) return yours;
        if (occupying.length > 0) throw seatUnavailableFor(buyerId, seat.label, occupying, this.holdGraceMs);
        await this.assertBelowHoldLimit(tx, buyerId, seat, now);
        const reservation = tx.create(Reservation, {
          seat,
          buyerId,
          status: ReservationStatus.HELD,
          amount: seat.price,
          merchantUid: newMerchantUid(now),
          expiresAt: new Date(now.getTime() + this.holdMinutes * 60_000),
          createdAt: now,
          updatedAt: now,
        });
        await tx.flush();
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
   * different seats, so a transaction-scoped advisory lock on (buyer, event) does; it is taken after
   * the seat lock and released at commit.
   */
  private async assertBelowHoldLimit(tx: EntityManager, buyerId: string, seat: Seat, now: Date): Promise<void> {
    await tx.execute('select pg_advisory_xact_lock(hashtextextended(?, 0))', [`hold-limit:${seat.event.id}:${buyerId}`]);
    const active = await tx.count(Reservation, {
      buyerId,
      status: ReservationStatus.HELD,
      expiresAt: { $gt: now },
      seat: { event: seat.event },
    });
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

  private async expireStaleHolds(tx: EntityManager, seat: Seat, now: Date): Promise<void> {
    await tx.nativeUpdate(
      Reservation,
      { seat, status: ReservationStatus.HELD, expiresAt: { $lte: new Date(now.getTime() - this.holdGraceMs) } },
      { status: ReservationStatus.EXPIRED },
    );
  }
}

const RESERVATION_CURSOR = instantIdCursor('reservation');

function seatUnavailable(label: string): AppError {
  return new AppError('SEAT_UNAVAILABLE', `Seat ${label} is held or booked by someone else`);
}

/** Says whose the seat is when it is the asking buyer's own booking or just-ended hold. */
function seatUnavailableFor(buyerId: string, label: string, occupying: Reservation[], holdGraceMs: number): AppError {
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
