import { randomUUID } from 'node:crypto';
import fc from 'fast-check';
import { Event } from '../../src/booking/event.entity';
import { Reservation, ReservationStatus } from '../../src/booking/reservation.entity';
import * as seatPages from '../../src/booking/seat-pages';
import { Seat } from '../../src/booking/seat.entity';
import { DEFAULT_PAGE_SIZE, MAX_PAGE_SIZE } from '../../src/graphql/pagination';
import { PaymentEvent } from '../../src/payment/event-log/payment-event.entity';
import { Refund, RefundReason, RefundStatus } from '../../src/payment/refunds/refund.entity';
import {
  CreateEventDocument,
  EventsDocument,
  EventSeatsPageDocument,
  EventsPageDocument,
  type EventsPageQuery,
  EventsWithSeatsPageDocument,
  MyReservationsDocument,
  MyReservationsPageDocument,
  PaymentEventsDocument,
  PaymentEventsPageDocument,
  RefundsDocument,
  RefundsPageDocument,
} from '../generated/graphql';
import { ADMIN_ID } from '../support/fixtures';
import { useTestApp } from '../support/test-app';

const t = useTestApp({ startWorker: false });
let adminToken: string;
let buyerToken: string;
const BUYER = 'pager-buyer';

beforeAll(async () => {
  adminToken = await t.tokenFor(ADMIN_ID, ['admin']);
  buyerToken = await t.tokenFor(BUYER);
});

// ---------------------------------------------------------------- rows written straight to the database

const BASE = Date.parse('2027-01-01T00:00:00.000Z');
/** Few distinct instants, so that many rows tie on the timestamp and the id has to break the tie. */
const instant = fc.integer({ min: 0, max: 5 }).map((minute) => new Date(BASE + minute * 60_000));
const seatLabel = fc
  .tuple(fc.constantFrom('A', 'B', 'R', 'r', 'VIP-', 'Floor ', ''), fc.integer({ min: 1, max: 300 }))
  .map(([prefix, n]) => `${prefix}${n}`);

async function insertEvent(startsAt = new Date(BASE), title = 'Paged concert'): Promise<Event> {
  const em = t.orm.em.fork();
  const event = em.create(Event, { title, startsAt, createdAt: new Date() });
  await em.flush();
  return event;
}

async function insertSeats(eventId: string, labels: string[]): Promise<Seat[]> {
  const em = t.orm.em.fork();
  const event = em.getReference(Event, eventId);
  const seats = labels.map((label) => em.create(Seat, { event, label, price: 1000 }));
  await em.flush();
  return seats;
}

/** Reservations not holding their seat (CANCELLED), so any number can share one seat. */
async function insertReservations(seatId: string, buyerId: string, createdAts: Date[]): Promise<Reservation[]> {
  const em = t.orm.em.fork();
  const seat = em.getReference(Seat, seatId);
  const rows = createdAts.map((createdAt) =>
    em.create(Reservation, {
      seat,
      buyerId,
      status: ReservationStatus.CANCELLED,
      amount: 1000,
      merchantUid: `bk_test_${randomUUID()}`,
      expiresAt: createdAt,
      createdAt,
      updatedAt: createdAt,
    }),
  );
  await em.flush();
  return rows;
}

async function insertRefunds(reservationId: string, rows: Array<{ createdAt: Date; status?: RefundStatus }>): Promise<Refund[]> {
  const em = t.orm.em.fork();
  const reservation = em.getReference(Reservation, reservationId);
  const refunds = rows.map(({ createdAt, status }) =>
    em.create(Refund, {
      gatewayPaymentId: `imp_${randomUUID()}`,
      reservation,
      amount: 1000,
      reason: RefundReason.AMOUNT_MISMATCH,
      status: status ?? RefundStatus.SUCCEEDED,
      giveUpAt: new Date(),
      createdAt,
      updatedAt: createdAt,
    }),
  );
  await em.flush();
  return refunds;
}

async function insertPaymentEvents(reservationId: string, count: number): Promise<PaymentEvent[]> {
  const em = t.orm.em.fork();
  const events = Array.from({ length: count }, (_, i) =>
    em.create(PaymentEvent, { reservationId, kind: 'GATEWAY_READ', outcome: `READ_${i}`, at: new Date(), details: null }),
  );
  await em.flush();
  return events;
}

