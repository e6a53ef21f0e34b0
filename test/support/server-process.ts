import { spawn, type ChildProcess } from 'node:child_process';
import fetch from 'node-fetch';
import { findFreePort } from '../../src/free-port';

export interface ServerProcess {
  url: string;
  child: ChildProcess;
  output(): string;
  /** Resolves when the process has exited (by itself, or killed). */
  exited: Promise<number | null>;
  kill(signal?: NodeJS.Signals): Promise<void>;
}

/**
 * Runs `src/main.ts` as a real child process, the way `npm start` does, so a test can SIGKILL it at any
 * instruction and start it again against the same database.
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
  const port = await findFreePort();
  const [command, args] =
    options.via === 'npm-start'
      ? ['npm', ['start']]
      : [process.execPath, ['-r', 'ts-node/register/transpile-only', 'src/main.ts']];
  const child = spawn(command, args, {
    cwd: process.cwd(),
    env: { ...process.env, NODE_ENV: 'test', LOG_LEVEL: 'info', PORT: String(port), ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
    detached: options.via === 'npm-start',
  });
  let output = '';
  child.stdout?.on('data', (chunk) => (output += chunk));
  child.stderr?.on('data', (chunk) => (output += chunk));
  const exited = new Promise<number | null>((resolve) => child.on('exit', (code) => resolve(code)));
  const url = `http://127.0.0.1:${port}`;
  const deadline = Date.now() + 60_000;
  for (;;) {
    if (child.exitCode !== null) throw new Error(`server exited early:\n${output}`);
    try {
      const response = await fetch(`${url}/readyz`);
      if (response.ok) break;
    } catch {
      // not listening yet
    }
    if (Date.now() > deadline) {
      child.kill('SIGKILL');
      throw new Error(`server did not become ready:\n${output}`);
    }
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
  return {
    url,
    child,
    output: () => output,
    exited,
    async kill(signal = 'SIGKILL') {
      if (child.exitCode === null && child.signalCode === null) child.kill(signal);
      await exited;
    },
  };
}
