import { Client } from 'pg';

/**
 * Every statement this process sends to PostgreSQL while a capture runs, one entry per round trip
 * (`BEGIN`, `COMMIT`, `ROLLBACK` and `SAVEPOINT` included), as the wire saw them: MikroORM's query
 * builder, `em.execute`, knex's transaction statements and graphile-worker's own pool all end in
 * `pg.Client#query`, which is where this listens. Nothing is stubbed: the statements still run.
 */
export interface StatementCapture {
  /** The statements captured so far, in the order they were sent. */
  readonly statements: string[];
  /** Stops listening and returns what was captured. */
  stop(): string[];
}

export interface StatementCaptureOptions {
  /** Only statements on connections to this database (default: every database). */
  database?: string;
  /**
   * Statements to leave out, e.g. graphile-worker's polling when a worker runs in the process
   * (`/graphile_worker/` minus `add_job`). Simplest is to build the app with `startWorker: false`.
   */
  exclude?: (sql: string) => boolean;
}

let active = 0;
const listeners = new Set<(client: Client, sql: string) => void>();
let original: Client['query'] | null = null;

/**
 * Starts capturing. Usage:
 * ```ts
 * const capture = captureStatements({ database: t.orm.config.get('dbName') });
 * await t.gql(HoldSeatDocument, { input: { seatId } }, { token });
 * expect(capture.stop()).toHaveLength(5);
 * ```
 * Captures may overlap; each sees the statements sent while it runs. Always `stop()` (in `finally`).
 */
export function captureStatements(options: StatementCaptureOptions = {}): StatementCapture {
  const statements: string[] = [];
  const listener = (client: Client, sql: string) => {
    if (options.database !== undefined && client.database !== options.database) return;
    if (options.exclude?.(sql)) return;
    statements.push(sql);
  };
  if (active++ === 0) install();
  listeners.add(listener);
  let stopped = false;
  return {
    statements,
    stop() {
      if (!stopped) {
        stopped = true;
        listeners.delete(listener);
        if (--active === 0) uninstall();
      }
      return [...statements];
    },
  };
}

/** graphile-worker's own housekeeping (polling, locks), not the work of the call; adding or removing a job is kept. */
export const isJobQueuePolling = (sql: string): boolean => /graphile_worker/i.test(sql) && !/add_job|remove_job/i.test(sql);

function install(): void {
  original = Client.prototype.query;
  const passThrough = original;
  // The overloads of Client#query cannot be restated generically; the call is forwarded untouched.
  Client.prototype.query = function query(this: Client, ...args: unknown[]) {
    const config = args[0] as string | { text?: string } | null | undefined;
    const sql = typeof config === 'string' ? config : (config?.text ?? '');
    for (const listener of listeners) listener(this, sql.trim());
    return (passThrough as (...a: unknown[]) => unknown).apply(this, args);
  } as Client['query'];
}

function uninstall(): void {
  if (original) Client.prototype.query = original;
  original = null;
}