/** An event with one seat and one reservation of the buyer: what refunds and payment events hang on. */
async function reservationFixture(): Promise<{ seat: Seat; reservation: Reservation }> {
  const event = await insertEvent();
  const [seat] = await insertSeats(event.id, ['A1']);
  const [reservation] = await insertReservations(seat.id, BUYER, [new Date(BASE)]);
  return { seat, reservation };
}

// ---------------------------------------------------------------- the lists, described once for every test

interface PageResult {
  nodes: Array<{ id: string }>;
  pageInfo: { hasNextPage: boolean; endCursor?: string | null };
}

interface ListUnderTest<Spec, Row extends { id: string }> {
  name: string;
  /** What one generated insert looks like. */
  spec: fc.Arbitrary<Spec>;
  /** Prepares what the list hangs on (an event, a reservation); returns its id or null. */
  prepare(): Promise<string | null>;
  insert(parent: string | null, specs: Spec[]): Promise<Row[]>;
  /** The order the API promises, as a comparator on rows (negative: a comes first). */
  compare(a: Row, b: Row): number;
  page(parent: string | null, first: number | null, after: string | null): Promise<PageResult>;
}

const naturalOrder = new Intl.Collator('en', { numeric: true });
const byId = (a: { id: string }, b: { id: string }) => (a.id < b.id ? -1 : a.id > b.id ? 1 : 0);
const ascending = (a: Date, b: Date) => a.getTime() - b.getTime();

async function page<T>(result: Promise<{ data?: T | null; errors?: unknown }>, pick: (data: T) => PageResult): Promise<PageResult> {
  const response = await result;
  if (!response.data || response.errors) throw new Error(`query failed: ${JSON.stringify(response.errors)}`);
  return pick(response.data);
}

const seatsList: ListUnderTest<string, Seat> = {
  name: 'seats of an event',
  spec: seatLabel,
  prepare: async () => (await insertEvent()).id,
  insert: (eventId, labels) => insertSeats(eventId!, labels),
  compare: (a, b) => naturalOrder.compare(a.label, b.label) || (a.label < b.label ? -1 : a.label > b.label ? 1 : byId(a, b)),
  page: (eventId, first, after) =>
    page(t.gql(EventSeatsPageDocument, { id: eventId!, first, after }), (data) => data.event!.seatsPage),
};

const eventsList: ListUnderTest<Date, Event> = {
  name: 'events',
  spec: instant,
  prepare: async () => null,
  insert: async (_, startsAts) => Promise.all(startsAts.map((startsAt) => insertEvent(startsAt))),
  compare: (a, b) => ascending(a.startsAt, b.startsAt) || byId(a, b),
  page: (_, first, after) => page(t.gql(EventsPageDocument, { first, after }), (data) => data.eventsPage),
};

const myReservationsList: ListUnderTest<Date, Reservation> = {
  name: 'myReservations',
  spec: instant,
  prepare: async () => {
    const event = await insertEvent();
    const [seat] = await insertSeats(event.id, ['A1']);
    // Another buyer's reservations must never show up.
    await insertReservations(seat.id, 'someone-else', [new Date(BASE), new Date(BASE + 60_000)]);
    return seat.id;
  },
  insert: (seatId, createdAts) => insertReservations(seatId!, BUYER, createdAts),
  compare: (a, b) => -ascending(a.createdAt, b.createdAt) || -byId(a, b),
  page: (_, first, after) =>
    page(t.gql(MyReservationsPageDocument, { first, after }, { token: buyerToken }), (data) => data.myReservationsPage),
};

const refundsList: ListUnderTest<Date, Refund> & {
  page(parent: string | null, first: number | null, after: string | null, status?: RefundStatus | null): Promise<PageResult>;
} = {
  name: 'refunds',
  spec: instant,
  prepare: async () => (await reservationFixture()).reservation.id,
  insert: (reservationId, createdAts) => insertRefunds(reservationId!, createdAts.map((createdAt) => ({ createdAt }))),
  compare: (a, b) => -ascending(a.createdAt, b.createdAt) || -byId(a, b),
  page: (_, first, after, status: RefundStatus | null = null) =>
    page(t.gql(RefundsPageDocument, { status, first, after }, { token: adminToken }), (data) => data.refundsPage),
};

