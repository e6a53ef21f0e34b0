import { chmodSync, mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { assertReachable, EmbeddedPostgresUnreachable, postgresUser } from '../../src/db/embedded-postgres';

/**
 * As root the embedded PostgreSQL runs as `postgres`: a checkout under a folder only root may enter (a
 * `mktemp -d`, `/root`) must fail with a message naming that folder, not a bare `spawn … EACCES`.
 * Only meaningful as root (CI runs as root); elsewhere PostgreSQL runs as ourselves and nothing is checked.
 */
const asRoot = process.getuid?.() === 0;

(asRoot ? test : test.skip)('a data folder under a folder the postgres user cannot enter is refused with that folder named', () => {
  const closed = mkdtempSync(join(tmpdir(), 'booking-root-only-'));
  try {
    const inside = join(closed, 'checkout', '.data');
    mkdirSync(inside, { recursive: true });
    chmodSync(inside, 0o755);
    chmodSync(join(closed, 'checkout'), 0o755);
    const owner = postgresUser();
    expect(() => assertReachable(owner, [inside])).toThrow(`that user cannot enter ${closed}.`);
    expect(() => assertReachable(owner, [inside])).toThrow(EmbeddedPostgresUnreachable);
    chmodSync(closed, 0o755);
    expect(() => assertReachable(owner, [inside])).not.toThrow();
  } finally {
    rmSync(closed, { recursive: true, force: true });
  }
});
