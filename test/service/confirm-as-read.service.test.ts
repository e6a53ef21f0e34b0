import { CancelReservationDocument } from '../generated/graphql';
import { createEventViaApi } from '../support/fixtures';
import { holdSeatAs, paymentRowsOf, reservationRow } from '../support/money-holes';
import { expectMoneyInvariants } from '../support/money-invariants';
import { useTestApp } from '../support/test-app';
import { waitFor } from '../support/wait';

/**
 * A buyer's confirmation decides on the reservation as it read it before asking PortOne, and writes the
 * decision only if the row is still so (one statement that locks and compares it). Here every change
 * another path can make while PortOne is being asked happens exactly then, and the confirmation must
 * reach what a decision under lock on the changed row reaches, with the money right afterwards.
 */
const t = useTestApp({ startWorker: false });

const READ_LATENCY_MS = 600;
const getPaymentReads = async () => (await t.simulator.control.ledger()).apiCalls.getPayment ?? 0;

// An event's start never moves (Event.startsAt): the changes below are what other paths do.
type Change = (context: { reservationId: string; seatId: string; paymentId: string }) => Promise<unknown>;

const sql = (text: string, params: unknown[]) => t.orm.em.getConnection().execute(text, params);

const changes: Array<{ name: string; change: Change; expected: { kind: string; reason?: string; status: string; decidedBy: string } }> = [
  {
    name: 'nothing changes',
    change: async () => undefined,
    expected: { kind: 'CONFIRMED', status: 'CONFIRMED', decidedBy: 'CLIENT_CONFIRM' },
  },
  {
    name: 'the buyer cancels the hold',
    change: async ({ reservationId }) => {
      const token = await t.tokenFor('as-read-buyer');
      const result = await t.gql(CancelReservationDocument, { input: { reservationId } }, { token });
      if (result.errors) throw new Error(JSON.stringify(result.errors));
    },
    expected: { kind: 'REFUNDED', reason: 'RESERVATION_CANCELLED', status: 'CANCELLED', decidedBy: 'CLIENT_CONFIRM' },
  },
  {
    name: 'the webhook decides the same payment first',
    change: ({ paymentId }) => t.app.services.settlement.settle(t.orm.em.fork(), paymentId, { source: 'WEBHOOK' }),
    expected: { kind: 'CONFIRMED', status: 'CONFIRMED', decidedBy: 'WEBHOOK' },
  },
  {
    // Reconciliation ends holds by status alone (the version stays): the status is compared as well.
    name: 'the hold ends and another buyer takes the seat',
    change: async ({ reservationId, seatId }) => {
      await sql(`update reservation set status = 'EXPIRED', expires_at = now() - interval '1 hour' where id = ?`, [reservationId]);
      await holdSeatAs(t, 'as-read-other-buyer', seatId);
    },
    expected: { kind: 'REFUNDED', reason: 'SEAT_UNAVAILABLE', status: 'EXPIRED', decidedBy: 'CLIENT_CONFIRM' },
  },
  {
    name: 'the hold ends and nobody takes the seat (a late payment is still welcome)',
    change: ({ reservationId }) => sql(`update reservation set status = 'EXPIRED', expires_at = now() - interval '1 hour' where id = ?`, [reservationId]),
    expected: { kind: 'CONFIRMED', status: 'CONFIRMED', decidedBy: 'CLIENT_CONFIRM' },
  },
];

test.each(changes)('while PortOne is asked, $name: the confirmation decides on the row as it is', async ({ change, expected }) => {
  const event = await createEventViaApi(t, [{ label: 'A1', price: 50000 }]);
  const seatId = event.seats[0].id;
  const { reservation } = await holdSeatAs(t, 'as-read-buyer', seatId);
  const paymentId = await t.simulator.pay({ merchantUid: reservation.merchantUid, amount: reservation.amount });
  // Only the confirmation's own read waits: the change is made while it does.
  await t.simulator.fault({ endpoint: 'getPayment', kind: 'latency', latencyMs: READ_LATENCY_MS, times: 1 });
  const readsBefore = await getPaymentReads();

  const confirming = t.app.services.settlement.confirmForBuyer(
    t.orm.em.fork(),
    { userId: 'as-read-buyer', isAdmin: false },
    { reservationId: reservation.id, paymentId, merchantUid: reservation.merchantUid },
  );
  // The confirmation's read has reached PortOne (and drawn the delay) before the change is made.
  await waitFor(async () => (await getPaymentReads()) > readsBefore, 5000, 10);
  await change({ reservationId: reservation.id, seatId, paymentId });
  const outcome = await confirming;

  expect(outcome.kind).toBe(expected.kind);
  if (outcome.kind === 'REFUNDED') {
    expect(outcome.payment.refundReason).toBe(expected.reason);
    expect(outcome.refund.status).toBe('SUCCEEDED');
  }
  expect((await reservationRow(t.orm, reservation.id)).status).toBe(expected.status);
  const decisions = await paymentRowsOf(t.orm, paymentId);
  expect(decisions).toHaveLength(1);
  const [decision] = (await sql('select decided_by from payment where gateway_payment_id = ?', [paymentId])) as Array<{ decided_by: string }>;
  expect(decision.decided_by).toBe(expected.decidedBy);
  await expectMoneyInvariants(t);
}, 30_000);
