import { chmodSync, existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { Agent } from 'node:http';
import { connect } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { print } from 'graphql';
import fetch from 'node-fetch';
import { JwtIdentity } from '../../src/auth/identity';
import { refundAttemptLeaseMs } from '../../src/payment/refunds/refund-attempts';
import { ConfirmPaymentDocument, CreateEventDocument, HoldSeatDocument, ReservationDocument } from '../generated/graphql';
import { startServerProcess, type ServerProcess } from '../support/server-process';
import { startSimulatorHarness, type SimulatorHarness } from '../support/simulator-harness';
import { TEST_JWT_SECRET } from '../support/test-app';

/**
 * `npm start` with its embedded PostgreSQL, stopped the ways it is stopped in real life: SIGTERM to the
 * npm process (what `docker stop` sends to the main process) and Ctrl-C (SIGINT to the terminal's
 * foreground process group: npm, node and, unless it has a session of its own, PostgreSQL).
 * PortOne is a simulator in this test process, so it outlives the server and keeps its ledger.
 */
jest.setTimeout(180_000);

let simulator: SimulatorHarness;
let dataDir: string;
const identity = new JwtIdentity(TEST_JWT_SECRET);

beforeAll(async () => {
  simulator = await startSimulatorHarness();
  dataDir = mkdtempSync(join(tmpdir(), 'booking-shutdown-'));
  chmodSync(dataDir, 0o755);
});
afterAll(async () => {
  await simulator.close();
  stopLeftoverPostgres();
  rmSync(dataDir, { recursive: true, force: true });
});

function serverEnv(extra: Record<string, string> = {}): Record<string, string> {
  return {
    NODE_ENV: 'development',
    LOG_LEVEL: 'info',
    DATA_DIR: dataDir,
    JWT_SECRET: TEST_JWT_SECRET,
    PORTONE_API_URL: simulator.url,
    PORTONE_IMP_KEY: simulator.impKey,
    PORTONE_IMP_SECRET: simulator.impSecret,
    REFUND_BACKOFF_BASE_MS: '200',
    REFUND_BACKOFF_MAX_MS: '1000',
    ...extra,
  };
}

async function gql(server: ServerProcess, document: Parameters<typeof print>[0], variables: unknown, token: string, agent?: Agent) {
  const response = await fetch(`${server.url}/graphql`, {
    agent,
    method: 'POST',
    headers: { 'content-type': 'application/json', authorization: `Bearer ${token}` },
    body: JSON.stringify({ query: print(document), variables }),
  });
  const body = (await response.json()) as { data?: any; errors?: unknown[] };
  if (body.errors) throw new Error(`GraphQL errors: ${JSON.stringify(body.errors)}`);
  return body.data;
}

async function heldReservation(server: ServerProcess, buyer: string) {
  const admin = await identity.sign('shutdown-admin', { roles: ['admin'] });
  const startsAt = new Date(Date.now() + 7 * 86400_000).toISOString();
  const created = await gql(server, CreateEventDocument, { input: { title: 'Shutdown', startsAt, seats: [{ label: 'A1', price: 30000 }] } }, admin);
  const held = await gql(server, HoldSeatDocument, { input: { seatId: created.createEvent.seats[0].id } }, buyer);
  return held.holdSeat as { id: string; merchantUid: string; amount: number };
}

/** The embedded PostgreSQL's pid and port, from the lock file it keeps while it runs. */
function runningPostgres(): { pid: number; port: number } {
  const lines = readFileSync(join(dataDir, 'pg', 'postmaster.pid'), 'utf8').split('\n');
  return { pid: Number(lines[0]), port: Number(lines[3]) };
}

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

function listening(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = connect({ host: '127.0.0.1', port });
    socket.once('connect', () => {
      socket.destroy();
      resolve(true);
    });
    socket.once('error', () => resolve(false));
  });
}

/** The exit code, with the server's output in the failure message when it is not the expected one. */
async function expectExitCode(server: ServerProcess, expected: number): Promise<void> {
  const code = await server.exited;
  expect({ code, output: code === expected ? '' : server.output() }).toEqual({ code: expected, output: '' });
}

