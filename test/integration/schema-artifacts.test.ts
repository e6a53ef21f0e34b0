import { readFileSync } from 'node:fs';
import { emitSchemaSdl, SCHEMA_FILE } from '../../src/graphql/schema-artifact';
import { openTestDatabase } from '../support/test-database';

test('schema/schema.graphql matches the code (run `npm run schema:emit` and commit it)', async () => {
  const committed = readFileSync(SCHEMA_FILE, 'utf8');
  expect(await emitSchemaSdl()).toBe(committed);
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
