import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { buildSchema } from 'graphql';
import { breakingChanges, invalidOperations } from '../../src/graphql/schema-compatibility';

const committedSdl = readFileSync(join(process.cwd(), 'schema/schema.graphql'), 'utf8');
const operationsDir = join(process.cwd(), 'test/operations');
const operations = readdirSync(operationsDir)
  .filter((file) => file.endsWith('.graphql'))
  .map((file) => ({ name: file, source: readFileSync(join(operationsDir, file), 'utf8') }));

describe('client contract', () => {
  test('there are operations for every client kind', () => {
    expect(operations.map((o) => o.name).sort()).toEqual(['admin.graphql', 'buyer.graphql', 'checkout.graphql', 'partner.graphql']);
  });

  test('every operation real clients send is valid against schema/schema.graphql', () => {
    expect(invalidOperations(buildSchema(committedSdl), operations)).toEqual([]);
  });

  test('removing a field a client uses makes the contract check fail', () => {
    const withoutMerchantUid = committedSdl.replace(/\n\s*"""Order id to pass to PortOne as merchant_uid\."""\n\s*merchantUid: String!/, '');
    expect(withoutMerchantUid).not.toBe(committedSdl);
    const problems = invalidOperations(buildSchema(withoutMerchantUid), operations);
    expect(problems.map((p) => p.name)).toContain('buyer.graphql');
    expect(problems.flatMap((p) => p.errors).join('\n')).toContain('Cannot query field "merchantUid" on type "Reservation"');
  });

  test('the breaking-change guard flags a removed field and a newly required argument, not an added field', async () => {
    const removed = committedSdl.replace(/\n\s*"""Order id to pass to PortOne as merchant_uid\."""\n\s*merchantUid: String!/, '');
    expect((await breakingChanges(committedSdl, removed)).map((c) => c.message)).toEqual([
      "Field 'merchantUid' was removed from object type 'Reservation'",
    ]);
    const added = committedSdl.replace('type Reservation {', 'type Reservation {\n  note: String');
    expect(await breakingChanges(committedSdl, added)).toEqual([]);
    const requiredArg = committedSdl.replace('event(id: ID!): Event', 'event(id: ID!, limit: Int!): Event');
    expect((await breakingChanges(committedSdl, requiredArg)).length).toBe(1);
  });
});
