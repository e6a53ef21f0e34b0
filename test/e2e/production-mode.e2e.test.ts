import { spawn } from 'node:child_process';
import { chmodSync, mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import fetch from 'node-fetch';
import type { MikroORM } from '@mikro-orm/postgresql';
import { startServerProcess } from '../support/server-process';
import { startSimulatorHarness, type SimulatorHarness } from '../support/simulator-harness';
import { openTestDatabase, resetDatabase, testDatabaseUrl } from '../support/test-database';

/**
 * NODE_ENV=production runs only what is configured: it refuses to start without a database, a JWT secret
 * and PortOne credentials, never starts the simulator or an embedded PostgreSQL, seeds nothing, and never
 * prints or writes a token.
 */
const JWT_SECRET = 'Zk3pW9xQ2vLr7TbN5mYc8HdF4sGa6JeU1oRi';
const JWT_SHAPE = /eyJ[\w-]+\.[\w-]+\.[\w-]+/;

let orm: MikroORM;
let simulator: SimulatorHarness;
let dataDir: string;
beforeAll(async () => {
  orm = await openTestDatabase();
  simulator = await startSimulatorHarness();
});
beforeEach(() => {
  dataDir = mkdtempSync(join(tmpdir(), 'booking-prod-'));
  chmodSync(dataDir, 0o755);
});
afterEach(() => rmSync(dataDir, { recursive: true, force: true }));
afterAll(async () => {
  await simulator.close();
  await orm.close(true);
});

function productionEnv(): Record<string, string> {
  return {
    NODE_ENV: 'production',
    LOG_LEVEL: 'info',
    DATA_DIR: dataDir,
    DATABASE_URL: testDatabaseUrl(),
    JWT_SECRET,
    PORTONE_API_URL: simulator.url,
    PORTONE_IMP_KEY: simulator.impKey,
    PORTONE_IMP_SECRET: simulator.impSecret,
  };
}

/** Runs src/main.ts to its end (it should not get far) and returns its exit code and everything it printed. */
function runMain(env: Record<string, string>): Promise<{ code: number | null; output: string }> {
  const inherited = Object.fromEntries(
    Object.entries(process.env).filter(([name]) => !/^(DATABASE_URL|JWT_SECRET|PORTONE_|NODE_ENV|DATA_DIR)/.test(name)),
  );
  const child = spawn(process.execPath, ['-r', 'ts-node/register/transpile-only', 'src/main.ts'], {
    env: { ...inherited, PORT: '0', ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let output = '';
  child.stdout.on('data', (chunk) => (output += chunk));
  child.stderr.on('data', (chunk) => (output += chunk));
  const timer = setTimeout(() => child.kill('SIGKILL'), 30_000);
  return new Promise((resolve) =>
    child.on('close', (code) => {
      clearTimeout(timer);
      resolve({ code, output });
    }),
  );
}

test.each(['DATABASE_URL', 'JWT_SECRET', 'PORTONE_API_URL', 'PORTONE_IMP_KEY', 'PORTONE_IMP_SECRET'])(
  'without %s production refuses to start, names the variable, starts nothing and prints no token',
  async (name) => {
    const env = productionEnv();
    delete env[name];
    const { code, output } = await runMain(env);
    expect(code).toBe(1);
    expect(output).toContain(`${name} is required when NODE_ENV=production`);
    expect(output).not.toMatch(JWT_SHAPE);
    expect(output).not.toContain(JWT_SECRET);
    expect(output).not.toMatch(/simulator|embedded PostgreSQL/i);
    expect(readdirSync(dataDir)).toEqual([]);
  },
);

test('a weak JWT_SECRET stops production with the rule it breaks', async () => {
  const { code, output } = await runMain({ ...productionEnv(), JWT_SECRET: 'ab'.repeat(24) });
  expect(code).toBe(1);
  expect(output).toMatch(/JWT_SECRET must contain at least 10 different characters \(has 2\)/);
});

test('with everything configured production serves, seeds nothing, starts no simulator and never prints or writes a token', async () => {
  await resetDatabase(orm);
  const server = await startServerProcess(productionEnv());
  try {
    const response = await fetch(`${server.url}/graphql`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ query: '{ events { id } }' }),
    });
    expect(((await response.json()) as { data: { events: unknown[] } }).data.events).toEqual([]);
    const output = server.output();
    expect(server.simulatorUrl).toBeNull();
    expect(output).toContain(`PortOne:      ${simulator.url}`);
    expect(output).not.toMatch(/embedded PostgreSQL on port|Demo .* token/);
    expect(output).not.toMatch(JWT_SHAPE);
    expect(output).not.toContain(JWT_SECRET);
    expect(readdirSync(dataDir)).toEqual([]);
  } finally {
    await server.kill('SIGTERM');
  }
  expect(server.output()).not.toMatch(JWT_SHAPE);
});
