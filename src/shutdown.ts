import { constants } from 'node:os';
import type { Logger } from 'pino';

/**
 * A repeat of the first signal this soon after it is the same request delivered twice, not a second one:
 * on Ctrl-C under `npm start` the terminal sends SIGINT to the whole foreground process group (npm and
 * node) and npm then forwards its own copy to node.
 */
export const DUPLICATE_SIGNAL_WINDOW_MS = 500;
/** How long the steps after the drain (closing the database, stopping PostgreSQL) may take in all. */
const AFTER_DRAIN_BUDGET_MS = 30_000;

type Exit = (code: number) => void;

/**
 * The process's orderly exit on SIGINT and SIGTERM: the steps registered with `onShutdown` run one after
 * another, the last registered first (resources are registered as they are created, so PostgreSQL,
 * created first, stops last), and the process exits 0. A step that fails is logged and the next one
 * still runs; the exit code is then 1. A second signal, or a shutdown that outlives its budget, exits
 * at once with a non-zero code.
 *
 * Hand-written rather than `close-with-grace`: that library exits 1 on the second signal it sees,
 * which under `npm start` is the copy of the first Ctrl-C that npm forwards (see above).
 */
export class GracefulShutdown {
  private readonly steps: Array<{ name: string; run: () => Promise<unknown> }> = [];
  private first: { signal: NodeJS.Signals; at: number } | null = null;
  private running: Promise<void> | null = null;
  private readonly exit: Exit;
  private readonly now: () => number;
  private readonly signals: NodeJS.Signals[] = ['SIGINT', 'SIGTERM'];

  constructor(
    private readonly options: {
      logger: Logger;
      /** SHUTDOWN_TIMEOUT_MS: the bound on draining requests and jobs; the whole shutdown gets this plus a margin. */
      timeoutMs: number;
      exit?: Exit;
      now?: () => number;
      process?: NodeJS.EventEmitter;
    },
  ) {
    this.exit = options.exit ?? ((code) => process.exit(code));
    this.now = options.now ?? Date.now;
  }

  /** Registers a step; the last one registered runs first. */
  onShutdown(name: string, run: () => Promise<unknown>): void {
    this.steps.push({ name, run });
  }

  /** From now on SIGINT and SIGTERM shut the process down. Call it before creating anything to clean up. */
  listen(): void {
    const target = this.options.process ?? process;
    for (const signal of this.signals) target.on(signal, this.onSignal);
  }

  readonly onSignal = (signal: NodeJS.Signals): void => {
    const { logger } = this.options;
    if (this.first === null) {
      this.first = { signal, at: this.now() };
      logger.info({ signal }, 'shutting down: no new connections; in-flight requests and jobs may finish');
      void this.run(0);
      return;
    }
    if (signal === this.first.signal && this.now() - this.first.at < DUPLICATE_SIGNAL_WINDOW_MS) {
      logger.debug({ signal }, 'the same signal again at once (npm forwards what the terminal already sent): ignored');
      return;
    }
    logger.warn({ signal }, 'second signal: exiting now, without finishing the shutdown');
    this.exit(128 + (constants.signals[signal] ?? 0));
  };

  /** Runs every step and exits with `exitCode` (1 if a step fails). Also used when startup fails. */
  run(exitCode: number): Promise<void> {
    this.running ??= this.runSteps(exitCode);
    return this.running;
  }

  private async runSteps(exitCode: number): Promise<void> {
    const { logger } = this.options;
    const watchdog = setTimeout(() => {
      logger.warn({ timeoutMs: this.options.timeoutMs + AFTER_DRAIN_BUDGET_MS }, 'shutdown took too long: exiting now');
      this.exit(1);
    }, this.options.timeoutMs + AFTER_DRAIN_BUDGET_MS);
    watchdog.unref();
    let code = exitCode;
    for (const step of [...this.steps].reverse()) {
      const startedAt = this.now();
      try {
        await step.run();
        logger.debug({ step: step.name, ms: this.now() - startedAt }, 'shutdown step done');
      } catch (error) {
        logger.error({ err: error, step: step.name }, 'shutdown step failed');
        code = code || 1;
      }
    }
    clearTimeout(watchdog);
    logger.info({ exitCode: code }, 'shutdown complete');
    this.exit(code);
  }
}

/**
 * Waits for `work` until `deadline` (epoch ms). True when it finished in time (a rejection is logged as
 * a warning: the shutdown goes on), false when the deadline came first.
 */
export async function finishesBy(work: Promise<unknown>, deadline: number, logger: Logger, what: string): Promise<boolean> {
  let timer: NodeJS.Timeout | undefined;
  const timedOut = new Promise<'timeout'>((resolve) => {
    timer = setTimeout(() => resolve('timeout'), Math.max(0, deadline - Date.now()));
  });
  const settled = work.then(
    () => 'done' as const,
    (error: unknown) => {
      logger.warn({ err: error }, `${what} failed while shutting down`);
      return 'done' as const;
    },
  );
  const outcome = await Promise.race([settled, timedOut]);
  clearTimeout(timer);
  return outcome === 'done';
}