const paymentEventsList: ListUnderTest<null, PaymentEvent> = {
  name: 'paymentEvents',
  spec: fc.constant(null),
  prepare: async () => (await reservationFixture()).reservation.id,
  insert: (reservationId, specs) => insertPaymentEvents(reservationId!, specs.length),
  compare: (a, b) => Number(BigInt(a.id) - BigInt(b.id)),
  page: (reservationId, first, after) =>
    page(t.gql(PaymentEventsPageDocument, { reservationId: reservationId!, first, after }, { token: adminToken }), (data) => data.paymentEventsPage),
};

const LISTS = [seatsList, eventsList, myReservationsList, refundsList, paymentEventsList] as Array<
  ListUnderTest<unknown, { id: string }>
>;

// ---------------------------------------------------------------- walking pages while rows are inserted

type Step<Spec> = { kind: 'read'; first: number } | { kind: 'insert'; specs: Spec[] };

/**
 * Walks a list page by page while rows are inserted between the reads, in an order fast-check picks.
 * Keyset pagination promises: the walk is in the list's order with no item twice (no overlap), every
 * row that existed when the walk began is seen (no gap), and so is every row inserted after the
 * cursor's position (it is still ahead of the reader).
 */
async function walkWhileInserting<Spec>(list: ListUnderTest<Spec, { id: string }>, initial: Spec[], steps: Array<Step<Spec>>) {
  await t.reset();
  const parent = await list.prepare();
  const rows = new Map<string, { id: string }>();
  const remember = (inserted: Array<{ id: string }>) => inserted.forEach((row) => rows.set(String(row.id), row));
  const mustSee = new Set<string>();
  const usedLabels = new Set<string>();
  // Seat labels are unique per event: drop a generated duplicate instead of failing the insert.
  const distinct = (specs: Spec[]) =>
    specs.filter((spec) => {
      if (typeof spec !== 'string') return true;
      if (usedLabels.has(spec)) return false;
      usedLabels.add(spec);
      return true;
    });

  const initialRows = await list.insert(parent, distinct(initial));
  remember(initialRows);
  initialRows.forEach((row) => mustSee.add(String(row.id)));

  const walked: Array<{ id: string }> = [];
  let cursor: string | null = null;
  let done = false;
  const queue = [...steps];
  while (!done) {
    const step = queue.shift() ?? { kind: 'read', first: 7 };
    if (step.kind === 'insert') {
      const inserted = await list.insert(parent, distinct(step.specs));
      remember(inserted);
      const last = walked[walked.length - 1];
      for (const row of inserted) if (!last || list.compare(row, last) > 0) mustSee.add(String(row.id));
      continue;
    }
    const result = await list.page(parent, step.first, cursor);
    expect(result.nodes.length).toBeLessThanOrEqual(step.first);
    walked.push(...result.nodes.map((node) => rows.get(node.id)!));
    if (result.nodes.length > 0) expect(result.pageInfo.endCursor).toEqual(expect.any(String));
    cursor = result.pageInfo.endCursor ?? cursor;
    done = !result.pageInfo.hasNextPage;
    // Safety net: a walk longer than the rows there are means the cursor does not move.
    expect(walked.length).toBeLessThanOrEqual(rows.size);
  }

  expect(walked.every(Boolean)).toBe(true);
  for (let i = 1; i < walked.length; i++) {
    if (list.compare(walked[i - 1], walked[i]) >= 0) {
      throw new Error(`${list.name}: out of order or repeated at ${i}: ${JSON.stringify([walked[i - 1], walked[i]])}`);
    }
  }
  const seen = new Set(walked.map((row) => String(row.id)));
  expect([...mustSee].filter((id) => !seen.has(id))).toEqual([]);
}

