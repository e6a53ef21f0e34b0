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
  const ledger = await t.simulator.control.ledger();
  const ourOrderIds = new Set(
    ((await conn.execute('select merchant_uid from reservation')) as Array<{ merchant_uid: string }>).map((r) => r.merchant_uid),
  );
  // Live payments only: a sandbox (test-channel) payment moved no money (MONEY-SPEC item 2).
  const ours = ledger.payments.filter((p) => ourOrderIds.has(p.merchant_uid) && !p.sandbox);
  // Amounts may be stored as numeric (exact decimals), which PostgreSQL returns as strings.
  const decisions = ((await conn.execute(
    `select p.gateway_payment_id, p.decision, p.amount, p.reservation_id, r.status as reservation_status, r.amount as reservation_amount
       from payment p join reservation r on r.id = p.reservation_id`,
  )) as Array<Record<string, unknown>>).map((d) => ({
    gatewayPaymentId: String(d.gateway_payment_id),
    decision: String(d.decision),
    reservationStatus: String(d.reservation_status),
    reservationAmount: Number(d.reservation_amount),
  }));
  const refunds = ((await conn.execute('select gateway_payment_id, status, amount from refund')) as Array<Record<string, unknown>>).map((r) => ({
    gatewayPaymentId: String(r.gateway_payment_id),
    status: String(r.status),
  }));
  const decisionOf = new Map(decisions.map((d) => [d.gatewayPaymentId, d]));
  const refundOf = new Map(refunds.map((r) => [r.gatewayPaymentId, r]));
  // Cancels we sent say so in their reason; a console or partner-system cancel is not ours.
  const cancelsByUs = ledger.cancelRequests.filter((c) => String(c.body.reason ?? '').startsWith('booking refund'));
  const paymentById = new Map(ledger.payments.map((p) => [p.imp_uid, p]));

  for (const c of cancelsByUs) {
    const named = paymentById.get(c.impUid ?? String(c.body.imp_uid));
    if (named && !ourOrderIds.has(named.merchant_uid)) problems.push(`not ours: we sent a cancel for ${named.imp_uid} (order ${named.merchant_uid})`);
    if (named?.sandbox) problems.push(`not ours: we sent a cancel for the sandbox payment ${named.imp_uid}`);
  }

  for (const p of ours) {
    const wasPaid = p.status === 'paid' || p.cancel_amount > 0;
    if (p.cancel_amount > p.amount) problems.push(`I3 ${p.imp_uid}: cancelled ${p.cancel_amount} of ${p.amount}`);
    const appliedByUs = cancelsByUs.filter((c) => (c.impUid === p.imp_uid || c.body.imp_uid === p.imp_uid) && c.applied);
    const cancelledElsewhereFirst = p.cancel_history.some((h) => !h.reason.startsWith('booking refund'));
    if (appliedByUs.length > 1 && !cancelledElsewhereFirst) problems.push(`I3 ${p.imp_uid}: ${appliedByUs.length} cancels of ours applied`);
    if (!wasPaid) continue;
    const decision = decisionOf.get(p.imp_uid);
    const refund = refundOf.get(p.imp_uid);
    const fullyCancelled = p.cancel_amount === p.amount;
    const confirmed = decision?.decision === 'CONFIRMED' && decision.reservationStatus === 'CONFIRMED';
    if (confirmed && appliedByUs.length > 0) problems.push(`I2 ${p.imp_uid}: backs a confirmed booking but we cancelled it`);
    const backsConfirmed = confirmed && decision.reservationAmount === p.amount && p.cancel_amount === 0;
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
