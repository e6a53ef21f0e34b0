import 'reflect-metadata';
import { ArgsType, Field, Int, ObjectType, type ClassType } from 'type-graphql';
import { badUserInput } from '../errors';

export const DEFAULT_PAGE_SIZE = 50;
export const MAX_PAGE_SIZE = 200;

@ArgsType()
export class PageArgs {
  @Field(() => Int, { nullable: true, description: `Items to return: 1 to ${MAX_PAGE_SIZE}, ${DEFAULT_PAGE_SIZE} when omitted.` })
  first?: number | null;

  @Field(() => String, { nullable: true, description: 'The endCursor of the previous page; omit it for the first page.' })
  after?: string | null;
}

@ObjectType({ description: 'Where a page ends: pass endCursor as `after` to get the next one.' })
export class PageInfo {
  @Field({ description: 'True when another page follows; ask for it with after: endCursor.' })
  hasNextPage: boolean;

  @Field(() => String, { nullable: true, description: 'Opaque cursor of the last item of this page; null when the page is empty.' })
  endCursor: string | null;
}

export interface Page<T> {
  nodes: T[];
  pageInfo: PageInfo;
}

/** A page of one list as GraphQL sees it: `{ nodes, pageInfo }`. */
export function createPageType<T extends object>(name: string, nodeType: ClassType<T>, description: string) {
  @ObjectType(name, { description })
  class PageType implements Page<T> {
    @Field(() => [nodeType], { description: 'The items of this page, in the list\'s order.' })
    nodes: T[];

    @Field(() => PageInfo, { description: 'Whether another page follows and the cursor to ask for it.' })
    pageInfo: PageInfo;
  }
  return PageType;
}

/**
 * The shape of one list's sort key as it travels inside a cursor. Each list has its own kind, so a
 * cursor of one list is refused by another instead of silently matching nothing.
 */
export interface CursorKind<Key extends readonly unknown[]> {
  name: string;
  /** Returns the key when `parts` is a valid key of this list, null otherwise. */
  parse(parts: unknown[]): Key | null;
}

/** A validated page request: `after` is the sort key of the last item already seen. */
export interface PageRequest<Key> {
  first: number;
  after: Key | null;
}

/**
 * Validates `first` and `after` for one list. Errors name the argument, as clients send it.
 * Cursors are base64url JSON of `[kind, ...sort key, id]`: opaque to clients, readable in a log.
 */
export function pageRequest<Key extends readonly unknown[]>(kind: CursorKind<Key>, args: PageArgs): PageRequest<Key> {
  const first = args.first ?? DEFAULT_PAGE_SIZE;
  if (!Number.isInteger(first) || first < 1 || first > MAX_PAGE_SIZE) {
    throw badUserInput('first', `must be between 1 and ${MAX_PAGE_SIZE}`);
  }
  if (args.after === null || args.after === undefined) return { first, after: null };
  return { first, after: decodeCursor(kind, args.after) };
}

export function encodeCursor<Key extends readonly unknown[]>(kind: CursorKind<Key>, key: Key): string {
  return Buffer.from(JSON.stringify([kind.name, ...key]), 'utf8').toString('base64url');
}

function decodeCursor<Key extends readonly unknown[]>(kind: CursorKind<Key>, cursor: string): Key {
  const malformed = () => badUserInput('after', 'is not a cursor of this list; pass the endCursor of a previous page');
  if (cursor.length === 0 || cursor.length > 4096 || !/^[A-Za-z0-9_-]+$/.test(cursor)) throw malformed();
  let parts: unknown;
  try {
    parts = JSON.parse(Buffer.from(cursor, 'base64url').toString('utf8'));
  } catch {
    throw malformed();
  }
  if (!Array.isArray(parts) || parts[0] !== kind.name) throw malformed();
  const key = kind.parse(parts.slice(1));
  if (!key) throw malformed();
  return key;
}

/**
 * Builds the page from rows fetched with `limit first + 1`: the extra row only says that a next page
 * exists, which spares a count query.
 */
export function pageFromOverfetch<T, Key extends readonly unknown[]>(
  rows: T[],
  request: PageRequest<Key>,
  kind: CursorKind<Key>,
  keyOf: (row: T) => Key,
): Page<T> {
  const nodes = rows.slice(0, request.first);
  const last = nodes[nodes.length - 1];
  return {
    nodes,
    pageInfo: Object.assign(new PageInfo(), {
      hasNextPage: rows.length > request.first,
      endCursor: last === undefined ? null : encodeCursor(kind, keyOf(last)),
    }),
  };
}

/** Builds the page from MikroORM's `em.findByCursor` result (which fetched one row more than asked). */
export function pageFromCursor<T extends object, Key extends readonly unknown[]>(
  cursor: { items: T[]; hasNextPage: boolean },
  kind: CursorKind<Key>,
  keyOf: (row: T) => Key,
): Page<T> {
  const last = cursor.items[cursor.items.length - 1];
  return {
    nodes: [...cursor.items],
    pageInfo: Object.assign(new PageInfo(), {
      hasNextPage: cursor.hasNextPage,
      endCursor: last === undefined ? null : encodeCursor(kind, keyOf(last)),
    }),
  };
}

/** Maps the nodes of a page to their public views, keeping the page info. */
export function mapPage<T, V>(page: Page<T>, toView: (node: T) => V): Page<V> {
  return { nodes: page.nodes.map(toView), pageInfo: page.pageInfo };
}

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;
const ISO_INSTANT = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{3}Z$/;

/** Key part validators for CursorKind.parse. */
export const cursorPart = {
  uuid: (value: unknown): value is string => typeof value === 'string' && UUID.test(value),
  /** Timestamps travel with millisecond precision: every timestamp we sort on is written from a JS Date. */
  instant: (value: unknown): value is string => typeof value === 'string' && ISO_INSTANT.test(value) && !Number.isNaN(Date.parse(value)),
  text: (value: unknown): value is string => typeof value === 'string' && value.length <= 1000,
  /** A bigserial id, as a decimal string (it may exceed Number.MAX_SAFE_INTEGER). */
  serial: (value: unknown): value is string => typeof value === 'string' && /^[1-9]\d{0,18}$/.test(value),
};

/** The cursor of a list ordered by a timestamp, ties broken by a UUID id. */
export function instantIdCursor(name: string): CursorKind<[at: string, id: string]> {
  return {
    name,
    parse: ([at, id, ...rest]) => (rest.length === 0 && cursorPart.instant(at) && cursorPart.uuid(id) ? [at, id] : null),
  };
}
