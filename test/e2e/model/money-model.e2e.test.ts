import fc from 'fast-check';
import { formatViolations, type Violation } from '../../support/money-invariants-v2';
import { ADMIN, HoldCommand, moneyCommands, storyExamples, type MoneyModel, type MoneyReal } from '../../support/model/money-commands';
import { ModelSystem } from '../../support/model/model-system';

/**
 * Model-based test of the money guarantee (issue 10, MONEY-SPEC): random histories of buyers, PortOne,
 * admins, the clock, faults and crashes against the real app, real PostgreSQL and the PortOne simulator
 * over HTTP. After each history faults stop, the system drains (reconciliation and the refund queue until
 * quiet, bounded) and I1–I5 plus "never cancel what is not ours" are checked against the database and the
 * simulator's ledger.
 *
 * CI: fixed seed, 50 histories. On demand: FC_RUNS=5000, FC_SEED=<n> or FC_SEED=random, FC_PATH=<path>
 * to replay one counterexample, MODEL_FOCUS=<violation class> to shrink towards one class only,
 * MODEL_TRACE=1 to print every history's trace.
 */
const RUNS = Number(process.env.FC_RUNS ?? 50);
const SEED = process.env.FC_SEED === 'random' ? Date.now() ^ (Math.random() * 0x100000000) : Number(process.env.FC_SEED ?? 20261125);
const PATH = process.env.FC_PATH;
const FOCUS = process.env.MODEL_FOCUS;
const MAX_COMMANDS = Number(process.env.MODEL_MAX_COMMANDS ?? 12);
/** Exploration: never fail, print the shortest history seen for each violation class at the end. */
const COLLECT = process.env.MODEL_COLLECT === '1';
const collected = new Map<string, { trace: string[]; detail: string; partialCancelStatus: string }>();
// A guard against a hung history, not a budget: running out of time fails the test (the issue asks for all
// 50 histories in CI, and a run cut short would pass having checked fewer).
const TIME_LIMIT_MS = Number(process.env.MODEL_TIME_LIMIT_MS ?? Math.max(420_000, RUNS * 4_000));

jest.setTimeout(TIME_LIMIT_MS + 120_000);

let system: ModelSystem;

beforeAll(async () => {
  system = await ModelSystem.start();
});
afterAll(async () => {
  await system?.close();
});

const CREATE_EVENT = `mutation CreateEvent($input: CreateEventInput!) { createEvent(input: $input) { id seats { id label } } }`;

test(`money model: the issue's stories and ${RUNS} random histories keep I1–I5 (seed ${SEED})`, async () => {
  let histories = 0;
  const started = Date.now();
  await fc.assert(
    fc.asyncProperty(fc.tuple(fc.constantFrom<'paid' | 'cancelled'>('paid', 'cancelled'), moneyCommands(MAX_COMMANDS)), async ([partialCancelStatus, commands]) => {
      histories += 1;
      await system.resetForHistory(partialCancelStatus);
      const admin = await system.token(ADMIN, ['admin']);
      const created = await system.gql(
        CREATE_EVENT,
        {
          input: {
            title: 'Model concert',
            startsAt: new Date(system.clock.now().getTime() + 30 * 86400_000).toISOString(),
            seats: [
              { label: 'A1', price: 20000 },
              { label: 'A2', price: 30000 },
            ],
          },
        },
        admin,
      );
      if (!created.data) throw new Error(`createEvent failed: ${JSON.stringify(created.errors)}`);
      const real: MoneyReal = { system, seats: created.data.createEvent.seats, findings: [], failpointUsed: false, trace: [] };
      const model: MoneyModel = { reservations: [], payments: [] };
      // Every history starts with one hold, so that payments have something to be for.
      await new HoldCommand(0, 0).run(model, real);
      await fc.asyncModelRun(() => ({ model, real }), commands);

      await system.drain();
      const violations: Violation[] = [...(await system.check({ allowPending: false })), ...real.findings];
      if (!real.failpointUsed) {
        const internal: Array<{ gateway_payment_id: string }> = await system.orm.em
          .getConnection()
          .execute(`select gateway_payment_id from refund where reason = 'INTERNAL_ERROR'`);
        for (const row of internal) {
          violations.push({ class: 'INTERNAL-ERROR-REFUND' as Violation['class'], gatewayPaymentId: row.gateway_payment_id, detail: 'refunded INTERNAL_ERROR with no fault of the database or a failpoint' });
        }
      }
      const relevant = FOCUS ? violations.filter((v) => v.class === FOCUS) : violations;
      if (process.env.MODEL_TRACE) process.stdout.write(`history ${histories} (partial cancel → ${partialCancelStatus}):\n  ${real.trace.join('\n  ')}\n  => ${violations.map((v) => v.class).join(', ') || 'ok'}\n`);
      if (COLLECT) {
        for (const v of relevant) {
          const known = collected.get(v.class);
          if (!known || known.trace.length > real.trace.length) collected.set(v.class, { trace: real.trace, detail: v.detail, partialCancelStatus });
        }
        return;
      }
      if (relevant.length > 0) {
        throw new Error(
          `money invariants violated after the history (partial cancel status "${partialCancelStatus}"):\n${formatViolations(relevant)}\n` +
            `trace:\n  ${real.trace.join('\n  ')}`,
        );
      }
    }),
    {
      // The stories run first and on top of the random histories.
      numRuns: RUNS + storyExamples().length,
      examples: storyExamples() as never,
      seed: SEED,
      path: PATH,
      endOnFailure: PATH !== undefined,
      interruptAfterTimeLimit: TIME_LIMIT_MS,
      markInterruptAsFailure: true,
      verbose: 1,
    },
  );
  for (const [cls, found] of collected) {
    process.stdout.write(`\n== ${cls}: ${found.detail}\n  (partial cancel → ${found.partialCancelStatus})\n  ${found.trace.join('\n  ')}\n`);
  }
  process.stdout.write(`money model: ${histories} histories in ${((Date.now() - started) / 1000).toFixed(1)} s (seed ${SEED})\n`);
  if (PATH === undefined) expect(histories).toBeGreaterThanOrEqual(RUNS + storyExamples().length);
});
