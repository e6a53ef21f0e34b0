import { randomUUID } from 'node:crypto';
import { scheduleRefundAttempt, scheduleRefundLookAgain } from '../../../src/payment/refunds/refund-queue';
import { startTestApp, type TestApp } from '../../support/test-app';

/**
 * A refund job that finds another attempt holding the lease schedules a look at the lease's end. If
 * that attempt has meanwhile scheduled its next try, the look must not push it back: it did once, and
 * a refund that should have been retried in 100 ms waited out the whole lease (a minute in production).
 */
describe('refund job scheduling', () => {
  let t: TestApp;
  beforeAll(async () => {
    t = await startTestApp();
  });
  afterAll(async () => {
    await t?.close();
  });

  const runAt = async (refundId: string): Promise<Date[]> => {
    const rows = await t.orm.em
      .fork()
      .getConnection()
      .execute<{ run_at: Date }[]>(`select run_at from graphile_worker.jobs where key = ?`, [`refund:${refundId}`]);
    return rows.map((row) => new Date(row.run_at));
  };

  test('a look-again keeps the sooner try an attempt already scheduled', async () => {
    const refundId = randomUUID();
    const soon = new Date(Date.now() + 3_600_000);
    const leaseEnd = new Date(Date.now() + 7_200_000);
    await t.orm.em.fork().transactional((tx) => scheduleRefundAttempt(tx, refundId, soon));
    await t.orm.em.fork().transactional((tx) => scheduleRefundLookAgain(tx, refundId, leaseEnd));
    expect(await runAt(refundId)).toEqual([soon]);
  });

  test('a look-again with nothing waiting schedules the look', async () => {
    const refundId = randomUUID();
    const leaseEnd = new Date(Date.now() + 7_200_000);
    await t.orm.em.fork().transactional((tx) => scheduleRefundLookAgain(tx, refundId, leaseEnd));
    expect(await runAt(refundId)).toEqual([leaseEnd]);
  });

  test('an attempt scheduling its next try moves the waiting job', async () => {
    const refundId = randomUUID();
    const first = new Date(Date.now() + 7_200_000);
    const next = new Date(Date.now() + 3_600_000);
    await t.orm.em.fork().transactional((tx) => scheduleRefundAttempt(tx, refundId, first));
    await t.orm.em.fork().transactional((tx) => scheduleRefundAttempt(tx, refundId, next));
    expect(await runAt(refundId)).toEqual([next]);
  });
});