/**
 * Walks a list page by page while an insert loop runs at the same time (Promise.all: the page queries and
 * the inserts are on different connections, so inserts commit while the walk is between and inside its
 * reads). Where a concurrent row lands relative to the cursor is up to timing, so the promise checked is:
 * every row that existed before the walk began appears exactly once, nothing appears twice, and the
 * order is the list's order throughout.
 */
async function walkDuringInserts<Spec>(list: ListUnderTest<Spec, { id: string }>, initial: Spec[], batches: Spec[][]) {
  await t.reset();
  const parent = await list.prepare();
  const usedLabels = new Set<string>();
  // Seat labels are unique per event: drop a generated duplicate instead of failing the insert.
  const distinct = (specs: Spec[]) =>
    specs.filter((spec) => typeof spec !== 'string' || (!usedLabels.has(spec) && usedLabels.add(spec)));
  const rows = new Map<string, { id: string }>();
  const remember = (inserted: Array<{ id: string }>) => inserted.forEach((row) => rows.set(String(row.id), row));
  const before = await list.insert(parent, distinct(initial));
  remember(before);

  // What completed when: proof that inserts landed while the walk was under way.
  const timeline: Array<'read' | 'insert'> = [];
  const walkedIds: string[] = [];
  const walk = async () => {
    let cursor: string | null = null;
    for (;;) {
      const result: PageResult = await list.page(parent, 2, cursor);
      timeline.push('read');
      walkedIds.push(...result.nodes.map((node) => node.id));
      if (!result.pageInfo.hasNextPage) return;
      cursor = result.pageInfo.endCursor ?? null;
      // Safety net: a walk longer than the rows there can be means the cursor does not move.
      expect(walkedIds.length).toBeLessThanOrEqual(before.length + batches.flat().length);
    }
  };
  const insertLoop = async () => {
    for (const batch of batches) {
      remember(await list.insert(parent, distinct(batch)));
      timeline.push('insert');
    }
  };
  await Promise.all([walk(), insertLoop()]);

  expect(timeline.slice(timeline.indexOf('read'), timeline.lastIndexOf('read'))).toContain('insert');
  expect(walkedIds.filter((id) => !rows.has(id))).toEqual([]);
  expect(walkedIds.length - new Set(walkedIds).size).toBe(0);
  const walked = walkedIds.map((id) => rows.get(id)!);
  for (let i = 1; i < walked.length; i++) {
    if (list.compare(walked[i - 1], walked[i]) >= 0) {
      throw new Error(`${list.name}: out of order or repeated at ${i}: ${JSON.stringify([walked[i - 1], walked[i]])}`);
    }
  }
  const timesSeen = (id: string) => walkedIds.filter((walkedId) => walkedId === id).length;
  expect(before.map((row) => String(row.id)).filter((id) => timesSeen(id) !== 1)).toEqual([]);
}

describe.each(LISTS.map((list) => [list.name, list] as const))('%s', (_name, list) => {
  test('walking the pages while an insert loop runs concurrently: every earlier row exactly once, no duplicate, stable order', async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.array(list.spec, { minLength: 30, maxLength: 40 }),
        fc.array(fc.array(list.spec, { minLength: 1, maxLength: 3 }), { minLength: 12, maxLength: 16 }),
        (initial, batches) => walkDuringInserts(list, initial, batches),
      ),
      { numRuns: 3 },
    );
  });

  test('walking the pages with inserts between the reads (interleavings fast-check picks): stable order, no overlap, no gap', async () => {
    const step: fc.Arbitrary<Step<unknown>> = fc.oneof(
      fc.record({ kind: fc.constant('read' as const), first: fc.integer({ min: 1, max: 6 }) }),
      fc.record({ kind: fc.constant('insert' as const), specs: fc.array(list.spec, { minLength: 1, maxLength: 4 }) }),
    );
    await fc.assert(
      fc.asyncProperty(fc.array(list.spec, { maxLength: 15 }), fc.array(step, { maxLength: 12 }), (initial, steps) =>
        walkWhileInserting(list, initial, steps),
      ),
      { numRuns: 12 },
    );
  });

  test('first above the maximum, first below 1, and a malformed cursor are BAD_USER_INPUT naming the argument', async () => {
    const parent = await list.prepare();
    await expect(list.page(parent, MAX_PAGE_SIZE + 1, null)).rejects.toThrow(/"code":"BAD_USER_INPUT".*"field":"first"/);
    await expect(list.page(parent, 0, null)).rejects.toThrow(/"code":"BAD_USER_INPUT".*"field":"first"/);
    await expect(list.page(parent, MAX_PAGE_SIZE, null)).resolves.toBeDefined();
    for (const after of ['not a cursor', 'eyJ4IjoxfQ', Buffer.from('["event"]').toString('base64url'), Buffer.from('["elsewhere","x","y"]').toString('base64url')]) {
      await expect(list.page(parent, null, after)).rejects.toThrow(/"code":"BAD_USER_INPUT".*"field":"after"/);
    }
  });
});

