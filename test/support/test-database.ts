import { MikroORM, type Options } from '@mikro-orm/postgresql';
import pino from 'pino';
import { openDatabase } from '../../src/db/database';
import { useStarted } from './use-started';

/** This jest worker's own database inside the run's embedded PostgreSQL. */
export function testDatabaseUrl(): string {
  const base = process.env.TEST_PG_BASE_URL;
  if (!base) throw new Error('TEST_PG_BASE_URL is not set: run the tests through jest (global setup starts PostgreSQL)');
  return `${base}/booking_test_${process.env.JEST_WORKER_ID ?? '1'}`;
}

/** `url` reaches this worker's database another way (through a fault-injecting proxy, say). */
export async function openTestDatabase(options: { url?: string; overrides?: Partial<Options> } = {}): Promise<MikroORM> {
  return openDatabase(options.url ?? testDatabaseUrl(), pino({ level: 'silent' }), { preferTs: true, pool: { min: 0, max: 30 }, ...options.overrides });
}

/** Empties every table of ours (not the migration history) so each test starts from nothing. */
export async function resetDatabase(orm: MikroORM): Promise<void> {
  const connection = orm.em.getConnection();
  const rows: Array<{ tablename: string }> = await connection.execute(
    `select tablename from pg_tables where schemaname = 'public' and tablename <> 'mikro_orm_migrations'`,
  );
  if (rows.length === 0) return;
  await connection.execute(`truncate ${rows.map((r) => `"${r.tablename}"`).join(', ')} restart identity cascade`);
  // Jobs queued by an earlier test must not act on this one.
  const queue: unknown[] = await connection.execute(`select 1 from pg_tables where schemaname = 'graphile_worker' and tablename = '_private_jobs'`);
  if (queue.length > 0) await connection.execute('delete from graphile_worker._private_jobs');
}

/** This worker's database for a whole test file: emptied before each test, closed after the last (see useStarted). */
export function useTestDatabase(): MikroORM {
  return useStarted('the test database', () => openTestDatabase(), { reset: resetDatabase, close: (orm) => orm.close(true) });
}
