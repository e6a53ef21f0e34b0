import { readFileSync } from 'node:fs';
import { buildSchema, isAbstractType, isInputObjectType, isInterfaceType, isObjectType } from 'graphql';
import { ERROR_CODES } from '../../src/errors';
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

test('every type and field is described, and the schema description lists every extensions.code', async () => {
  const schema = buildSchema(await emitSchemaSdl());
  const undescribed: string[] = [];
  for (const type of Object.values(schema.getTypeMap())) {
    if (type.name.startsWith('__') || ['String', 'Int', 'Float', 'Boolean', 'ID'].includes(type.name)) continue;
    if (!type.description) undescribed.push(type.name);
    if (isObjectType(type) || isInputObjectType(type) || isInterfaceType(type)) {
      for (const field of Object.values(type.getFields())) if (!field.description) undescribed.push(`${type.name}.${field.name}`);
    }
  }
  expect(undescribed).toEqual([]);
  for (const code of Object.keys(ERROR_CODES)) expect(schema.description).toContain(`- ${code}: `);
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
