import { spawn, type ChildProcess } from 'node:child_process';
import fetch from 'node-fetch';

/**
 * One API server (`src/main.ts`, as `npm start` runs it) as a child process on a fixed port, so that
 * it can be SIGKILLed at any instruction and started again at the same address (PortOne's notification
 * URL and the clients keep pointing at it).
 */
export class ServerInstance {
  private child: ChildProcess | null = null;
  private exited: Promise<void> = Promise.resolve();
  private tail = '';
  up = false;
  starts = 0;
  kills = 0;

  constructor(
    readonly name: string,
    readonly port: number,
    private readonly env: Record<string, string>,
    private readonly cwd: string,
  ) {}

  get url(): string {
    return `http://127.0.0.1:${this.port}`;
  }

  /** The last lines the process wrote (bounded: thousands of payments must not fill memory). */
  output(): string {
    return this.tail;
  }

  async start(timeoutMs = 90_000): Promise<void> {
    const child = spawn(process.execPath, ['-r', 'ts-node/register/transpile-only', 'src/main.ts'], {
      cwd: this.cwd,
      env: { ...process.env, NODE_ENV: 'test', LOG_LEVEL: 'warn', ...this.env, PORT: String(this.port), HOST: '127.0.0.1' },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    this.child = child;
    this.starts += 1;
    const keep = (chunk: Buffer) => {
      this.tail = (this.tail + chunk.toString()).slice(-20_000);
    };
    child.stdout?.on('data', keep);
    child.stderr?.on('data', keep);
    this.exited = new Promise((resolve) =>
      child.on('exit', () => {
        this.up = false;
        resolve();
      }),
    );
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      if (child.exitCode !== null || child.signalCode !== null) throw new Error(`${this.name} exited while starting:\n${this.tail}`);
      try {
        const response = await fetch(`${this.url}/readyz`, { timeout: 1000 });
        if (response.ok) break;
      } catch {
        // not listening yet
      }
      if (Date.now() > deadline) {
        child.kill('SIGKILL');
        throw new Error(`${this.name} did not become ready within ${timeoutMs} ms:\n${this.tail}`);
      }
      await new Promise((resolve) => setTimeout(resolve, 150));
    }
    this.up = true;
  }

  /** SIGKILL: no shutdown hook runs, in-flight requests and jobs die with the process. */
  async kill(): Promise<void> {
    if (!this.child || this.child.exitCode !== null || this.child.signalCode !== null) return;
    this.up = false;
    this.kills += 1;
    this.child.kill('SIGKILL');
    await this.exited;
  }

  async stop(): Promise<void> {
    if (!this.child || this.child.exitCode !== null || this.child.signalCode !== null) return;
    this.up = false;
    this.child.kill('SIGTERM');
    const timer = setTimeout(() => this.child?.kill('SIGKILL'), 10_000);
    await this.exited;
    clearTimeout(timer);
  }
}
