import fc from 'fast-check';
import { Agent } from 'node:http';
import fetch from 'node-fetch';
import { createEventViaApi } from '../support/fixtures';
import { startTestApp, type TestApp } from '../support/test-app';

/**
 * Whatever a client sends, the answer is never a 5xx and never an INTERNAL_SERVER_ERROR: a stranger
 * must not be able to page the operator. Fixed seeds keep a failure reproducible; the counts keep the
 * run short.
 */
const SEED = 20261125;

let t: TestApp;
let base: string;
let vocabulary: string[];
let ids: string[];
let tokens: string[];
const agent = new Agent({ keepAlive: true, maxSockets: 4 });

beforeAll(async () => {
  t = await startTestApp({
    env: {
      RATE_LIMIT_WEBHOOK_PER_IP: '0',
      RATE_LIMIT_ANONYMOUS_PER_IP: '0',
      RATE_LIMIT_HOLD_SEAT_PER_BUYER: '0',
      RATE_LIMIT_CONFIRM_PAYMENT_PER_BUYER: '0',
    },
    startWorker: false,
  });
  base = t.url.replace(/\/graphql$/, '');
  const event = await createEventViaApi(t);
  // Real ids let generated operations reach the database and the gateway, not only validation.
  ids = [event.id, ...event.seats.map((seat) => seat.id), '00000000-0000-4000-8000-000000000000', 'not-a-uuid', 'a\u0000b', ''];
  vocabulary = [
    '{', '}', '(', ')', '[', ']', ':', '=', '!', '...', '$id', '$input', 'query', 'mutation', 'fragment', 'on',
    'events', 'event', 'id', 'title', 'seats', 'label', 'price', 'available', 'holdSeat', 'confirmPayment',
    'cancelReservation', 'createEvent', 'myReservations', 'reservation', 'refunds', 'paymentEvents',
    'bookingStatus', 'bookingStatuses', 'input', 'seatId', 'reservationId', 'merchantUid', 'paymentId',
    'status', '__typename', '__schema', 'types', 'name', 'Event', 'ID', 'String', 'Int', 'HoldSeatInput',
    '@skip(if: true)', '@include(if: $id)', '#', '1', '-1.5e9', '99999999999999999999', 'true', 'null',
    '"x"', '"\\u0000"', '"""block"""', `"${event.id}"`, `"${event.seats[0].id}"`, '"00000000-0000-4000-8000-000000000000"',
  ];
  tokens = [await t.tokenFor('fuzz-buyer'), await t.tokenFor('fuzz-admin', ['admin']), await t.tokenFor('fuzz\u0000buyer')];
});
afterAll(async () => {
  agent.destroy();
  await t.close();
});

const printable = (max: number) => fc.string({ maxLength: max }).map((s) => s.replace(/[^\x20-\x7e]/g, ''));
const contentType = fc.constantFrom(
  'application/json',
  'application/json; charset=utf-8',
  'application/json; charset=latin1',
  'application/x-www-form-urlencoded',
  'text/plain',
  'application/graphql',
  'application/graphql-response+json',
  'multipart/form-data; boundary=x',
  'application/xml',
  '*/*',
  '',
);
const json = fc.jsonValue({ maxDepth: 4 });
/** Strings, with NUL characters far more often than chance would bring them (PostgreSQL refuses them). */
const text = (maxLength: number) => fc.oneof({ arbitrary: fc.string({ maxLength }), weight: 2 }, fc.constantFrom('\u0000', 'a\u0000b'));

