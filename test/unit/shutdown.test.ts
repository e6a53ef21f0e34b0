import { EventEmitter } from 'node:events';
import { Writable } from 'node:stream';
import pino from 'pino';
import { DUPLICATE_SIGNAL_WINDOW_MS, GracefulShutdown } from '../../src/shutdown';
import { workerLogFields } from '../../src/payment/adapters/payment-worker';

function harness(timeoutMs = 1000) {
  const lines: Array<{ level: number; msg: string; err?: { message: string }; step?: string }> = [];
  const sink = new Writable({
    write(chunk, _encoding, done) {
      for (const line of String(chunk).split('\n').filter(Boolean)) lines.push(JSON.parse(line));
      done();
    },
  });
  const logger = pino({ level: 'debug' }, sink);
  const signals = new EventEmitter();
  let clock = 0;
  const exits: number[] = [];
  let exited!: () => void;
  const exitedOnce = new Promise<void>((resolve) => (exited = resolve));
  const shutdown = new GracefulShutdown({
    logger,
    timeoutMs,
    process: signals,
    now: () => clock,
    exit: (code) => {
      exits.push(code);
      exited();
    },
  });
  shutdown.listen();
  return {
    shutdown,
    signals,
    lines,
    exits,
    exitedOnce,
    advance: (ms: number) => (clock += ms),
  };
}

test('steps run one after another, the last registered first, then the process exits 0', async () => {
  const h = harness();
  const order: string[] = [];
  h.shutdown.onShutdown('postgres', async () => order.push('postgres'));
  h.shutdown.onShutdown('orm', async () => order.push('orm'));
  h.shutdown.onShutdown('http', async () => {
    await new Promise((resolve) => setTimeout(resolve, 20));
    order.push('http');
  });
  h.signals.emit('SIGTERM', 'SIGTERM');
  await h.exitedOnce;
  expect(order).toEqual(['http', 'orm', 'postgres']);
  expect(h.exits).toEqual([0]);
  expect(h.lines.filter((l) => l.level >= 50)).toEqual([]);
});

test('a failing step is logged through the err serializer, the others still run, and the exit code is 1', async () => {
  const h = harness();
  const ran: string[] = [];
  h.shutdown.onShutdown('postgres', async () => ran.push('postgres'));
  h.shutdown.onShutdown('worker', async () => {
    throw Object.assign(new Error('connection terminated'), { client: { huge: 'object' } });
  });
  h.signals.emit('SIGINT', 'SIGINT');
  await h.exitedOnce;
  expect(ran).toEqual(['postgres']);
  expect(h.exits).toEqual([1]);
  const failure = h.lines.find((l) => l.level === 50)!;
  expect(failure).toMatchObject({ step: 'worker', err: { message: 'connection terminated' } });
});

test('the same signal again at once (npm forwarding Ctrl-C) is ignored; a later second signal forces a non-zero exit', async () => {
  const h = harness();
  let release!: () => void;
  h.shutdown.onShutdown('slow', () => new Promise<void>((resolve) => (release = resolve)));
  h.signals.emit('SIGINT', 'SIGINT');
  h.advance(DUPLICATE_SIGNAL_WINDOW_MS - 1);
  h.signals.emit('SIGINT', 'SIGINT');
  expect(h.exits).toEqual([]);

  h.advance(2);
  h.signals.emit('SIGINT', 'SIGINT');
  expect(h.exits).toEqual([130]);
  release();
});

test('a different signal inside the window is a second signal', () => {
  const h = harness();
  h.shutdown.onShutdown('never finishes', () => new Promise(() => undefined));
  h.signals.emit('SIGINT', 'SIGINT');
  h.signals.emit('SIGTERM', 'SIGTERM');
  expect(h.exits).toEqual([143]);
});

test('graphile-worker log metadata: errors go to `err` without the objects hung on them; live objects are left out', () => {
  const pgClient = { connection: { stream: { buffer: 'x'.repeat(1000) } }, query: () => undefined };
  const error = Object.assign(new Error('terminating connection due to administrator command'), { code: '57P01', client: pgClient });
  const fields = workerLogFields({ error, client: pgClient, attempts: 3, job: { id: '42', task_identifier: 'refund', payload: { big: true } } });
  expect(Object.keys(fields).sort()).toEqual(['attempts', 'err', 'job']);
  expect(fields.job).toEqual({ id: '42', task: 'refund' });
  const err = fields.err as Error & { code?: string; client?: unknown };
  expect(err).toBeInstanceOf(Error);
  expect(err.message).toBe(error.message);
  expect(err.code).toBe('57P01');
  expect(err.client).toBeUndefined();
});
