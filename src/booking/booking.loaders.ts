import DataLoader from 'dataloader';
import type { EntityManager } from '@mikro-orm/postgresql';
import { Event } from './event.entity';
import { Reservation, ReservationStatus } from './reservation.entity';
import { Seat } from './seat.entity';

const SEAT_ORDER = new Intl.Collator('en', { numeric: true });

/** Batches relation look-ups of one request into one query per kind, whatever the list size. */
export function createBookingLoaders(em: EntityManager, options: { holdGraceMs: number } = { holdGraceMs: 0 }) {
  return {
    eventById: new DataLoader<string, Event | null>(async (ids) => {
      const rows = await em.find(Event, { id: { $in: [...ids] } });
      const byId = new Map(rows.map((row) => [row.id, row]));
      return ids.map((id) => byId.get(id) ?? null);
    }),
    seatById: new DataLoader<string, Seat | null>(async (ids) => {
      const rows = await em.find(Seat, { id: { $in: [...ids] } });
      const byId = new Map(rows.map((row) => [row.id, row]));
      return ids.map((id) => byId.get(id) ?? null);
    }),
    seatsByEventId: new DataLoader<string, Seat[]>(async (eventIds) => {
      const rows = await em.find(Seat, { event: { $in: [...eventIds] } });
      // Natural order, as on a seating chart: R2 before R10.
      rows.sort((a, b) => SEAT_ORDER.compare(a.label, b.label));
      return eventIds.map((id) => rows.filter((seat) => seat.event.id === id));
    }),
    /** The reservation currently occupying each seat (CONFIRMED, or HELD and not yet past its end and grace). */
    activeReservationBySeatId: new DataLoader<string, Reservation | null>(async (seatIds) => {
      const heldSince = new Date(Date.now() - options.holdGraceMs);
      const rows = await em.find(Reservation, {
        seat: { $in: [...seatIds] },
        $or: [{ status: ReservationStatus.CONFIRMED }, { status: ReservationStatus.HELD, expiresAt: { $gt: heldSince } }],
      });
      const bySeat = new Map(rows.map((row) => [row.seat.id, row]));
      return seatIds.map((id) => bySeat.get(id) ?? null);
    }),
  };
}

export type BookingLoaders = ReturnType<typeof createBookingLoaders>;
