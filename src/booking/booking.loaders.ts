import DataLoader from 'dataloader';
import type { EntityManager } from '@mikro-orm/postgresql';
import { Event } from './event.entity';
import { Reservation, ReservationStatus } from './reservation.entity';
import type { Page, PageArgs } from '../graphql/pagination';
import type { EventFields, SeatFields } from './booking.types';
import { findSeatPages } from './seat-pages';
import { Seat } from './seat.entity';

export interface SeatPageKey extends PageArgs {
  eventId: string;
}
const pageArgsKey = (key: PageArgs) => JSON.stringify([key.first ?? null, key.after ?? null]);
const seatPageKey = (key: SeatPageKey) => JSON.stringify([key.eventId, key.first ?? null, key.after ?? null]);

/** Batches relation look-ups of one request into one query per kind, whatever the list size. */
export function createBookingLoaders(em: EntityManager, options: { holdGraceMs: number } = { holdGraceMs: 0 }) {
  return {
    // Values are entities, or rows a query of the request already read and primed (partner booking statuses).
    eventById: new DataLoader<string, EventFields | null>(async (ids) => {
      const rows = await em.find(Event, { id: { $in: [...ids] } });
      const byId = new Map(rows.map((row) => [row.id, row]));
      return ids.map((id) => byId.get(id) ?? null);
    }),
    seatById: new DataLoader<string, SeatFields | null>(async (ids) => {
      const rows = await em.find(Seat, { id: { $in: [...ids] } });
      const byId = new Map(rows.map((row) => [row.id, row]));
      return ids.map((id) => byId.get(id) ?? null);
    }),
    /** A page of each event's seats; one query per distinct (first, after) in the request. */
    seatPageByEvent: new DataLoader<SeatPageKey, Page<Seat>, string>(
      async (keys) => {
        const groups = new Map<string, SeatPageKey[]>();
        for (const key of keys) {
          const group = pageArgsKey(key);
          groups.set(group, [...(groups.get(group) ?? []), key]);
        }
        const pages = new Map<string, Page<Seat> | Error>();
        for (const group of groups.values()) {
          const eventIds = group.map((key) => key.eventId);
          try {
            const found = await findSeatPages(em, eventIds, group[0]);
            group.forEach((key, index) => pages.set(seatPageKey(key), found[index]));
          } catch (error) {
            for (const key of group) pages.set(seatPageKey(key), error as Error);
          }
        }
        return keys.map((key) => pages.get(seatPageKey(key)) as Page<Seat> | Error);
      },
      { cacheKeyFn: seatPageKey },
    ),
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
