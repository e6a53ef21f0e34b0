import fc from 'fast-check';
import { AppError } from '../../src/errors';
import { DEFAULT_PAGE_SIZE, MAX_PAGE_SIZE, encodeCursor, instantIdCursor, pageRequest } from '../../src/graphql/pagination';

const kind = instantIdCursor('thing');
const key = fc.tuple(
  fc.date({ min: new Date('2000-01-01T00:00:00Z'), max: new Date('2100-01-01T00:00:00Z'), noInvalidDate: true }).map((d) => d.toISOString()),
  fc.uuid(),
);

function refusal(run: () => unknown): { code: unknown; field: unknown } | null {
  try {
    run();
    return null;
  } catch (error) {
    if (!(error instanceof AppError)) throw error;
    return { code: error.extensions.code, field: error.extensions.field };
  }
}

test('a cursor decodes back to the key it was made from', () => {
  fc.assert(
    fc.property(key, fc.integer({ min: 1, max: MAX_PAGE_SIZE }), (k, first) => {
      expect(pageRequest(kind, { first, after: encodeCursor(kind, k as [string, string]) })).toEqual({ first, after: k });
    }),
  );
});

test('any other string is BAD_USER_INPUT naming `after`, never another error', () => {
  const junk = fc.oneof(
    fc.string(),
    fc.string().map((s) => Buffer.from(s).toString('base64url')),
    fc.jsonValue().map((v) => Buffer.from(JSON.stringify(v)).toString('base64url')),
    fc.tuple(fc.string(), fc.string()).map(([a, b]) => Buffer.from(JSON.stringify(['thing', a, b])).toString('base64url')),
    key.map(([at, id]) => encodeCursor(instantIdCursor('other'), [at, id])),
  );
  fc.assert(
    fc.property(junk, (after) => {
      const outcome = refusal(() => pageRequest(kind, { after }));
      if (outcome) expect(outcome).toEqual({ code: 'BAD_USER_INPUT', field: 'after' });
      else expect(kind.parse(JSON.parse(Buffer.from(after, 'base64url').toString()).slice(1))).not.toBeNull();
    }),
    { numRuns: 500 },
  );
});

test('first defaults to 50 and must be 1 to 200', () => {
  expect(pageRequest(kind, {})).toEqual({ first: DEFAULT_PAGE_SIZE, after: null });
  fc.assert(
    fc.property(fc.integer(), (first) => {
      const outcome = refusal(() => pageRequest(kind, { first }));
      expect(outcome === null).toBe(first >= 1 && first <= MAX_PAGE_SIZE);
      if (outcome) expect(outcome).toEqual({ code: 'BAD_USER_INPUT', field: 'first' });
    }),
  );
});
