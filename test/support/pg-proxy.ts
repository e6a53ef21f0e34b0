import net from 'node:net';

/**
 * A TCP proxy in front of PostgreSQL that can lose the database at the worst moment: right after a
 * transaction's commit has been passed on, before its answer comes back. The transaction commits, the
 * app only sees its connection drop, and new connections are refused until `restore()` ("database still
 * down"). It reads the PostgreSQL wire bytes only to spot the statements it was armed with and, from
 * PostgreSQL's ReadyForQuery messages, whether a transaction block is open.
 */
export interface PgProxy {
  /** The database URL through the proxy. */
  url: string;
  /**
   * The commit of the next transaction that runs a statement matching `statement` is passed on, then
   * every connection is cut and the database stays unreachable until `restore()`. That commit is the
   * COMMIT that follows the statement in a transaction block, or the statement itself when it is sent
   * outside one (PostgreSQL commits it on its own). Resolves once that happened.
   */
  loseCommitOf(statement: RegExp): Promise<void>;
  restore(): void;
  close(): Promise<void>;
}

export async function startPgProxy(targetUrl: string): Promise<PgProxy> {
  const target = new URL(targetUrl);
  const targetHost = target.hostname;
  const targetPort = Number(target.port || 5432);
  let down = false;
  let armed: { statement: RegExp; fired: () => void } | null = null;
  const pairs = new Set<{ client: net.Socket; server: net.Socket }>();

  const cutEverything = () => {
    down = true;
    for (const { client, server } of pairs) {
      client.destroy();
      // Give PostgreSQL the time to read and run what it was sent before the connection goes.
      setTimeout(() => server.destroy(), 300).unref();
    }
    pairs.clear();
  };

  const proxy = net.createServer((client) => {
    if (down) {
      client.destroy();
      return;
    }
    const server = net.connect(targetPort, targetHost);
    const pair = { client, server };
    pairs.add(pair);
    let sawStatement = false;
    // The transaction status of the last ReadyForQuery ('Z', length 5, then I idle / T in a block / E failed block).
    let inBlock = false;
    const fire = () => {
      const fired = armed!.fired;
      armed = null;
      cutEverything();
      fired();
    };
    client.on('data', (chunk: Buffer) => {
      const text = chunk.toString('latin1');
      const matches = armed !== null && armed.statement.test(text);
      server.write(chunk);
      if (matches && !inBlock) fire();
      else if (matches) sawStatement = true;
      else if (armed && sawStatement && /\bcommit\b/i.test(text)) fire();
    });
    server.on('data', (chunk: Buffer) => {
      const ready = chunk.toString('latin1').match(/Z\0\0\0\x05([ITE])(?![\s\S]*Z\0\0\0\x05[ITE])/);
      if (ready) inBlock = ready[1] !== 'I';
      if (!client.destroyed) client.write(chunk);
    });
    const end = () => {
      pairs.delete(pair);
      client.destroy();
      server.destroy();
    };
    client.on('close', end);
    server.on('close', end);
    client.on('error', () => undefined);
    server.on('error', () => undefined);
  });
  await new Promise<void>((resolve) => proxy.listen(0, '127.0.0.1', resolve));
  const port = (proxy.address() as net.AddressInfo).port;
  const url = new URL(targetUrl);
  url.hostname = '127.0.0.1';
  url.port = String(port);

  return {
    url: url.toString(),
    loseCommitOf(statement) {
      return new Promise<void>((resolve) => {
        armed = { statement, fired: resolve };
      });
    },
    restore() {
      down = false;
    },
    async close() {
      cutEverything();
      await new Promise<void>((resolve) => proxy.close(() => resolve()));
    },
  };
}