/** JSON log lines at pino level 50 (error) or above. */
function errorLines(output: string): string[] {
  return output.split('\n').filter((line) => {
    try {
      return (JSON.parse(line) as { level?: number }).level! >= 50;
    } catch {
      return false;
    }
  });
}

/**
 * No error-level JSON log line, and nothing but JSON on stderr. Error text that bypasses pino (a raw
 * console.error of a pg client, a stack trace, npm's `npm error` lines after a signal death) lands on
 * stderr as plain text. A clean stop writes nothing there at all: pino logs to stdout, and npm 11 prints
 * nothing to stderr when its script exits 0 (checked), so there is nothing of npm's to exclude.
 */
function expectNoErrorOutput(server: ServerProcess): void {
  expect(errorLines(server.output())).toEqual([]);
  expect(plainLines(server.stderr())).toEqual([]);
}

/** The non-blank lines of `output` that are not JSON. */
function plainLines(output: string): string[] {
  return output.split('\n').filter((line) => {
    if (line.trim() === '') return false;
    try {
      JSON.parse(line);
      return false;
    } catch {
      return true;
    }
  });
}

/** The server, npm and PostgreSQL are gone and nothing listens on their ports. */
async function expectEverythingStopped(server: ServerProcess, postgres: { pid: number; port: number }): Promise<void> {
  expect(alive(postgres.pid)).toBe(false);
  expect(existsSync(join(dataDir, 'pg', 'postmaster.pid'))).toBe(false);
  expect(await listening(Number(new URL(server.url).port))).toBe(false);
  expect(await listening(postgres.port)).toBe(false);
  // No process is left in npm's process group (node ran in it, as `exec`ed by npm's shell).
  let groupError: NodeJS.ErrnoException | null = null;
  try {
    process.kill(-server.child.pid!, 0);
  } catch (error) {
    groupError = error as NodeJS.ErrnoException;
  }
  expect(groupError?.code).toBe('ESRCH');
}