/** Operations built from the schema's own names: mostly valid syntax, so they reach validation and resolvers. */
function operation() {
  const stringLiteral = fc.oneof(
    fc.constantFrom(...ids).map((id) => JSON.stringify(id)),
    text(20).map((value) => JSON.stringify(value)),
    fc.constantFrom('"2099-01-01T00:00:00Z"', '"bk_20261125_x"', '"imp_1"'),
  );
  const { value } = fc.letrec<{ value: string }>((tie) => ({
    value: fc.oneof(
      { depthSize: 'small' },
      { arbitrary: stringLiteral, weight: 5 },
      fc.integer().map(String),
      fc.constantFrom('true', 'null', '$id', '$input', 'PENDING', '1.5', '-0', '99999999999999999999'),
      fc.array(tie('value'), { maxLength: 3 }).map((values) => `[${values.join(', ')}]`),
      fc
        .array(fc.tuple(fc.constantFrom('seatId', 'reservationId', 'merchantUid', 'paymentId', 'title', 'startsAt', 'seats', 'label', 'price'), tie('value')), { maxLength: 4 })
        .map((fields) => `{ ${fields.map(([name, v]) => `${name}: ${v}`).join(', ')} }`),
    ),
  }));
  const fieldName = fc.constantFrom(
    'events', 'event', 'id', 'title', 'startsAt', 'seats', 'label', 'price', 'available', 'holdSeat', 'confirmPayment',
    'cancelReservation', 'createEvent', 'retryRefund', 'myReservations', 'reservation', 'refunds', 'paymentEvents',
    'bookingStatus', 'bookingStatuses', 'status', 'merchantUid', 'amount', 'expiresAt', 'seat', 'refund', 'reason',
    '__typename', '__schema', 'unknownField',
  );
  const argument = fc.tuple(
    fc.constantFrom('id', 'input', 'status', 'merchantUid', 'merchantUids', 'reservationId', 'first', 'after'),
    value,
  );
  const { set } = fc.letrec<{ field: string; set: string }>((tie) => ({
    field: fc
      .tuple(
        fc.option(fc.constantFrom('a', 'b'), { nil: undefined }),
        fieldName,
        fc.option(fc.array(argument, { minLength: 1, maxLength: 2 }), { nil: undefined }),
        fc.oneof({ depthSize: 'small' }, fc.constant(''), tie('set')),
      )
      .map(
        ([alias, name, args, sub]) =>
          `${alias ? `${alias}: ` : ''}${name}${args ? `(${args.map(([k, v]) => `${k}: ${v}`).join(', ')})` : ''} ${sub}`,
      ),
    set: fc.array(tie('field'), { minLength: 1, maxLength: 4 }).map((fields) => `{ ${fields.join(' ')} }`),
  }));
  const definitions = fc.constantFrom(
    '',
    '($id: ID!)',
    '($input: HoldSeatInput!)',
    '($input: ConfirmPaymentInput!)',
    '($input: CreateEventInput!, $id: ID)',
    '($id: String = "\\u0000")',
  );
  const freeForm = fc
    .tuple(fc.constantFrom('', 'query', 'mutation', 'query Q', 'mutation M'), definitions, set)
    .map(([keyword, defs, selections]) => `${keyword}${keyword ? ` ${defs}` : ''} ${selections}`);
  // Every root field with the right shape and, mostly, strings where strings go: these reach the resolvers.
  const argumentValue = fc.oneof({ arbitrary: stringLiteral, weight: 6 }, value);
  const rootField = (template: (v: () => string) => string, count: number) =>
    fc.array(argumentValue, { minLength: count, maxLength: count }).map((values) => {
      let next = 0;
      return template(() => values[next++] ?? 'null');
    });
  const typed = fc.oneof(
    rootField(() => '{ events { id title startsAt seats { id label price available } } }', 0),
    rootField((v) => `{ event(id: ${v()}) { id seats { id available } } }`, 1),
    rootField((v) => `{ reservation(id: ${v()}) { id status amount } myReservations { id } }`, 1),
    rootField((v) => `{ refunds(status: ${v()}) { id status } }`, 1),
    rootField((v) => `{ paymentEvents(reservationId: ${v()}) { id } }`, 1),
    rootField((v) => `{ bookingStatus(merchantUid: ${v()}) { status } bookingStatuses(merchantUids: ${v()}) { status } }`, 2),
    rootField((v) => `mutation { holdSeat(input: { seatId: ${v()} }) { id status } }`, 1),
    rootField((v) => `mutation { confirmPayment(input: { reservationId: ${v()}, merchantUid: ${v()}, paymentId: ${v()} }) { __typename } }`, 3),
    rootField((v) => `mutation { cancelReservation(input: { reservationId: ${v()} }) { id } }`, 1),
    rootField((v) => `mutation { createEvent(input: { title: ${v()}, startsAt: ${v()}, seats: [{ label: ${v()}, price: ${v()} }] }) { id } }`, 4),
    rootField((v) => `mutation { createEvent(input: { title: ${v()}, startsAt: "2099-01-01T00:00:00Z", seats: [{ label: ${v()}, price: 1000 }] }) { id } }`, 2),
    rootField((v) => `mutation { retryRefund(id: ${v()}) { id } revokePartner(id: ${v()}) { id } }`, 2),
    fc.constantFrom(
      'mutation($input: HoldSeatInput!) { holdSeat(input: $input) { id } }',
      'mutation($input: ConfirmPaymentInput!) { confirmPayment(input: $input) { __typename } }',
      'mutation($input: CancelReservationInput!) { cancelReservation(input: $input) { id } }',
      'mutation($input: CreateEventInput!) { createEvent(input: $input) { id } }',
      'query($id: ID!) { event(id: $id) { id } reservation(id: $id) { id } paymentEvents(reservationId: $id) { id } }',
    ),
  );
  return { typed, any: fc.oneof({ arbitrary: typed, weight: 3 }, freeForm) };
}

