import { MikroORM, type Options } from '@mikro-orm/postgresql';
import type { Logger } from 'pino';
import { createOrmConfig } from './orm-config';

/**
 * Connects, creates the database if it is missing (an embedded cluster starts empty), and applies the
 * committed migrations. The app never changes the schema any other way.
 */
export async function openDatabase(url: string, logger: Logger, overrides: Partial<Options> = {}): Promise<MikroORM> {
  const orm = await MikroORM.init(
    createOrmConfig(url, { logger: (message) => logger.debug({ orm: message }, 'mikro-orm'), ...overrides }),
  );
  await orm.schema.ensureDatabase();
  const applied = await orm.getMigrator().up();
  if (applied.length > 0) logger.info({ migrations: applied.map((m) => m.name) }, 'database migrations applied');
  return orm;
}