/** Resolves once the server has logged `count` incoming POSTs to /graphql. */
async function waitForGraphQLRequests(server: ServerProcess, count: number): Promise<void> {
  const deadline = Date.now() + 30_000;
  while ((server.output().match(/"method":"POST","url":"\/graphql"/g) ?? []).length < count) {
    if (Date.now() > deadline) throw new Error(`the server did not log ${count} GraphQL requests:\n${server.output()}`);
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
}

/** If a test failed half-way, kill npm's whole group (npm alone would leave node running). */
async function killGroup(server: ServerProcess): Promise<void> {
  if (server.child.exitCode === null && server.child.signalCode === null) {
    try {
      process.kill(-server.child.pid!, 'SIGKILL');
    } catch {
      // already gone
    }
  }
  await server.exited;
}

/** If a test failed half-way, do not leave its PostgreSQL (in a session of its own) running. */
function stopLeftoverPostgres(): void {
  try {
    process.kill(runningPostgres().pid, 'SIGQUIT');
  } catch {
    // not running
  }
}

test('SIGTERM to `npm start` while confirmPayment is in flight: the request completes, exit 0, no error line, nothing left running', async () => {
  const server = await startServerProcess(serverEnv(), { via: 'npm-start' });
  try {
    const postgres = runningPostgres();
    const buyer = await identity.sign('shutdown-buyer');
    const reservation = await heldReservation(server, buyer);
    const impUid = await simulator.pay({ merchantUid: reservation.merchantUid, amount: reservation.amount });
    // PortOne answers the payment read slowly, so the confirmation is surely still running at SIGTERM.
    await simulator.fault({ endpoint: 'getPayment', kind: 'latency', latencyMs: 3000, times: 1 });

    const before = (server.output().match(/"method":"POST","url":"\/graphql"/g) ?? []).length;
    // A keep-alive client, as browsers and proxies are: its connection must not hold the shutdown open.
    const keepAlive = new Agent({ keepAlive: true });
    const confirming = gql(
      server,
      ConfirmPaymentDocument,
      { input: { reservationId: reservation.id, paymentId: impUid, merchantUid: reservation.merchantUid } },
      buyer,
      keepAlive,
    );
    await waitForGraphQLRequests(server, before + 1);
    const signalledAt = Date.now();
    process.kill(server.child.pid!, 'SIGTERM');

    const confirmed = await confirming;
    expect(confirmed.confirmPayment).toMatchObject({ __typename: 'PaymentConfirmed', paymentId: impUid, amount: reservation.amount });
    await expectExitCode(server, 0);
    keepAlive.destroy();
    // It waited for the request rather than dropping it, and did not wait for the drain deadline.
    expect(server.output()).toContain('"msg":"shutdown complete"');
    expect(Date.now() - signalledAt).toBeGreaterThan(1000);
    expect(server.output()).not.toContain('at the shutdown deadline');
    expectNoErrorOutput(server);
    await expectEverythingStopped(server, postgres);
  } finally {
    await killGroup(server);
    stopLeftoverPostgres();
  }
});

test('SIGTERM during a refund cancel: the next start finishes the refund with one cancel; Ctrl-C then stops everything with exit 0', async () => {
  // The cancel outlives the drain window, so the process goes while PortOne still works on it.
  const env = serverEnv({ SHUTDOWN_TIMEOUT_MS: '1000', PORTONE_CONNECT_TIMEOUT_MS: '500', PORTONE_RESPONSE_TIMEOUT_MS: '4000' });
  const buyer = await identity.sign('shutdown-refund-buyer');
  const admin = await identity.sign('shutdown-admin', { roles: ['admin'] });
  let impUid: string;
  let reservationId: string;

  const first = await startServerProcess(env, { via: 'npm-start' });
  try {
    const postgres = runningPostgres();
    const reservation = await heldReservation(first, buyer);
    reservationId = reservation.id;
    // Paid 1,000 won short: the server must give it back.
    impUid = await simulator.pay({ merchantUid: reservation.merchantUid, amount: reservation.amount - 1000 });
    await simulator.fault({ endpoint: 'cancel', kind: 'latency', latencyMs: 3000, times: 1 });

    const confirming = gql(first, ConfirmPaymentDocument, { input: { reservationId: reservation.id, paymentId: impUid, merchantUid: reservation.merchantUid } }, buyer).catch(
      (error: Error) => error,
    );
    // The first attempt has claimed the refund (attempts = 1) and is waiting for PortOne's cancel.
    const deadline = Date.now() + 30_000;
    for (;;) {
      const seen = await gql(first, ReservationDocument, { id: reservation.id }, admin);
      if (seen.reservation.refund?.attempts === 1) break;
      if (Date.now() > deadline) throw new Error(`no refund attempt started:\n${first.output()}`);
      await new Promise((resolve) => setTimeout(resolve, 100));
    }
    await new Promise((resolve) => setTimeout(resolve, 300));
    expect((await simulator.cancelRequests(impUid)).filter((c) => c.applied)).toHaveLength(0);
    process.kill(first.child.pid!, 'SIGTERM');

    await expectExitCode(first, 0);
    await confirming;
    expectNoErrorOutput(first);
    await expectEverythingStopped(first, postgres);
  } finally {
    await killGroup(first);
    stopLeftoverPostgres();
  }

  const second = await startServerProcess(env, { via: 'npm-start' });
  try {
    const postgres = runningPostgres();
    // The cut attempt keeps its lease (sized from the PortOne timeouts): the next start finishes after it.
    const deadline = Date.now() + refundAttemptLeaseMs({ responseTimeoutMs: Number(env.PORTONE_RESPONSE_TIMEOUT_MS) }) + 30_000;
    let refund: { status: string } | null = null;
    for (;;) {
      refund = (await gql(second, ReservationDocument, { id: reservationId }, admin)).reservation.refund;
      if (refund?.status === 'SUCCEEDED' || Date.now() > deadline) break;
      await new Promise((resolve) => setTimeout(resolve, 250));
    }
    expect(refund).toMatchObject({ status: 'SUCCEEDED', amount: 29000 });
    const applied = (await simulator.cancelRequests(impUid)).filter((c) => c.applied);
    expect(applied).toHaveLength(1);
    expect(applied[0].amount).toBe(29000);

    // Ctrl-C: SIGINT to the whole foreground group (npm forwards its copy to node too).
    process.kill(-second.child.pid!, 'SIGINT');
    await expectExitCode(second, 0);
    expectNoErrorOutput(second);
    await expectEverythingStopped(second, postgres);
  } finally {
    await killGroup(second);
    stopLeftoverPostgres();
  }
});

test('SIGTERM while the job worker is in a refund cancel past the deadline: the job is released, and the next start finishes the refund once', async () => {
  const env = serverEnv({ SHUTDOWN_TIMEOUT_MS: '1000', PORTONE_CONNECT_TIMEOUT_MS: '500', PORTONE_RESPONSE_TIMEOUT_MS: '4000' });
  const buyer = await identity.sign('shutdown-worker-buyer');
  const admin = await identity.sign('shutdown-admin', { roles: ['admin'] });
  let impUid: string;
  let reservationId: string;

  const first = await startServerProcess(env, { via: 'npm-start' });
  try {
    const reservation = await heldReservation(first, buyer);
    reservationId = reservation.id;
    impUid = await simulator.pay({ merchantUid: reservation.merchantUid, amount: reservation.amount - 1000 });
    // The attempt made inside confirmPayment fails; the queued retry (a graphile-worker job) is slow.
    await simulator.fault({ endpoint: 'cancel', kind: 'http500', times: 1 });
    await simulator.fault({ endpoint: 'cancel', kind: 'latency', latencyMs: 3000, times: 1 });
    const confirmed = await gql(first, ConfirmPaymentDocument, { input: { reservationId: reservation.id, paymentId: impUid, merchantUid: reservation.merchantUid } }, buyer);
    expect(confirmed.confirmPayment).toMatchObject({ __typename: 'PaymentRefunded', refund: { status: 'PENDING' } });

    const deadline = Date.now() + 30_000;
    for (;;) {
      const seen = await gql(first, ReservationDocument, { id: reservation.id }, admin);
      if (seen.reservation.refund?.attempts === 2) break;
      if (Date.now() > deadline) throw new Error(`the worker did not start a second attempt:\n${first.output()}`);
      await new Promise((resolve) => setTimeout(resolve, 100));
    }
    await new Promise((resolve) => setTimeout(resolve, 300));
    process.kill(first.child.pid!, 'SIGTERM');
    await expectExitCode(first, 0);
    expect(first.output()).toContain('a job was still running at the shutdown deadline');
    expectNoErrorOutput(first);
    expect((await simulator.cancelRequests(impUid)).filter((c) => c.applied)).toHaveLength(0);
  } finally {
    await killGroup(first);
    stopLeftoverPostgres();
  }

  const second = await startServerProcess(env, { via: 'npm-start' });
  try {
    // The cut attempt keeps its lease (sized from the PortOne timeouts): the next start finishes after it.
    const deadline = Date.now() + refundAttemptLeaseMs({ responseTimeoutMs: Number(env.PORTONE_RESPONSE_TIMEOUT_MS) }) + 30_000;
    let refund: { status: string } | null = null;
    for (;;) {
      refund = (await gql(second, ReservationDocument, { id: reservationId }, admin)).reservation.refund;
      if (refund?.status === 'SUCCEEDED' || Date.now() > deadline) break;
      await new Promise((resolve) => setTimeout(resolve, 250));
    }
    expect(refund).toMatchObject({ status: 'SUCCEEDED', amount: 29000 });
    expect((await simulator.cancelRequests(impUid)).filter((c) => c.applied)).toHaveLength(1);
    process.kill(second.child.pid!, 'SIGTERM');
    await expectExitCode(second, 0);
    expectNoErrorOutput(second);
  } finally {
    await killGroup(second);
    stopLeftoverPostgres();
  }
});
