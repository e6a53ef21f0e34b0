/** What a test file does around something it starts once (an app, a simulator, a database). */
export interface StartedLifecycle<T> {
  close(started: T): Promise<unknown>;
  /** Before each test: back to an empty state. */
  reset?(started: T): Promise<unknown>;
  /** After each test: a check every test must pass (the money invariants, say). */
  afterEachTest?(started: T): Promise<unknown>;
}

/**
 * Registers the jest hooks around something a test file (or `describe`) starts once: `start` before the
 * first test, `reset` before each, `afterEachTest` after each, `close` after the last. Returns a stand-in
 * for what started, usable at module level inside tests and in hooks registered after this call.
 */
export function useStarted<T extends object>(what: string, start: () => Promise<T>, lifecycle: StartedLifecycle<T>): T {
  let started: T | null = null;
  const current = (): T => {
    if (!started) throw new Error(`${what} is used before it started (use it inside a test or a hook registered after it)`);
    return started;
  };
  beforeAll(async () => {
    started = await start();
  });
  afterAll(async () => {
    if (started) await lifecycle.close(started);
  });
  const { reset, afterEachTest } = lifecycle;
  if (reset) beforeEach(async () => void (await reset(current())));
  if (afterEachTest) afterEach(async () => void (await afterEachTest(current())));
  return standIn(current);
}

/**
 * An object that forwards every read and write to `current()` (methods bound to it), so a file can name
 * at module level what only exists once its `beforeAll` has run.
 */
export function standIn<T extends object>(current: () => T): T {
  return new Proxy({} as T, {
    get(_target, key) {
      const target = current();
      const value: unknown = Reflect.get(target, key);
      return typeof value === 'function' ? value.bind(target) : value;
    },
    set(_target, key, value) {
      return Reflect.set(current(), key, value);
    },
    has(_target, key) {
      return Reflect.has(current(), key);
    },
  });
}