/** Token soup from the same names: exercises the parser's error paths. */
const operationText = () => fc.array(fc.constantFrom(...vocabulary), { maxLength: 60 }).map((parts) => parts.join(' '));

/** Variables shaped like our inputs (with real ids) most of the time, any JSON otherwise. */
const variables = () =>
  fc.oneof(
    { arbitrary: inputVariables(), weight: 6 },
    json,
    fc.dictionary(fc.constantFrom('id', 'input', 'x', '__proto__', 'constructor'), json),
  );

const inputVariables = () =>
  fc.record(
    {
      id: fc.oneof(fc.constantFrom(...ids), fc.integer(), json),
      input: fc.oneof(
        fc.record(
          {
            seatId: fc.constantFrom(...ids),
            reservationId: fc.constantFrom(...ids),
            merchantUid: text(30),
            paymentId: text(30),
            title: text(30),
            startsAt: fc.oneof(fc.constant('2099-01-01T00:00:00Z'), fc.date().map((d) => (Number.isNaN(d.getTime()) ? 'x' : d.toISOString())), fc.string()),
            seats: fc.array(fc.record({ label: text(8), price: fc.oneof(fc.integer(), fc.double()) }), { maxLength: 3 }),
          },
          { requiredKeys: [] },
        ),
        json,
      ),
    },
    { requiredKeys: [] },
  );

/** Well-formed requests with generated operations and variables: these reach parsing, validation and resolvers. */
function graphqlRequest() {
  const extensions = fc.record(
    {
      persistedQuery: fc.record(
        { version: fc.oneof(fc.constant(1), fc.integer()), sha256Hash: fc.oneof(fc.string(), fc.stringMatching(/^[0-9a-f]{64}$/)) },
        { requiredKeys: [] },
      ),
    },
    { requiredKeys: [] },
  );
  return fc.record(
    {
      query: fc.oneof({ arbitrary: operation().any, weight: 8 }, { arbitrary: operationText(), weight: 2 }, fc.string({ maxLength: 200 }), fc.integer()),
      variables: variables(),
      operationName: fc.oneof({ arbitrary: fc.constant(undefined), weight: 8 }, fc.string({ maxLength: 20 }), fc.integer(), fc.constant(null)),
      extensions: fc.oneof({ arbitrary: fc.constant(undefined), weight: 8 }, extensions),
    },
    { requiredKeys: ['query'] },
  );
}

function anyBody() {
  return fc.oneof(
    graphqlRequest().map((r) => JSON.stringify(r)),
    json.map((value) => JSON.stringify(value)),
    fc.uint8Array({ maxLength: 512 }).map((bytes) => Buffer.from(bytes)),
    fc.string({ maxLength: 300 }),
  );
}

function headers() {
  return fc.record(
    {
      'content-type': contentType,
      authorization: fc.oneof(
        fc.constantFrom(...tokens).map((token) => `Bearer ${token}`),
        printable(80).map((s) => `Bearer ${s}`),
        printable(40),
      ),
      'x-api-key': printable(40),
      'apollo-require-preflight': fc.constant('1'),
      'accept-language': printable(20),
    },
    { requiredKeys: ['content-type'] },
  );
}

async function send(path: string, init: { method: string; headers: Record<string, string>; body?: string | Buffer }) {
  const response = await fetch(`${base}${path}`, { ...init, agent });
  const text = await response.text();
  return { status: response.status, text };
}

