import { chmodSync, mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startEmbeddedPostgresOnAnyPort } from '../src/db/embedded-postgres-any-port';

/** One real PostgreSQL for the whole run; each jest worker creates its own database in it. */
export default async function globalSetup(): Promise<void> {
  if (process.env.TEST_DATABASE_BASE_URL) {
    process.env.TEST_PG_BASE_URL = process.env.TEST_DATABASE_BASE_URL;
    return;
  }
  const dir = mkdtempSync(join(tmpdir(), 'booking-test-pg-'));
  chmodSync(dir, 0o755);
  (globalThis as { __EMBEDDED_PG_DIR__?: string }).__EMBEDDED_PG_DIR__ = dir;
  const handle = await startEmbeddedPostgresOnAnyPort({ dataDir: dir, persistent: false });
  (globalThis as { __EMBEDDED_PG__?: typeof handle }).__EMBEDDED_PG__ = handle;
  process.env.TEST_PG_BASE_URL = handle.baseUrl;
}
