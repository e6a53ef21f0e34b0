import { readFileSync } from 'node:fs';
import { buildSchema, isAbstractType } from 'graphql';
import { emitSchemaSdl, SCHEMA_FILE } from '../../src/graphql/schema-artifact';
import { openTestDatabase } from '../support/test-database';

test('schema/schema.graphql matches the code (run `npm run schema:emit` and commit it)', async () => {
  const committed = readFileSync(SCHEMA_FILE, 'utf8');
  expect(await emitSchemaSdl()).toBe(committed);
});

test('schema/possible-types.json (Apollo Client possibleTypes) lists every union and interface with its members (run `npm run codegen`)', async () => {
  const schema = buildSchema(await emitSchemaSdl());
  const expected: Record<string, string[]> = {};
  for (const type of Object.values(schema.getTypeMap())) {
    if (isAbstractType(type) && !type.name.startsWith('__')) expected[type.name] = schema.getPossibleTypes(type).map((member) => member.name).sort();
  }
  expect(Object.keys(expected)).toContain('ConfirmPaymentResult');
  const shipped = JSON.parse(readFileSync('schema/possible-types.json', 'utf8')) as { possibleTypes: Record<string, string[]> };
  const sorted = Object.fromEntries(Object.entries(shipped.possibleTypes).map(([name, members]) => [name, [...members].sort()]));
  expect(sorted).toEqual(expected);
});

test('the committed migrations produce exactly what the entities declare (run `npm run migration:create`)', async () => {
  const orm = await openTestDatabase();
  try {
    const diff = await orm.schema.getUpdateSchemaSQL({ wrap: false });
    expect(diff.trim()).toBe('');
  } finally {
    await orm.close(true);
  }
});
