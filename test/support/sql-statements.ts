import type { MikroORM } from '@mikro-orm/postgresql';

export interface StatementLog {
  /** Every SQL statement our ORM sent meanwhile, BEGIN and COMMIT included, in order. */
  statements: string[];
  transactions: number;
}

/**
 * The SQL statements the app's own connection pool sends while `work` runs, from knex's `query` event
 * (BEGIN and COMMIT included). graphile-worker's polling uses its own pool and is not counted; run
 * the app with `startWorker: false` so no job runs meanwhile. Deterministic: a count, not a time.
 */
export async function recordStatements<T>(orm: MikroORM, work: () => Promise<T>): Promise<StatementLog & { result: T }> {
  const knex = orm.em.getConnection().getKnex();
  const statements: string[] = [];
  const onQuery = (query: { sql: string }) => statements.push(query.sql);
  knex.on('query', onQuery);
  try {
    const result = await work();
    return { result, statements, transactions: statements.filter((sql) => /^\s*begin\b/i.test(sql)).length };
  } finally {
    knex.off('query', onQuery);
  }
}
