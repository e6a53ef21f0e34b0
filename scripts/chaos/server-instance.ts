import { spawn, type ChildProcess } from 'node:child_process';
import { createConnection, createServer, type AddressInfo, type Server, type Socket } from 'node:net';
import fetch from 'node-fetch';

/**
 * One API server (`src/main.ts`, as `npm start` runs it) as a child process that can be SIGKILLed at any
 * instruction and started again at the same address (PortOne's notification URL and the clients keep
 * pointing at it).
 *
 * The address is a front this process listens on (port 0) for the whole run, forwarding TCP connections to
 * whichever child is alive. The children bind port 0 and report their port. A fixed port picked up front,
 * freed and re-bound after every kill could be taken by another process meanwhile (EADDRINUSE); the front's
 * port is never released while the run lasts.
 */
export class ServerInstance {
  private child: ChildProcess | null = null;
  /** Where the front forwards; null while no child is serving (killed, exited or not yet listening). */
  private childPort: number | null = null;
  private exited: Promise<void> = Promise.resolve();
  private tail = '';
  /** Every connection through the front, to cut them at once when the run ends. */
  private readonly sockets = new Set<Socket>();
  up = false;
  starts = 0;
  kills = 0;

  private constructor(
    readonly name: string,
    private readonly front: Server,
    readonly port: number,
    private readonly env: Record<string, string>,
    private readonly cwd: string,
  ) {}

  /** Listens on the front; no child runs until start(). */
  static async open(name: string, env: Record<string, string>, cwd: string): Promise<ServerInstance> {
    const front = createServer();
    await new Promise<void>((resolve, reject) => {
      front.once('error', reject);
      front.listen(0, '127.0.0.1', () => resolve());
    });
    const instance = new ServerInstance(name, front, (front.address() as AddressInfo).port, env, cwd);
    front.on('connection', (client) => instance.forward(client));
    return instance;
  }

  get url(): string {
    return `http://127.0.0.1:${this.port}`;
  }

  /**
   * While no child serves, a connection is reset at once, as close as a front can get to a dead server's
   * refused connection: the clients' retries and PortOne's failed webhooks behave as they would against one.
   */
  private forward(client: Socket): void {
    this.track(client);
    if (this.childPort === null) {
      client.resetAndDestroy();
      return;
    }
    const upstream = this.track(createConnection({ port: this.childPort, host: '127.0.0.1' }));
    // A child killed mid-request drops its connections; the client sees its connection cut as it would then.
    const cut = () => {
      if (!client.destroyed) client.resetAndDestroy();
      upstream.destroy();
    };
    upstream.on('error', cut);
    // A client gone (or reset) has nobody to answer: do not keep the child's side open.
    client.on('error', () => upstream.destroy());
    client.on('close', () => upstream.destroy());
    client.pipe(upstream);
    upstream.pipe(client);
  }

  private track(socket: Socket): Socket {
    this.sockets.add(socket);
    socket.on('close', () => this.sockets.delete(socket));
    return socket;
  }

  /** The last lines the process wrote (bounded: thousands of payments must not fill memory). */
  output(): string {
    return this.tail;
  }

  async start(timeoutMs = 90_000): Promise<void> {
    const child = spawn(process.execPath, ['-r', 'ts-node/register/transpile-only', 'src/main.ts'], {
      cwd: this.cwd,
      env: { ...process.env, NODE_ENV: 'test', LOG_LEVEL: 'warn', ...this.env, PORT: '0', HOST: '127.0.0.1' },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    this.child = child;
    this.starts += 1;
    // This child's own output until it reports its port: the tail may still hold a killed child's line.
    let startup = '';
    let port: number | null = null;
    const keep = (chunk: Buffer) => {
      this.tail = (this.tail + chunk.toString()).slice(-20_000);
      if (port === null) startup += chunk.toString();
    };
    child.stdout?.on('data', keep);
    child.stderr?.on('data', keep);
    this.exited = new Promise((resolve) =>
      child.on('exit', () => {
        this.up = false;
        if (this.child === child) this.childPort = null;
        resolve();
      }),
    );
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      if (child.exitCode !== null || child.signalCode !== null) throw new Error(`${this.name} exited while starting:\n${this.tail}`);
      // Printed once the server listens (src/main.ts).
      const reported = /^GraphQL:\s+http:\/\/\S+:(\d+)\/graphql$/m.exec(startup)?.[1];
      if (port === null && reported) {
        port = Number(reported);
        this.childPort = port;
      }
      try {
        const response = port === null ? null : await fetch(`${this.url}/readyz`, { timeout: 1000 });
        if (response?.ok) break;
      } catch {
        // not ready yet
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
    this.childPort = null;
    this.kills += 1;
    this.child.kill('SIGKILL');
    await this.exited;
  }

  /** Stops the child (SIGTERM, SIGKILL after 10 s) and closes the front. */
  async stop(): Promise<void> {
    if (this.child && this.child.exitCode === null && this.child.signalCode === null) {
      this.up = false;
      this.child.kill('SIGTERM');
      const timer = setTimeout(() => this.child?.kill('SIGKILL'), 10_000);
      await this.exited;
      clearTimeout(timer);
    }
    this.childPort = null;
    for (const socket of this.sockets) socket.destroy();
    await new Promise<void>((resolve) => this.front.close(() => resolve()));
  }
}
