import { Client } from 'pg';

test('the embedded PostgreSQL answers', async () => {
  const client = new Client({ connectionString: `${process.env.TEST_PG_BASE_URL}/postgres` });
  await client.connect();
  const result = await client.query('select version() as v');
  await client.end();
  expect(result.rows[0].v).toMatch(/^PostgreSQL 18/);
});
