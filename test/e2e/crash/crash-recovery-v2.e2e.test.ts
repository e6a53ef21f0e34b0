import { ConfirmPaymentDocument } from '../../generated/graphql';
import { expectMoneyInvariantsV2 } from '../../support/money-invariants-portone-v2';
import {
  CRASH_TEST_RECONCILE_INTERVAL_MS,
  crashTestServerEnv,
  gqlOverHttp,
  holdOneSeatOverHttp,
  startServerProcess,
  type ServerProcess,
} from '../../support/server-process';
import { useSimulatorHarnessV2 } from '../../support/simulator-harness-v2';
import { useTestDatabase } from '../../support/test-database';
import { eventually } from '../../support/wait';

/**
 * crash-recovery.e2e.test.ts with PORTONE_VERSION=v2: a process is SIGKILLed at each failpoint of the
 * payment path, and after a restart the V2 sweep settles every payment: it backs one confirmed booking or
 * is cancelled exactly once. To keep CI time down, the four crashing processes start together (each one
 * takes one payment through to its failpoint, one after the other) and one restart recovers them all.
 */
const orm = useTestDatabase();
const v2 = useSimulatorHarnessV2();

/** Ordered so that no crashed flow leaves work (a queued refund) a later, still armed process could pick up. */
const CASES: Array<[failpoint: string, amountDelta: number]> = [
  ['after-gateway-read', 0],
  ['before-decision-commit', -1000],
  ['after-decision-commit', 0],
  ['after-cancel-sent', -1000],
];

test('V2: killed at each failpoint, one restart recovers every payment (kept ones never cancelled, others cancelled once)', async () => {
  // The armed processes do not sweep (one-hour interval): a sweep could take another case's payment to its failpoint.
  const crashing = await Promise.all(
    CASES.map(([failpoint]) => startServerProcess(crashTestServerEnv(v2, { failpoints: `${failpoint}=kill`, reconcileIntervalMs: 3_600_000 }))),
  );
  let recovery: ServerProcess | null = null;
  try {
    const payments: string[] = [];
    for (const [index, [failpoint, amountDelta]] of CASES.entries()) {
      const server = crashing[index];
      const { reservation, buyerToken } = await holdOneSeatOverHttp(server, { title: `Crash at ${failpoint}`, buyerId: 'crash-buyer' });
      // V2: the window is opened with paymentId = reservation.merchantUid.
      const paymentId = await v2.pay({ merchantUid: reservation.merchantUid, amount: reservation.amount + amountDelta });
      payments.push(paymentId);
      await gqlOverHttp(server, ConfirmPaymentDocument, { input: { reservationId: reservation.id, paymentId, merchantUid: reservation.merchantUid } }, buyerToken).catch(
        () => undefined,
      );
      await server.exited;
      expect([failpoint, server.child.signalCode]).toEqual([failpoint, 'SIGKILL']);
    }
    // The armed processes scheduled the next sweep an hour away; the restarted one sweeps now.
    await orm.em.getConnection().execute(`delete from graphile_worker._private_jobs where key = 'reconcile'`);
    recovery = await startServerProcess(crashTestServerEnv(v2));
    await eventually(() => expectMoneyInvariantsV2({ orm, v2 }), CRASH_TEST_RECONCILE_INTERVAL_MS * 15 + 25000);
    for (const [index, [failpoint, amountDelta]] of CASES.entries()) {
      const cancels = await v2.cancelRequests(payments[index]);
      expect([failpoint, cancels.filter((c) => c.applied).length]).toEqual([failpoint, amountDelta === 0 ? 0 : 1]);
      // Every cancel of the one refund, before and after the crash, carried the same Idempotency-Key.
      expect(new Set(cancels.map((c) => c.idempotencyKey)).size).toBeLessThanOrEqual(1);
    }
  } finally {
    for (const server of crashing) await server.kill();
    await recovery?.kill();
  }
});
