/**
 * Writes a new migration for whatever the entities declare that the committed migrations do not.
 * Runs against a throw-away embedded PostgreSQL, so nobody needs a database at hand.
 *   npm run migration:create [-- --initial]
 */
import 'reflect-metadata';
import { chmodSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { MikroORM } from '@mikro-orm/postgresql';
import { startEmbeddedPostgresOnAnyPort } from '../src/db/embedded-postgres-any-port';
import { createOrmConfig } from '../src/db/orm-config';

async function main(): Promise<void> {
  const dir = mkdtempSync(join(tmpdir(), 'booking-migration-'));
  chmodSync(dir, 0o755);
  const pg = await startEmbeddedPostgresOnAnyPort({ dataDir: dir, persistent: false });
  try {
    const orm = await MikroORM.init(createOrmConfig(`${pg.baseUrl}/migration_scratch`, { preferTs: true }));
    await orm.schema.ensureDatabase();
    const migrator = orm.getMigrator();
    await migrator.up();
    const result = await migrator.createMigration(undefined, false, process.argv.includes('--initial'));
    console.log(result.fileName ? `created ${result.fileName}\n${result.diff.up.join('\n')}` : 'no changes: nothing to migrate');
    await orm.close(true);
  } finally {
    await pg.stop();
    rmSync(dir, { recursive: true, force: true });
  }
}

main().catch((error) => {
  console.error(error);
  process.exit(1);
});
