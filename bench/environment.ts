import { spawn, type ChildProcess } from 'node:child_process';
import { chmodSync, existsSync, mkdtempSync, openSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { Client } from 'pg';
import pino from 'pino';
import { openDatabase } from '../src/db/database';
import { startEmbeddedPostgresOnAnyPort } from '../src/db/embedded-postgres-any-port';
import type { EmbeddedPostgresHandle } from '../src/db/embedded-postgres';


/**
 * The machinery of `npm run bench`: one embedded PostgreSQL (pg_stat_statements preloaded), one PortOne V1
 * simulator process, the raw baseline server and this server as separate processes, each with its own
 * database in the cluster, and autocannon driving both in turn from this process.
 */

export const JWT_SECRET = 'bench-Zk3pW9xQ2vLr7TbN5mYc8HdF4sGa6JeU1oRi';
const IMP_KEY = 'bench-imp-key';
const IMP_SECRET = 'bench-imp-secret';
/** The repository: this file runs as bench/environment.ts (ts-node) or dist/bench/environment.js. */
const ROOT = existsSync(join(__dirname, '..', 'package.json')) ? resolve(__dirname, '..') : resolve(__dirname, '..', '..');

export type Target = 'app' | 'baseline';

/**
 * The harness's own SQL (seeding, waiting for refunds, checks) runs as this role, so pg_stat_statements can
 * leave it out of the servers' counts.
 */
export const HARNESS_ROLE = 'bench_harness';

/** A connection URL to one database as the harness's own role. */
export function harnessUrl(env: Environment, database: string): string {
  const url = new URL(`${env.pg.baseUrl}/${database}`);
  url.username = HARNESS_ROLE;
  url.password = HARNESS_ROLE;
  return url.toString();
}

export interface ServerHandle {
  target: Target;
  url: string;
  pid: number;
  database: string;
  stop(): Promise<void>;
}

export interface ServerPair {
  app: ServerHandle;
  baseline: ServerHandle;
}

export interface Environment extends ServerPair {
  pg: EmbeddedPostgresHandle;
  admin: Client;
  simulatorUrl: string;
  postgresVersion: string;
  /** Another pair of servers on databases of their own, stopped with the rest (the growth phase's 10^6 pair). */
  startPair(suffix: string): Promise<ServerPair>;
  stop(): Promise<void>;
}

/** How a server process is started: compiled JS (what `npm run bench` measures) or TS through ts-node (the smoke test). */
export type Runner = 'dist' | 'source';

function nodeArgs(runner: Runner, script: string): string[] {
  return runner === 'dist'
    ? [join(ROOT, 'dist', `${script}.js`)]
    : ['-r', 'ts-node/register/transpile-only', join(ROOT, `${script}.ts`)];
}

async function waitForLine(child: ChildProcess, read: () => string, pattern: RegExp, what: string, timeoutMs = 90_000): Promise<RegExpExecArray> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const match = pattern.exec(read());
    if (match) return match;
    if (child.exitCode !== null) throw new Error(`${what} exited early:\n${read().slice(-3000)}`);
    if (Date.now() > deadline) {
      child.kill('SIGKILL');
      throw new Error(`${what} did not start within ${timeoutMs} ms:\n${read().slice(-3000)}`);
    }
    await new Promise((done) => setTimeout(done, 100));
  }
}

/** Every server process this run started, so a signal can reach them all at once, synchronously. */
const children = new Set<ChildProcess>();

/**
 * SIGTERM to every server process still running. On Ctrl-C embedded-postgres's own exit hook stops the
 * cluster and exits the process, possibly before an orderly stop could finish: this goes first.
 */
export function terminateChildren(): void {
  for (const child of children) if (child.exitCode === null && child.signalCode === null) child.kill('SIGTERM');
}

function spawnLogged(args: string[], env: Record<string, string>, logFile: string): { child: ChildProcess; read: () => string } {
  const fd = openSync(logFile, 'a');
  // stdin is a pipe from this process: the baseline exits when it closes, i.e. when the harness dies.
  const child = spawn(process.execPath, args, { cwd: ROOT, env: { ...process.env, ...env }, stdio: ['pipe', fd, fd] });
  children.add(child);
  child.once('exit', () => children.delete(child));
  return { child, read: () => readFileSync(logFile, 'utf8') };
}

function stopper(child: ChildProcess): () => Promise<void> {
  return async () => {
    if (child.exitCode !== null || child.signalCode !== null) return;
    const exited = new Promise((done) => child.once('exit', done));
    child.kill('SIGTERM');
    const timer = setTimeout(() => child.kill('SIGKILL'), 10_000);
    await exited;
    clearTimeout(timer);
  };
}

