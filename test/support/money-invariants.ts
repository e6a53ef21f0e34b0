import type { MikroORM } from '@mikro-orm/postgresql';
import type { SimulatorHarness } from './simulator-harness';

/**
 * I1–I5 checked against the database and the simulator's ledger at the end of a payment test.
 * With `allowPending`, a refund still being retried counts as settled-in-progress (I1 allows PENDING).
 */
export async function expectMoneyInvariants(
  t: { orm: MikroORM; simulator: SimulatorHarness },
  options: { allowPending?: boolean } = {},
): Promise<void> {
  const conn = t.orm.em.getConnection();
  const problems: string[] = [];
  const payments = await t.simulator.allPayments();
  const orderIds: Array<{ merchant_uid: string }> = await conn.execute('select merchant_uid from reservation');
  const ourOrders = new Set(orderIds.map((r) => r.merchant_uid));
  const ours = payments.filter((p) => ourOrders.has(p.merchant_uid) && !p.sandbox);
  // Never cancel what is not ours: another shop's order, or a test-channel payment.
  for (const p of payments.filter((p) => !ourOrders.has(p.merchant_uid) || p.sandbox)) {
    const cancels = await t.simulator.cancelRequests(p.imp_uid);
    if (cancels.length > 0) problems.push(`not ours ${p.imp_uid} (${p.merchant_uid}${p.sandbox ? ', sandbox' : ''}): ${cancels.length} cancel request(s)`);
  }

  const decisions: Array<{ gateway_payment_id: string; decision: string; amount: number; reservation_id: string; reservation_status: string; reservation_amount: number }> =
    await conn.execute(
      `select p.gateway_payment_id, p.decision, p.amount, p.reservation_id, r.status as reservation_status, r.amount as reservation_amount
         from payment p join reservation r on r.id = p.reservation_id`,
    );
  const refunds: Array<{ gateway_payment_id: string; status: string; amount: number }> = await conn.execute(
    'select gateway_payment_id, status, amount from refund',
  );
  const decisionOf = new Map(decisions.map((d) => [d.gateway_payment_id, d]));
  const refundOf = new Map(refunds.map((r) => [r.gateway_payment_id, r]));

  for (const p of ours) {
    const wasPaid = p.status === 'paid' || p.cancel_amount > 0;
    if (p.cancel_amount > p.amount) problems.push(`I3 ${p.imp_uid}: cancelled ${p.cancel_amount} of ${p.amount}`);
    const applied = (await t.simulator.cancelRequests(p.imp_uid)).filter((c) => c.applied);
    if (applied.length > 1) problems.push(`I3 ${p.imp_uid}: ${applied.length} cancels applied`);
    if (!wasPaid) continue;
    const decision = decisionOf.get(p.imp_uid);
    const refund = refundOf.get(p.imp_uid);
    const fullyCancelled = p.cancel_amount === p.amount;
    const backsConfirmed =
      decision?.decision === 'CONFIRMED' &&
      decision.reservation_status === 'CONFIRMED' &&
      decision.reservation_amount === p.amount &&
      p.cancel_amount === 0;
    if (backsConfirmed && refund) problems.push(`I2 ${p.imp_uid}: backs a confirmed booking but has a refund`);
    if (backsConfirmed) continue;
    if (fullyCancelled && refund?.status === 'SUCCEEDED') continue;
    if (options.allowPending && refund && refund.status !== 'SUCCEEDED') continue;
    problems.push(
      `I1 ${p.imp_uid} (${p.merchant_uid}): paid ${p.amount}, cancelled ${p.cancel_amount}, decision ${decision?.decision ?? 'none'}, refund ${refund?.status ?? 'none'}`,
    );
  }

  const doubleSeats: unknown[] = await conn.execute(
    `select seat_id, count(*) from reservation where status = 'CONFIRMED' group by seat_id having count(*) > 1`,
  );
  if (doubleSeats.length > 0) problems.push(`I4: seats with two confirmed reservations: ${JSON.stringify(doubleSeats)}`);
  const doubleConfirmed: unknown[] = await conn.execute(
    `select reservation_id, count(*) from payment where decision = 'CONFIRMED' group by reservation_id having count(*) > 1`,
  );
  if (doubleConfirmed.length > 0) problems.push(`I5: reservations backed by two payments: ${JSON.stringify(doubleConfirmed)}`);
  const confirmedWithoutPayment: unknown[] = await conn.execute(
    `select r.id from reservation r where r.status = 'CONFIRMED'
       and not exists (select 1 from payment p where p.reservation_id = r.id and p.decision = 'CONFIRMED')`,
  );
  if (confirmedWithoutPayment.length > 0) problems.push(`I1: confirmed reservations without a payment: ${JSON.stringify(confirmedWithoutPayment)}`);

  if (problems.length > 0) throw new Error(`money invariants violated:\n${problems.join('\n')}`);
}