test('events created through the API while a client pages through eventsPage: no overlap, no gap', async () => {
  const token = adminToken;
  const soon = Date.now() + 24 * 3600_000;
  const startsAt = (i: number) => new Date(soon + (i % 7) * 3600_000).toISOString();
  const create = (i: number) =>
    t.gql(CreateEventDocument, { input: { title: `E${i}`, startsAt: startsAt(i), seats: [{ label: 'A1', price: 1000 }] } }, { token });
  const initial = await Promise.all(Array.from({ length: 20 }, (_, i) => create(i)));
  const initialIds = initial.map((r) => r.data!.createEvent.id);

  const walked: Array<{ id: string; startsAt: string }> = [];
  const walk = (async () => {
    let after: string | null = null;
    for (;;) {
      const result: { data?: EventsPageQuery | null } = await t.gql(EventsPageDocument, { first: 3, after });
      const eventsPage = result.data!.eventsPage;
      walked.push(...eventsPage.nodes);
      if (!eventsPage.pageInfo.hasNextPage) return;
      after = eventsPage.pageInfo.endCursor ?? null;
    }
  })();
  const inserts = Promise.all(Array.from({ length: 20 }, (_, i) => create(100 + i)));
  await Promise.all([walk, inserts]);

  for (let i = 1; i < walked.length; i++) {
    const [a, b] = [walked[i - 1], walked[i]];
    expect(Date.parse(a.startsAt) < Date.parse(b.startsAt) || (a.startsAt === b.startsAt && a.id < b.id)).toBe(true);
  }
  const seen = new Set(walked.map((e) => e.id));
  expect(seen.size).toBe(walked.length);
  expect(initialIds.filter((id) => !seen.has(id))).toEqual([]);
});

test('a cursor of one list is refused by another', async () => {
  await insertEvent();
  await insertEvent();
  const events = await eventsList.page(null, 1, null);
  expect(events.pageInfo.endCursor).toEqual(expect.any(String));
  await expect(refundsList.page(null, 1, events.pageInfo.endCursor!)).rejects.toThrow(/"field":"after"/);
});

test('error messages for bad page arguments name the argument and carry no stack', async () => {
  const response = await t.gql(EventsDocument, {}, {});
  expect(response.errors).toBeUndefined();
  // A literal `first` this small passes graphql-armor's cost limit (which multiplies by literal `first`
  // values) and reaches our own check; through a variable any value does.
  const tooMany = await t.gql(`query { events(first: ${MAX_PAGE_SIZE + 1}) { id } }`);
  expect(tooMany.errors).toEqual([
    expect.objectContaining({ message: `first: must be between 1 and ${MAX_PAGE_SIZE}`, extensions: {
        code: 'BAD_USER_INPUT',
        field: 'first',
        fields: [{ field: 'first', problem: `must be between 1 and ${MAX_PAGE_SIZE}` }],
      } }),
  ]);
  const viaVariable = await t.gql(EventsPageDocument, { first: 100_000 });
  expect(viaVariable.errors?.[0]).toMatchObject({ extensions: { code: 'BAD_USER_INPUT', field: 'first' } });
  const nested = await t.gql('query { events { seats(after: "nope") { id } } }');
  expect(nested.errors).toBeUndefined(); // no event, so no seats field resolved
  const event = await insertEvent();
  const nestedBad = await t.gql(`query { event(id: "${event.id}") { seats(after: "nope") { id } } }`);
  expect(nestedBad.errors?.[0]).toMatchObject({ extensions: { code: 'BAD_USER_INPUT', field: 'after' }, path: ['event', 'seats'] });
});