/** `appNodeArgs`: flags for this server's node process only (e.g. `--cpu-prof`, which NODE_OPTIONS refuses). */
export async function startEnvironment(
  runner: Runner,
  log: (line: string) => void,
  env: Record<string, string> = {},
  appNodeArgs: string[] = [],
): Promise<Environment> {
  const dir = mkdtempSync(join(tmpdir(), 'booking-bench-'));
  chmodSync(dir, 0o755);
  const cleanups: Array<() => Promise<unknown>> = [async () => rmSync(dir, { recursive: true, force: true })];
  let stopped = false;
  const stop = async () => {
    if (stopped) return;
    stopped = true;
    for (const cleanup of cleanups.reverse()) await cleanup().catch(() => undefined);
  };
  try {
    log('starting PostgreSQL (fsync, synchronous_commit and full_page_writes off; pg_stat_statements preloaded)');
    const pg = await startEmbeddedPostgresOnAnyPort({
      dataDir: join(dir, 'cluster'),
      persistent: false,
      extraFlags: [
        ...['-c', 'shared_preload_libraries=pg_stat_statements', '-c', 'pg_stat_statements.max=10000', '-c', 'pg_stat_statements.track_utility=on'],
        // Room for the 10^6-reservation load of --growth without checkpoints in the middle of it.
        ...['-c', 'shared_buffers=256MB', '-c', 'max_wal_size=4GB'],
      ],
    });
    cleanups.push(() => pg.stop());
    const admin = new Client({ connectionString: `${pg.baseUrl}/postgres` });
    admin.on('error', () => undefined);
    await admin.connect();
    cleanups.push(() => admin.end());
    await admin.query('create extension if not exists pg_stat_statements');
    await admin.query(`create role ${HARNESS_ROLE} login superuser password '${HARNESS_ROLE}'`);
    const postgresVersion = (await admin.query<{ server_version: string }>('show server_version')).rows[0].server_version;
    const silent = pino({ level: 'silent' });

    log('starting the PortOne V1 simulator');
    const sim = spawnLogged(
      [...nodeArgs(runner, 'src/gateway/portone/sim/main'), '--port', '0', '--imp-key', IMP_KEY, '--imp-secret', IMP_SECRET],
      {},
      join(dir, 'simulator.log'),
    );
    cleanups.push(stopper(sim.child));
    const simulatorUrl = (await waitForLine(sim.child, sim.read, /PortOne V1 simulator: (http:\/\/\S+)/, 'simulator'))[1];

    const common = { JWT_SECRET, PORTONE_API_URL: simulatorUrl, PORTONE_IMP_KEY: IMP_KEY, PORTONE_IMP_SECRET: IMP_SECRET, PORT: '0' };
    /** This server and the baseline, each on a database of its own (`bench_app<suffix>`, `bench_baseline<suffix>`). */
    const startPair = async (suffix: string): Promise<ServerPair> => {
      const databases = { app: `bench_app${suffix}`, baseline: `bench_baseline${suffix}` };
      for (const database of Object.values(databases)) {
        const orm = await openDatabase(`${pg.baseUrl}/${database}`, silent);
        await orm.close(true);
      }
      log(`starting this server (NODE_ENV=production) and the raw baseline${suffix ? ` on ${Object.values(databases).join(', ')}` : ''}`);
      const appProcess = spawnLogged(
        [...appNodeArgs, ...nodeArgs(runner, 'src/main')],
        {
          ...common,
          NODE_ENV: 'production',
          DATABASE_URL: `${pg.baseUrl}/${databases.app}`,
          DATA_DIR: join(dir, `app-data${suffix}`),
          // The bench's buyers and partner are few addresses doing thousands of calls: limits off, nothing else changed.
          RATE_LIMIT_ANONYMOUS_PER_IP: '0',
          RATE_LIMIT_HOLD_SEAT_PER_BUYER: '0',
          RATE_LIMIT_CONFIRM_PAYMENT_PER_BUYER: '0',
          RATE_LIMIT_WEBHOOK_PER_IP: '0',
          ...env,
        },
        join(dir, `app${suffix}.log`),
      );
      cleanups.push(stopper(appProcess.child));
      const appPort = (await waitForLine(appProcess.child, appProcess.read, /^GraphQL:\s+http:\/\/\S+:(\d+)\/graphql$/m, 'the app'))[1];
      const baselineProcess = spawnLogged(
        nodeArgs(runner, 'bench/baseline-server'),
        { ...common, DATABASE_URL: `${pg.baseUrl}/${databases.baseline}` },
        join(dir, `baseline${suffix}.log`),
      );
      cleanups.push(stopper(baselineProcess.child));
      const baselinePort = (await waitForLine(baselineProcess.child, baselineProcess.read, /baseline listening on (\d+)/, 'the baseline'))[1];
      return {
        app: { target: 'app', url: `http://127.0.0.1:${appPort}`, pid: appProcess.child.pid!, database: databases.app, stop: stopper(appProcess.child) },
        baseline: {
          target: 'baseline',
          url: `http://127.0.0.1:${baselinePort}`,
          pid: baselineProcess.child.pid!,
          database: databases.baseline,
          stop: stopper(baselineProcess.child),
        },
      };
    };
    const main = await startPair('');

    return { pg, admin, simulatorUrl, postgresVersion, ...main, startPair, stop };
  } catch (error) {
    await stop();
    throw error;
  }
}
