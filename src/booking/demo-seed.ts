import type { EntityManager } from '@mikro-orm/postgresql';
import type { Clock } from '../clock';
import { Event } from './event.entity';
import { Seat } from './seat.entity';

/**
 * Demo data for the development default (main.ts calls it only then): one event 30 days ahead, 25 seats at
 * two prices. Does nothing while an upcoming event exists, so a restart never duplicates it; once every
 * event has started (the data folder outlived the demo event) it seeds a new one, so the demo keeps working.
 */
export async function seedDemoData(em: EntityManager, clock: Clock): Promise<Event | null> {
  if ((await em.count(Event, { startsAt: { $gt: clock.now() } })) > 0) return null;
  return em.transactional(async (tx) => {
    const startsAt = new Date(clock.now().getTime() + 30 * 24 * 3600_000);
    const event = tx.create(Event, { title: '데모 콘서트 (Demo concert)', startsAt, createdAt: clock.now() });
    for (let i = 1; i <= 10; i++) tx.create(Seat, { event, label: `R${i}`, price: 110_000 });
    for (let i = 1; i <= 15; i++) tx.create(Seat, { event, label: `S${i}`, price: 77_000 });
    return event;
  });
}
