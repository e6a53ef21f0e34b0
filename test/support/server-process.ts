import { spawn, type ChildProcess } from 'node:child_process';
import fetch from 'node-fetch';

export interface ServerProcess {
  url: string;
  /** The built-in PortOne simulator's URL when the server started one (no PORTONE_API_URL). */
  simulatorUrl: string | null;
  child: ChildProcess;
  output(): string;
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
  child.stdout?.on('data', (chunk) => (output += chunk));
  child.stderr?.on('data', (chunk) => (output += chunk));
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
    exited,
    async kill(signal = 'SIGKILL') {
      if (child.exitCode === null && child.signalCode === null) child.kill(signal);
      await exited;
    },
  };
}