// ---------------------------------------------------------------- what existing clients get: the default page

describe('existing list fields return the first page (default 50) in the same order', () => {
  const COUNT = DEFAULT_PAGE_SIZE + 7;

  test('events and the seats of an event', async () => {
    const events = await Promise.all(Array.from({ length: COUNT }, (_, i) => insertEvent(new Date(BASE + i * 60_000))));
    const labels = Array.from({ length: COUNT }, (_, i) => `R${COUNT - i}`);
    await insertSeats(events[0].id, labels);

    const listed = await t.gql(EventsDocument, {});
    expect(listed.data!.events.map((e) => e.id)).toEqual(events.slice(0, DEFAULT_PAGE_SIZE).map((e) => e.id));
    const seats = listed.data!.events[0].seats.map((s) => s.label);
    expect(seats).toEqual(Array.from({ length: DEFAULT_PAGE_SIZE }, (_, i) => `R${i + 1}`));

    const paged = await t.gql(EventsPageDocument, {});
    expect(paged.data!.eventsPage.nodes).toHaveLength(DEFAULT_PAGE_SIZE);
    expect(paged.data!.eventsPage.pageInfo.hasNextPage).toBe(true);
    const rest = await t.gql(EventsPageDocument, { after: paged.data!.eventsPage.pageInfo.endCursor });
    expect(rest.data!.eventsPage.nodes.map((e) => e.id)).toEqual(events.slice(DEFAULT_PAGE_SIZE).map((e) => e.id));
    expect(rest.data!.eventsPage.pageInfo.hasNextPage).toBe(false);

    const seatPage = await t.gql(EventSeatsPageDocument, { id: events[0].id });
    expect(seatPage.data!.event!.seatsPage.nodes).toHaveLength(DEFAULT_PAGE_SIZE);
    expect(seatPage.data!.event!.seatsPage.pageInfo.hasNextPage).toBe(true);
  });

  test('myReservations', async () => {
    const { seat } = await reservationFixture(); // one reservation at BASE
    const rows = await insertReservations(seat.id, BUYER, Array.from({ length: COUNT }, (_, i) => new Date(BASE + (i + 1) * 1000)));
    const listed = await t.gql(MyReservationsDocument, {}, { token: buyerToken });
    expect(listed.data!.myReservations.map((r) => r.id)).toEqual(
      [...rows].reverse().slice(0, DEFAULT_PAGE_SIZE).map((r) => r.id),
    );
  });

  test('refunds: the old cut at 500 is gone; every refund is reachable page by page', async () => {
    const { reservation } = await reservationFixture();
    const total = 2 * MAX_PAGE_SIZE + 150;
    const refunds = await insertRefunds(
      reservation.id,
      Array.from({ length: total }, (_, i) => ({ createdAt: new Date(BASE + i * 1000), status: i % 3 === 0 ? RefundStatus.PENDING : RefundStatus.SUCCEEDED })),
    );
    const listed = await t.gql(RefundsDocument, {}, { token: adminToken });
    expect(listed.data!.refunds.map((r) => r.id)).toEqual([...refunds].reverse().slice(0, DEFAULT_PAGE_SIZE).map((r) => r.id));

    for (const status of [null, RefundStatus.PENDING]) {
      const expected = [...refunds].reverse().filter((r) => status === null || r.status === status).map((r) => r.id);
      const walked: string[] = [];
      let after: string | null = null;
      for (;;) {
        const refundsPage: PageResult = await refundsList.page(null, MAX_PAGE_SIZE, after, status);
        walked.push(...refundsPage.nodes.map((r) => r.id));
        if (!refundsPage.pageInfo.hasNextPage) break;
        after = refundsPage.pageInfo.endCursor ?? null;
      }
      expect(walked).toEqual(expected);
    }
  });

  test('paymentEvents', async () => {
    const { reservation } = await reservationFixture();
    const events = await insertPaymentEvents(reservation.id, COUNT);
    const listed = await t.gql(PaymentEventsDocument, { reservationId: reservation.id }, { token: adminToken });
    expect(listed.data!.paymentEvents.map((e) => e.id)).toEqual(events.slice(0, DEFAULT_PAGE_SIZE).map((e) => String(e.id)));
  });
});

