import { ConfirmPaymentDocument, HoldSeatDocument } from '../../generated/graphql';
import { createEventViaApi } from '../../support/fixtures';
import { captureStatements, isJobQueuePolling } from '../../support/sql-statements';
import { expectMember } from '../../support/expect-member';
import { useTestApp } from '../../support/test-app';

/**
 * The SQL one confirmPayment costs, counted (deterministic, unlike a time): a kept confirm is at most 7
 * statements and writes its decision atomically (in one transaction, or in one statement, which is its
 * own), a refunded one at most 12 including the cancel's recording. The job queue's own polling is not
 * ours to count: the worker does not run here.
 */
const t = useTestApp({ startWorker: false });

async function holdAndPay(extra: number) {
  const event = await createEventViaApi(t, [{ label: 'A1', price: 50000 }]);
  const token = await t.tokenFor('buyer-statements');
  const hold = (await t.gql(HoldSeatDocument, { input: { seatId: event.seats[0].id } }, { token })).data!.holdSeat;
  const paymentId = await t.simulator.pay({ merchantUid: hold.merchantUid, amount: hold.amount + extra });
  return { token, input: { reservationId: hold.id, paymentId, merchantUid: hold.merchantUid } };
}

/** The statements (BEGIN and COMMIT included) the app sends to its database while `work` runs. */
async function recordStatements<T>(work: () => Promise<T>): Promise<{ result: T; statements: string[]; transactions: number }> {
  const capture = captureStatements({ database: t.orm.config.get('dbName'), exclude: isJobQueuePolling });
  try {
    const result = await work();
    const statements = capture.stop();
    return { result, statements, transactions: statements.filter((sql) => /^begin\b/i.test(sql)).length };
  } finally {
    capture.stop();
  }
}

const writes = (sql: string) => /\b(insert|update|delete)\b/i.test(sql);

/**
 * How many atomic units wrote something: each BEGIN…COMMIT block that writes, plus each writing
 * statement sent outside one (PostgreSQL runs it as a transaction of its own).
 */
function writingTransactions(statements: string[]): number {
  let units = 0;
  let inBlock = false;
  let blockWrites = false;
  for (const sql of statements) {
    if (/^begin\b/i.test(sql)) [inBlock, blockWrites] = [true, false];
    else if (/^(commit|rollback)\b/i.test(sql)) {
      if (blockWrites) units += 1;
      inBlock = false;
    } else if (writes(sql)) {
      if (inBlock) blockWrites = true;
      else units += 1;
    }
  }
  return units;
}

function explain(log: { statements: string[] }): string {
  const listing = log.statements.map((sql, i) => `${i + 1}. ${sql.replace(/\s+/g, ' ').slice(0, 160)}`).join('\n');
  if (process.env.SHOW_SQL) process.stdout.write(`${listing}\n\n`);
  return listing;
}

test('a kept confirm runs at most 7 statements and writes in one transaction', async () => {
  const { token, input } = await holdAndPay(0);
  const log = await recordStatements(() => t.gql(ConfirmPaymentDocument, { input }, { token }));
  expectMember(log.result.data?.confirmPayment, 'PaymentConfirmed');
  expect(log.transactions).toBeLessThanOrEqual(1);
  expect(writingTransactions(log.statements)).toBe(1);
  explain(log);
  if (log.statements.length > 7) throw new Error(`a kept confirm ran ${log.statements.length} statements:\n${explain(log)}`);
});

test('a refunded confirm runs at most 12 statements, the cancel and its recording included', async () => {
  const { token, input } = await holdAndPay(1000);
  const log = await recordStatements(() => t.gql(ConfirmPaymentDocument, { input }, { token }));
  expect(expectMember(log.result.data?.confirmPayment, 'PaymentRefunded').refund.status).toBe('SUCCEEDED');
  expect((await t.simulator.cancelRequests(input.paymentId)).filter((c) => c.applied)).toHaveLength(1);
  explain(log);
  if (log.statements.length > 12) throw new Error(`a refunded confirm ran ${log.statements.length} statements:\n${explain(log)}`);
});
