import type { MikroORM } from '@mikro-orm/postgresql';
import type { V2ApiPayment } from '../../src/gateway/portone/sim/v2/portone-v2-simulator-control.client';
import type { SimulatorHarnessV2 } from './simulator-harness-v2';

/**
 * I1–I5 (as in money-invariants.ts) against the database and the V2 simulator's ledger. V2's payment id is
 * the order id; only payments of our store are ours, and no cancel of ours may name any other store's.
 */
export async function expectMoneyInvariantsV2(t: { orm: MikroORM; v2: SimulatorHarnessV2 | null }, options: { allowPending?: boolean } = {}): Promise<void> {
  if (!t.v2) throw new Error('expectMoneyInvariantsV2 needs a V2 simulator');
  const conn = t.orm.em.getConnection();
  const problems: string[] = [];
  const ledger = await t.v2.control.ledger();
  const ourOrderIds = new Set(((await conn.execute('select merchant_uid from reservation')) as Array<{ merchant_uid: string }>).map((r) => r.merchant_uid));
  const isOurs = (p: V2ApiPayment) => p.storeId === t.v2!.storeId && ourOrderIds.has(p.id) && (p.channel as { type?: string } | undefined)?.type !== 'TEST';
  const decisions = new Map(
    ((await conn.execute(
      `select p.gateway_payment_id, p.decision, r.status as reservation_status, r.amount as reservation_amount
         from payment p join reservation r on r.id = p.reservation_id`,
    )) as Array<Record<string, unknown>>).map((d) => [String(d.gateway_payment_id), { decision: String(d.decision), reservationStatus: String(d.reservation_status), reservationAmount: Number(d.reservation_amount) }]),
  );
  const refunds = new Map(((await conn.execute('select gateway_payment_id, status from refund')) as Array<Record<string, unknown>>).map((r) => [String(r.gateway_payment_id), String(r.status)]));
  const cancelsByUs = ledger.cancelRequests.filter((c) => String(c.body.reason ?? '').startsWith('booking refund'));
  for (const c of cancelsByUs) {
    const named = ledger.payments.find((p) => p.id === c.paymentId && p.storeId === c.storeId);
    if (c.storeId !== t.v2.storeId || (named && !isOurs(named))) problems.push(`not ours: we sent a cancel for ${c.paymentId} of store ${c.storeId}`);
  }
  for (const p of ledger.payments.filter(isOurs)) {
    const total = p.amount.total;
    const cancelled = p.amount.cancelled;
    if (cancelled > total) problems.push(`I3 ${p.id}: cancelled ${cancelled} of ${total}`);
    const appliedByUs = cancelsByUs.filter((c) => c.paymentId === p.id && c.storeId === p.storeId && c.applied);
    const cancellations = (p.cancellations ?? []) as Array<{ reason?: string }>;
    const cancelledElsewhereFirst = cancellations.some((h) => !String(h.reason ?? '').startsWith('booking refund'));
    if (appliedByUs.length > 1 && !cancelledElsewhereFirst) problems.push(`I3 ${p.id}: ${appliedByUs.length} cancels of ours applied`);
    const wasPaid = typeof p.paidAt === 'string' || cancelled > 0;
    if (!wasPaid) continue;
    const decision = decisions.get(p.id);
    const refund = refunds.get(p.id);
    const confirmed = decision?.decision === 'CONFIRMED' && decision.reservationStatus === 'CONFIRMED';
    if (confirmed && appliedByUs.length > 0) problems.push(`I2 ${p.id}: backs a confirmed booking but we cancelled it`);
    if (confirmed && decision.reservationAmount === total && cancelled === 0) {
      if (refund) problems.push(`I2 ${p.id}: backs a confirmed booking but has a refund`);
      continue;
    }
    if (cancelled === total && refund === 'SUCCEEDED') continue;
    if (options.allowPending && refund && refund !== 'SUCCEEDED') continue;
    problems.push(`I1 ${p.id}: paid ${total}, cancelled ${cancelled}, decision ${decision?.decision ?? 'none'}, refund ${refund ?? 'none'}`);
  }
  const doubles: unknown[] = await conn.execute(
    `select 'seat' as what, seat_id::text as id from reservation where status = 'CONFIRMED' group by seat_id having count(*) > 1
     union all select 'reservation', reservation_id::text from payment where decision = 'CONFIRMED' group by reservation_id having count(*) > 1`,
  );
  if (doubles.length > 0) problems.push(`I4/I5: ${JSON.stringify(doubles)}`);
  if (problems.length > 0) throw new Error(`money invariants violated (V2):\n${problems.join('\n')}`);
}