function expectNoServerFault(answer: { status: number; text: string }, sent: unknown) {
  if (answer.status >= 500 || answer.text.includes('INTERNAL_SERVER_ERROR')) {
    throw new Error(`${answer.status} ${answer.text.slice(0, 300)}\nfor ${JSON.stringify(sent).slice(0, 500)}`);
  }
}

test('POST /graphql: generated operations and variables, anonymous or signed in', async () => {
  const authorization = fc.option(fc.constantFrom(tokens[0], tokens[0], tokens[1], tokens[1], tokens[2]).map((token) => `Bearer ${token}`), {
    nil: undefined,
  });
  await fc.assert(
    fc.asyncProperty(graphqlRequest(), authorization, async (request, auth) => {
      const sentHeaders: Record<string, string> = { 'content-type': 'application/json', ...(auth ? { authorization: auth } : {}) };
      const answer = await send('/graphql', { method: 'POST', headers: sentHeaders, body: JSON.stringify(request) });
      expectNoServerFault(answer, { request, auth });
    }),
    { seed: SEED, numRuns: 300 },
  );
});

test('POST /graphql: well-typed operations of a signed-in buyer or admin, arguments rich in edge cases', async () => {
  await fc.assert(
    fc.asyncProperty(operation().typed, inputVariables(), fc.constantFrom(tokens[0], tokens[1]), async (query, vars, token) => {
      const answer = await send('/graphql', {
        method: 'POST',
        headers: { 'content-type': 'application/json', authorization: `Bearer ${token}` },
        body: JSON.stringify({ query, variables: vars }),
      });
      expectNoServerFault(answer, { query, vars, admin: token === tokens[1] });
    }),
    { seed: SEED + 4, numRuns: 300 },
  );
});

test('POST /graphql: any bytes, JSON shape, content type and credentials', async () => {
  await fc.assert(
    fc.asyncProperty(anyBody(), headers(), async (body, sentHeaders) => {
      expectNoServerFault(await send('/graphql', { method: 'POST', headers: sentHeaders, body }), { body: String(body), sentHeaders });
    }),
    { seed: SEED + 3, numRuns: 200 },
  );
});

test('GET /graphql: random query strings', async () => {
  const parameters = fc.record(
    {
      query: fc.oneof(operation().any, operationText(), fc.string()),
      variables: fc.oneof(variables().map((v) => JSON.stringify(v)), fc.string()),
      operationName: fc.string({ maxLength: 10 }),
      extensions: fc.string({ maxLength: 40 }),
    },
    { requiredKeys: [] },
  );
  await fc.assert(
    fc.asyncProperty(parameters, fc.boolean(), async (params, preflight) => {
      const search = new URLSearchParams(params as Record<string, string>).toString();
      const sentHeaders: Record<string, string> = preflight ? { 'apollo-require-preflight': '1' } : { accept: 'text/html' };
      expectNoServerFault(await send(`/graphql?${search}`, { method: 'GET', headers: sentHeaders }), { search, sentHeaders });
    }),
    { seed: SEED + 1, numRuns: 150 },
  );
});

test('POST /webhooks/portone: random notifications, form bodies and bytes', async () => {
  const field = fc.oneof(
    fc.stringMatching(/^imp_[0-9a-z]{1,12}$/),
    fc.string({ maxLength: 40 }),
    fc.constant('a\u0000b'),
    json,
  );
  const notification = fc.record({ imp_uid: field, merchant_uid: field, status: field }, { requiredKeys: [] });
  const body = fc.oneof(
    notification.map((n) => ({ type: 'application/json', body: JSON.stringify(n) })),
    notification.map((n) => ({
      type: 'application/x-www-form-urlencoded',
      body: new URLSearchParams(Object.entries(n).map(([k, v]): [string, string] => [k, typeof v === 'string' ? v : JSON.stringify(v)])).toString(),
    })),
    fc.tuple(contentType, fc.uint8Array({ maxLength: 512 })).map(([type, bytes]) => ({ type, body: Buffer.from(bytes) })),
    fc.tuple(contentType, json).map(([type, value]) => ({ type, body: JSON.stringify(value) })),
  );
  await fc.assert(
    fc.asyncProperty(body, async (sent) => {
      const answer = await send('/webhooks/portone', { method: 'POST', headers: { 'content-type': sent.type }, body: sent.body });
      expectNoServerFault(answer, { type: sent.type, body: String(sent.body) });
    }),
    { seed: SEED + 2, numRuns: 200 },
  );
});
