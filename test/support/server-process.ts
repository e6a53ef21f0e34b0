import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import type { TypedDocumentNode } from '@graphql-typed-document-node/core';
import { print } from 'graphql';
import fetch from 'node-fetch';
import { JwtIdentity } from '../../src/auth/identity';
import { CreateEventDocument, HoldSeatDocument } from '../generated/graphql';
import type { SimulatorHarness } from './simulator-harness';
import type { SimulatorHarnessV2 } from './simulator-harness-v2';
import { TEST_JWT_SECRET, type GraphQLResponse } from './test-app';
import { testDatabaseUrl } from './test-database';

export interface ServerProcess {
  url: string;
  /** The built-in PortOne simulator's URL when the server started one (no PORTONE_API_URL). */
  simulatorUrl: string | null;
  child: ChildProcess;
  /** Everything written to stdout and stderr, interleaved as it arrived. */
  output(): string;
  /** What was written to stderr alone (pino logs to stdout; npm, Node and PostgreSQL complain here). */
  stderr(): string;
  /** Resolves when the process has exited (by itself, or killed). */
  exited: Promise<number | null>;
  kill(signal?: NodeJS.Signals): Promise<void>;
}

/**
 * Runs `src/main.ts` as a real child process, the way `npm start` does, so a test can SIGKILL it at any
 * instruction and start it again against the same database. The child binds port 0 itself (no port picked
 * here and released, which another process could take meanwhile) and its `GraphQL:` line reports the port.
 */
