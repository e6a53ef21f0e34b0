import { ConfirmPaymentDocument } from '../../generated/graphql';
import { expectMoneyInvariants } from '../../support/money-invariants';
import {
  CRASH_TEST_RECONCILE_INTERVAL_MS,
  crashTestServerEnv,
  gqlOverHttp,
  holdOneSeatOverHttp,
  startServerProcess,
} from '../../support/server-process';
import { useSimulatorHarness } from '../../support/simulator-harness';
import { useTestDatabase } from '../../support/test-database';
import { eventually } from '../../support/wait';

/**
 * The process is SIGKILLed at each failpoint of the payment path, restarted, and within the
 * reconciliation interval every paid payment backs one confirmed booking or is cancelled exactly once.
 */
const orm = useTestDatabase();
const simulator = useSimulatorHarness();

describe.each([
  ['after-gateway-read', 0],
  ['before-decision-commit', -1000],
  ['after-decision-commit', -1000],
  ['after-cancel-sent', -1000],
  ['after-decision-commit', 0],
])('killed at %s (amount off by %d)', (failpoint, amountDelta) => {
  test('restart recovers: the payment backs one confirmed booking or is cancelled exactly once', async () => {
    let server = await startServerProcess(crashTestServerEnv(simulator, { failpoints: `${failpoint}=kill` }));
    try {
      const { reservation, buyerToken } = await holdOneSeatOverHttp(server, { title: 'Crash test', buyerId: 'crash-buyer' });
      const impUid = await simulator.pay({ merchantUid: reservation.merchantUid, amount: reservation.amount + amountDelta });

      // The process dies somewhere inside this call; the client sees the connection drop.
      await gqlOverHttp(
        server,
        ConfirmPaymentDocument,
        { input: { reservationId: reservation.id, paymentId: impUid, merchantUid: reservation.merchantUid } },
        buyerToken,
      ).catch(() => undefined);
      await server.exited;
      expect(server.child.signalCode).toBe('SIGKILL');

      server = await startServerProcess(crashTestServerEnv(simulator));
      await eventually(() => expectMoneyInvariants({ orm, simulator }), CRASH_TEST_RECONCILE_INTERVAL_MS * 15 + 25000);
      const applied = (await simulator.cancelRequests(impUid)).filter((c) => c.applied);
      expect(applied).toHaveLength(amountDelta === 0 ? 0 : 1);
    } finally {
      await server.kill();
    }
  });
});
