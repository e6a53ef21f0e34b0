import { startTestApp, type TestApp } from '../support/test-app';

/**
 * Every BAD_USER_INPUT has one shape, whichever layer found the problem: `extensions.field` (the first
 * offending path, rooted at the argument, or at the `$variable` when graphql-js refused its value) and
 * `extensions.fields` (each path with its problem).
 */
let t: TestApp;
let admin: string;
beforeAll(async () => {
  t = await startTestApp({ startWorker: false });
  admin = await t.tokenFor('admin', ['admin']);
});
afterAll(() => t.close());

const CREATE = 'mutation($input: CreateEventInput!) { createEvent(input: $input) { id } }';
const future = '2099-01-01T00:00:00Z';

test.each([
  {
    found: 'by class-validator (an input field out of range)',
    query: CREATE,
    variables: { input: { title: 'x', startsAt: future, seats: [{ label: 'A', price: 5000 }, { label: 'B', price: -1 }] } },
    field: 'input.seats[1].price',
  },
  {
    found: 'by the service (a duplicate seat label)',
    query: CREATE,
    variables: { input: { title: 'x', startsAt: future, seats: [{ label: 'A', price: 5000 }, { label: 'A', price: 6000 }] } },
    field: 'input.seats[1].label',
  },
  {
    found: 'by graphql-js reading a variable (wrong type)',
    query: CREATE,
    variables: { input: { title: 'x', startsAt: future, seats: [{ label: 'A', price: 'free' }] } },
    field: '$input.seats[0].price',
  },
  { found: 'by the pager (first out of range)', query: '{ eventsPage(first: 0) { nodes { id } } }', variables: {}, field: 'first' },
])('found $found', async ({ query, variables, field }) => {
  const result = await t.gql(query, variables, { token: admin });
  const error = result.errors?.[0];
  expect(error?.extensions).toMatchObject({ code: 'BAD_USER_INPUT', field, fields: expect.arrayContaining([{ field, problem: expect.any(String) }]) });
  const fields = error?.extensions?.fields as Array<{ field: string; problem: string }>;
  expect(fields[0].field).toBe(field);
  expect(fields[0].problem.length).toBeGreaterThan(0);
  expect(fields[0].problem).not.toMatch(/\n\s+at /);
});
