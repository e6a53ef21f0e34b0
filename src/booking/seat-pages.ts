import type { EntityManager } from '@mikro-orm/postgresql';
import { cursorPart, pageFromOverfetch, pageRequest, type CursorKind, type Page, type PageArgs } from '../graphql/pagination';
import { Seat } from './seat.entity';

/**
 * The natural order of seat labels, as on a seating chart (R2 before R10), computed by PostgreSQL so
 * that pages can be cut with a keyset condition: each run of digits is left-padded with zeros and the
 * result compared with the ICU root collation (case- and punctuation-aware like `Intl.Collator`).
 *
 * No index serves this order yet: PostgreSQL finds an event's seats through `seat_event_label_unique`
 * and sorts them (a top-N sort, one pass over the event's seats per page). The index that would serve
 * it needs a migration; see the README's Pagination section. With it, this expression becomes
 * `label collate "natural_sort"`.
 */
export function naturalLabelKey(sqlExpression: string): string {
  return (
    `coalesce((select string_agg(case when part[1] ~ '^[0-9]' then lpad(part[1], greatest(length(part[1]), 50), '0') else part[1] end, '' order by n)` +
    ` from regexp_matches(${sqlExpression}, '[0-9]+|[^0-9]+', 'g') with ordinality as parts(part, n)), '') collate "und-x-icu"`
  );
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
  // `offset 0` keeps PostgreSQL from inlining the key expression into both the filter and the sort,
  // so it is computed once per seat. Drop it with the index: it would hide the index from the planner.
  const rows: Array<Record<string, unknown> & { event_id: string }> = await em.getConnection().execute(
    `select page.id, page.event_id, page.label, page.price
       from json_array_elements_text(?::json) with ordinality as wanted(event_id, position)
       cross join lateral (
         select keyed.*
           from (select seat.id, seat.event_id, seat.label, seat.price, ${naturalLabelKey('seat.label')} as natural_key
                   from seat
                  where seat.event_id = wanted.event_id::uuid
                 offset 0) keyed
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