// ---------------------------------------------------------------- seats: natural order, batching, index

describe('seats', () => {
  test('pages follow the natural label order that Intl.Collator gives (R2 before R10)', async () => {
    await fc.assert(
      fc.asyncProperty(fc.uniqueArray(seatLabel, { minLength: 1, maxLength: 40 }), fc.integer({ min: 1, max: 9 }), async (labels, first) => {
        await t.reset();
        const event = await insertEvent();
        await insertSeats(event.id, labels);
        const walked: string[] = [];
        let after: string | null = null;
        for (;;) {
          const result = await seatsList.page(event.id, first, after);
          walked.push(...result.nodes.map((node) => (node as unknown as { label: string }).label));
          if (!result.pageInfo.hasNextPage) break;
          after = result.pageInfo.endCursor ?? null;
        }
        expect(walked).toEqual([...labels].sort(naturalOrder.compare));
      }),
      { numRuns: 15 },
    );
  });

  test('the seats of many events are fetched in one query per distinct page request (DataLoader)', async () => {
    const events = await Promise.all([0, 1, 2].map((i) => insertEvent(new Date(BASE + i * 60_000))));
    for (const event of events) await insertSeats(event.id, ['A1', 'A2', 'A10', 'A3']);
    const spy = jest.spyOn(seatPages, 'findSeatPages');
    try {
      const result = await t.gql(EventsWithSeatsPageDocument, { first: 10, seatsFirst: 3 });
      expect(result.data!.eventsPage.nodes.map((e) => e.seatsPage.nodes.map((s) => s.label))).toEqual([
        ['A1', 'A2', 'A3'],
        ['A1', 'A2', 'A3'],
        ['A1', 'A2', 'A3'],
      ]);
      expect(result.data!.eventsPage.nodes.every((e) => e.seatsPage.pageInfo.hasNextPage)).toBe(true);
      expect(spy).toHaveBeenCalledTimes(1);
      expect(spy.mock.calls[0][1]).toHaveLength(3);
    } finally {
      spy.mockRestore();
    }
  });
});

// ---------------------------------------------------------------- which index serves each page query

describe('query plans (EXPLAIN) of the page queries', () => {
  async function plan(sql: string, params: unknown[]): Promise<string> {
    const em = t.orm.em.fork();
    return em.transactional(async (tx) => {
      const connection = tx.getConnection();
      // Tables here are tiny; forbid the sequential scan to see which index the planner would use.
      await connection.execute('set local enable_seqscan = off', [], 'run', tx.getTransactionContext());
      const rows: Array<{ 'QUERY PLAN': string }> = await connection.execute(`explain ${sql}`, params, 'all', tx.getTransactionContext());
      return rows.map((row) => row['QUERY PLAN']).join('\n');
    });
  }

  test('paymentEvents: payment_event_reservation_idx (reservation_id, id) serves filter, order and cursor; no sort', async () => {
    const text = await plan(
      'select * from payment_event where reservation_id = ? and id > ? order by id asc limit 51',
      [randomUUID(), '10'],
    );
    expect(text).toContain('payment_event_reservation_idx');
    expect(text).not.toMatch(/\bSort\b/);
  });

  test('myReservations: reservation_buyer_idx (buyer_id, created_at) serves the filter and the order', async () => {
    const text = await plan(
      `select * from reservation where buyer_id = ? and created_at <= ? and (created_at < ? or id < ?) order by created_at desc, id desc limit 51`,
      ['b', new Date(BASE), new Date(BASE), randomUUID()],
    );
    expect(text).toContain('reservation_buyer_idx');
  });

  test('refunds of one status: refund_status_idx (status, created_at) serves the filter and the order', async () => {
    const text = await plan(`select * from refund where status = 'PENDING' order by created_at desc, id desc limit 51`, []);
    expect(text).toContain('refund_status_idx');
  });
});