export async function startServerProcess(
  env: Record<string, string>,
  options: {
    /**
     * `npm-start`: run `npm start` as a user does, in a process group of its own like a terminal's
     * foreground job, so a test can signal npm alone or the whole group (Ctrl-C).
     */
    via?: 'node' | 'npm-start';
  } = {},
): Promise<ServerProcess> {
  const [command, args] =
    options.via === 'npm-start'
      ? ['npm', ['start']]
      : [process.execPath, ['-r', 'ts-node/register/transpile-only', 'src/main.ts']];
  const child = spawn(command, args, {
    cwd: process.cwd(),
    env: { ...process.env, NODE_ENV: 'test', LOG_LEVEL: 'info', PORT: '0', PORTONE_SIMULATOR_PORT: '0', ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
    detached: options.via === 'npm-start',
  });
  let output = '';
  let stderr = '';
  child.stdout?.on('data', (chunk) => (output += chunk));
  child.stderr?.on('data', (chunk) => {
    output += chunk;
    stderr += chunk;
  });
  const exited = new Promise<number | null>((resolve) => child.on('exit', (code) => resolve(code)));
  const deadline = Date.now() + 60_000;
  let url: string | null = null;
  for (;;) {
    if (child.exitCode !== null) throw new Error(`server exited early:\n${output}`);
    const port = /^GraphQL:\s+http:\/\/\S+:(\d+)\/graphql$/m.exec(output)?.[1];
    url = port ? `http://127.0.0.1:${port}` : null;
    try {
      const response = url ? await fetch(`${url}/readyz`) : null;
      if (response?.ok) break;
    } catch {
      // not ready yet
    }
    if (Date.now() > deadline) {
      child.kill('SIGKILL');
      throw new Error(`server did not become ready:\n${output}`);
    }
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
  return {
    url: url!,
    simulatorUrl: /^PortOne:\s+simulator at (http:\/\/\S+)/m.exec(output)?.[1] ?? null,
    child,
    output: () => output,
    stderr: () => stderr,
    exited,
    async kill(signal = 'SIGKILL') {
      if (child.exitCode === null && child.signalCode === null) child.kill(signal);
      await exited;
    },
  };
}

/** One GraphQL request to a server process over HTTP, as a client sends it with a bearer token. */
export async function gqlOverHttp<TData, TVars>(
  server: { url: string },
  document: TypedDocumentNode<TData, TVars>,
  variables: TVars,
  token: string,
): Promise<Omit<GraphQLResponse<TData>, 'status'>> {
  const response = await fetch(`${server.url}/graphql`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', authorization: `Bearer ${token}` },
    body: JSON.stringify({ query: print(document), variables }),
  });
  return (await response.json()) as Omit<GraphQLResponse<TData>, 'status'>;
}

/**
 * What a crash test does before the payment: an admin creates a one-seat event (seat A1, 20,000 won)
 * and `buyerId` holds that seat. Returns the hold and the buyer's token; a GraphQL error fails the test.
 */
export async function holdOneSeatOverHttp(server: { url: string }, options: { title: string; buyerId: string }) {
  const identity = new JwtIdentity(TEST_JWT_SECRET);
  const admin = await identity.sign('admin', { roles: ['admin'] });
  const buyerToken = await identity.sign(options.buyerId);
  const startsAt = new Date(Date.now() + 86400_000).toISOString();
  const created = await gqlOverHttp(server, CreateEventDocument, { input: { title: options.title, startsAt, seats: [{ label: 'A1', price: 20000 }] } }, admin);
  if (!created.data) throw new Error(`createEvent failed: ${JSON.stringify(created.errors)}`);
  const held = await gqlOverHttp(server, HoldSeatDocument, { input: { seatId: created.data.createEvent.seats[0].id } }, buyerToken);
  if (!held.data) throw new Error(`holdSeat failed: ${JSON.stringify(held.errors)}`);
  return { reservation: held.data.holdSeat, buyerToken };
}

/** How often a crash test's servers reconcile: a restarted one recovers within seconds. */
export const CRASH_TEST_RECONCILE_INTERVAL_MS = 1000;

/**
 * The environment of a server process in a crash test, for either PortOne version: short gateway
 * timeouts and refund backoff, reconciliation every `reconcileIntervalMs` (default
 * CRASH_TEST_RECONCILE_INTERVAL_MS), and `failpoints` armed (`name=kill`) when given.
 */
export function crashTestServerEnv(
  portone: SimulatorHarness | SimulatorHarnessV2,
  options: { failpoints?: string; reconcileIntervalMs?: number } = {},
): Record<string, string> {
  const portoneEnv: Record<string, string> =
    'apiSecret' in portone
      ? {
          PORTONE_VERSION: 'v2',
          PORTONE_API_URL: portone.url,
          PORTONE_API_SECRET: portone.apiSecret,
          PORTONE_STORE_ID: portone.storeId,
          PORTONE_WEBHOOK_SECRET: portone.webhookSecrets.join(','),
        }
      : { PORTONE_API_URL: portone.url, PORTONE_IMP_KEY: portone.impKey, PORTONE_IMP_SECRET: portone.impSecret };
  return {
    DATABASE_URL: testDatabaseUrl(),
    JWT_SECRET: TEST_JWT_SECRET,
    ...portoneEnv,
    PORTONE_CONNECT_TIMEOUT_MS: '500',
    // The refund attempt lease follows this (refundAttemptLeaseMs, 23 s here), and a restarted server
    // finishes a refund whose attempt died with the process only after it: these tests wait for that.
    PORTONE_RESPONSE_TIMEOUT_MS: '1500',
    REFUND_BACKOFF_BASE_MS: '200',
    REFUND_BACKOFF_MAX_MS: '1000',
    RECONCILE_INTERVAL_MS: String(options.reconcileIntervalMs ?? CRASH_TEST_RECONCILE_INTERVAL_MS),
    RECONCILE_GRACE_MS: '2000',
    ...(options.failpoints ? { FAILPOINTS: options.failpoints } : {}),
  };
}

/**
 * Runs `npm run demo` itself (the npm script a user types, not only the file it points at) against a
 * server started by `npm start` (its built-in simulator) and checks what every version's demo tells: no
 * error output, both union members, the refund SUCCEEDED. Returns the demo's output for the version's own
 * checks.
 */
export function runDemoAgainst(server: ServerProcess, env: Record<string, string>): string {
  // The server's ports are the OS's pick (PORT=0), not the defaults the demo assumes: say where they are.
  const demo = spawnSync('npm', ['run', 'demo'], {
    cwd: process.cwd(),
    env: { ...process.env, ...env, API_URL: server.url, PORTONE_SIMULATOR_URL: server.simulatorUrl! },
    encoding: 'utf8',
    timeout: 90_000,
  });
  expect(demo.stderr).toBe('');
  expect(demo.status).toBe(0);
  // npm echoes the script it runs: proof that the package.json entry was the one exercised.
  expect(demo.stdout).toMatch(/^> \S+ demo\n> .*scripts\/demo\.ts/m);
  expect(demo.stdout).toContain('"__typename": "PaymentConfirmed"');
  expect(demo.stdout).toContain('"__typename": "PaymentRefunded"');
  expect(demo.stdout).toContain('[7] The refund reached SUCCEEDED');
  return demo.stdout;
}
