import type { EntityManager } from '@mikro-orm/postgresql';
import type { Clock } from '../clock';
import { badUserInput } from '../errors';
import { instantIdCursor, pageFromCursor, pageRequest, type Page, type PageArgs } from '../graphql/pagination';
import type { CreateEventInput } from './booking.types';
import { Event } from './event.entity';
import { Seat } from './seat.entity';

export class EventService {
  constructor(private readonly clock: Clock) {}

  /**
   * One page of the events that have not started (a started event sells nothing), soonest first (ties by id): keyset pagination on (startsAt, id), so events
   * created while a client walks the pages never shift it onto an item it already saw.
   */
  async listEvents(em: EntityManager, args: PageArgs): Promise<Page<Event>> {
    const page = pageRequest(EVENT_CURSOR, args);
    const cursor = await em.findByCursor(Event, { startsAt: { $gt: this.clock.now() } }, {
      first: page.first,
      after: page.after ? { startsAt: new Date(page.after[0]), id: page.after[1] } : undefined,
      orderBy: { startsAt: 'asc', id: 'asc' },
      includeCount: false,
    });
    return pageFromCursor(cursor, EVENT_CURSOR, (event) => [event.startsAt.toISOString(), event.id]);
  }

  async findEvent(em: EntityManager, id: string): Promise<Event | null> {
    if (!isUuid(id)) throw badUserInput('id', 'must be a UUID');
    return em.findOne(Event, id);
  }

  /** Creates an event with its seats in one transaction; labels must be unique within the event. */
  async createEvent(em: EntityManager, input: CreateEventInput): Promise<Event> {
    if (Number.isNaN(input.startsAt.getTime())) throw badUserInput('input.startsAt', 'must be a valid date-time');
    if (input.startsAt.getTime() <= this.clock.now().getTime()) {
      throw badUserInput('input.startsAt', 'must be in the future');
    }
    const seen = new Map<string, number>();
    input.seats.forEach((seat, index) => {
      const label = seat.label.trim();
      if (label === '') throw badUserInput(`input.seats[${index}].label`, 'must not be blank');
      const first = seen.get(label);
      if (first !== undefined) {
        throw badUserInput(`input.seats[${index}].label`, `"${label}" is already used by input.seats[${first}]`);
      }
      seen.set(label, index);
    });
    return em.transactional(async (tx) => {
      const event = tx.create(Event, { title: input.title.trim(), startsAt: input.startsAt, createdAt: this.clock.now() });
      for (const seat of input.seats) tx.create(Seat, { event, label: seat.label.trim(), price: seat.price });
      return event;
    });
  }
}

const EVENT_CURSOR = instantIdCursor('event');

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;
export function isUuid(value: string): boolean {
  return UUID.test(value);
}
