import type { EntityManager } from '@mikro-orm/postgresql';
import { cursorPart, pageFromOverfetch, pageRequest, type CursorKind, type Page, type PageArgs } from '../graphql/pagination';
import { Seat } from './seat.entity';

/**
 * The natural order of seat labels, as on a seating chart (R2 before R10): the ICU collation
 * `natural_sort` (root locale, numeric ordering, created by a migration), which
 * `seat_event_natural_label_idx` (event_id, label, id) serves, so a page is an index range scan
 * however many seats the event has.
 */
export function naturalLabelKey(sqlExpression: string): string {
  return `${sqlExpression} collate "natural_sort"`;
}

export const SEAT_CURSOR: CursorKind<[label: string, id: string]> = {
  name: 'seat',
  parse: ([label, id, ...rest]) => (rest.length === 0 && cursorPart.text(label) && cursorPart.uuid(id) ? [label, id] : null),
};

/**
 * One page of seats for each of `eventIds`, all with the same `first`/`after`, in one query (a
 * LATERAL join runs the keyset query per event): what the `seats` field of a list of events needs.
 */
export async function findSeatPages(em: EntityManager, eventIds: readonly string[], args: PageArgs): Promise<Array<Page<Seat>>> {
  const page = pageRequest(SEAT_CURSOR, args);
  const afterCondition = page.after ? `where (keyed.natural_key, keyed.id) > (${naturalLabelKey('?::text')}, ?::uuid)` : '';
  const rows: Array<Record<string, unknown> & { event_id: string }> = await em.getConnection().execute(
    `select page.id, page.event_id, page.label, page.price
       from json_array_elements_text(?::json) with ordinality as wanted(event_id, position)
       cross join lateral (
         select keyed.*
           from (select seat.id, seat.event_id, seat.label, seat.price, ${naturalLabelKey('seat.label')} as natural_key
                   from seat
                  where seat.event_id = wanted.event_id::uuid) keyed
          ${afterCondition}
          order by keyed.natural_key, keyed.id
          limit ?
       ) page
      order by wanted.position, page.natural_key, page.id`,
    [JSON.stringify(eventIds), ...(page.after ?? []), page.first + 1],
  );
  const byEvent = new Map<string, Seat[]>(eventIds.map((id) => [id, []]));
  for (const row of rows) byEvent.get(row.event_id)?.push(em.map(Seat, row));
  return eventIds.map((id) => pageFromOverfetch(byEvent.get(id) ?? [], page, SEAT_CURSOR, (seat) => [seat.label, seat.id]));
}
