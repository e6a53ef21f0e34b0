import fc from 'fast-check';
import { HoldSeatDocument } from '../generated/graphql';
import { createEventViaApi } from '../support/fixtures';
import { expectMoneyInvariants } from '../support/money-invariants';
import { useTestApp } from '../support/test-app';

/**
 * Service tier: `settle` itself, without GraphQL or HTTP in front of it (the real database, the real
 * PortOne client against the simulator). Every expected end is a returned value, never an exception; the
 * generated cases cover each kind, and the money invariants hold after every one.
 */
const t = useTestApp({ startWorker: false });

type Situation =
  | { kind: 'payment'; status: 'paid' | 'ready' | 'failed'; amountDelta: number; ourOrder: boolean; sandbox: boolean }
  | { kind: 'unknown-payment' }
  | { kind: 'gateway-down' };

const payments = fc.record({
  kind: fc.constant('payment' as const),
  status: fc.constantFrom('paid' as const, 'ready' as const, 'failed' as const),
  amountDelta: fc.constantFrom(0, 0, 1000, -1000),
  ourOrder: fc.boolean(),
  sandbox: fc.boolean(),
});
const situations: fc.Arbitrary<Situation> = fc.oneof(
  { weight: 6, arbitrary: payments },
  { weight: 1, arbitrary: fc.constant({ kind: 'unknown-payment' as const }) },
  { weight: 1, arbitrary: fc.constant({ kind: 'gateway-down' as const }) },
);

/** What the rules say settle must answer (DESIGN §3). */
function expectedKind(situation: Situation): string {
  if (situation.kind === 'unknown-payment') return 'UNKNOWN_PAYMENT';
  if (situation.kind === 'gateway-down') return 'GATEWAY_UNAVAILABLE';
  if (!situation.ourOrder) return 'NOT_OURS';
  if (situation.status !== 'paid' || situation.sandbox) return 'NOT_PAID';
  return situation.amountDelta === 0 ? 'CONFIRMED' : 'REFUNDED';
}

test('settle returns every expected outcome as data, and leaves the money right', async () => {
  await fc.assert(
    fc.asyncProperty(situations, async (situation) => {
      await t.reset();
      const event = await createEventViaApi(t, [{ label: 'A1', price: 50000 }]);
      const token = await t.tokenFor('service-tier-buyer');
      const hold = (await t.gql(HoldSeatDocument, { input: { seatId: event.seats[0].id } }, { token })).data!.holdSeat;
      let paymentId = 'imp_nobody_knows_this_one';
      if (situation.kind === 'payment') {
        paymentId = await t.simulator.pay({
          merchantUid: situation.ourOrder ? hold.merchantUid : `someone-elses-${hold.merchantUid}`,
          amount: hold.amount + situation.amountDelta,
          status: situation.status,
          sandbox: situation.sandbox,
        });
      }
      if (situation.kind === 'gateway-down') {
        paymentId = await t.simulator.pay({ merchantUid: hold.merchantUid, amount: hold.amount });
        await t.simulator.fault({ endpoint: 'getPayment', kind: 'http503', times: 100 });
      }
      try {
        const outcome = await t.app.services.settlement.settle(t.orm.em.fork(), paymentId, { source: 'WEBHOOK' });
        expect(outcome.kind).toBe(expectedKind(situation));
        if (outcome.kind === 'REFUNDED') expect(outcome.refund.status).toBe('SUCCEEDED');
      } finally {
        await t.simulator.clearFaults();
      }
      // A payment that could not be read is the sweep's to settle later; everything else is settled now.
      if (situation.kind !== 'gateway-down') await expectMoneyInvariants(t);
    }),
    { numRuns: 30 },
  );
}, 120_000);
