import { chmodSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { runDemoAgainst, startServerProcess } from '../support/server-process';

/**
 * `npm start` with PORTONE_VERSION=v2 and no PORTONE_API_URL runs the simulator with its V2 part and the V2
 * client; `npm run demo` (with the same PORTONE_VERSION) tells the whole story through the V2 window.
 */
test('npm start with PORTONE_VERSION=v2: the V2 simulator, printed V2 details, and the demo works', async () => {
  const dataDir = mkdtempSync(join(tmpdir(), 'booking-start-v2-'));
  chmodSync(dataDir, 0o755);
  const env = { DATA_DIR: dataDir, NODE_ENV: 'development', LOG_LEVEL: 'warn', PORTONE_VERSION: 'v2' };
  try {
    const server = await startServerProcess(env);
    try {
      expect(server.simulatorUrl).toMatch(/^http:\/\/127\.0\.0\.1:\d+$/);
      expect(server.output()).toMatch(/PortOne V2:\s+API http:\/\/127\.0\.0\.1:\d+\/v2, store \S+; signed webhooks to http:\/\/localhost:\d+\/webhooks\/portone/);
      const demo = runDemoAgainst(server, env);
      // PortOne V2's own ledger: the tampered payment fully cancelled, with our refund's Idempotency-Key.
      expect(demo).toMatch(/"status": "CANCELLED"/);
      expect(demo).toMatch(/"idempotencyKey": "refund:[0-9a-f-]{36}:[A-Za-z0-9_-]{22}"/);
    } finally {
      await server.kill('SIGINT');
    }
  } finally {
    rmSync(dataDir, { recursive: true, force: true });
  }
});
