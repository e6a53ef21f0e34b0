import type { SimulatorLedger } from '../../src/gateway/portone/sim/simulator-control.client';
import type { CancelRequestRecord, V1Payment } from '../../src/gateway/portone/sim/simulator-state';

/**
 * The money invariants of MONEY-SPEC / DESIGN §2 (I1–I5 and "never cancel what is not ours"), checked
 * against our database and the PortOne simulator's ledger. Pure apart from the `query` it is given, so
 * jest tests (MikroORM connection) and the chaos script (plain `pg`) share it.
 *
 * Every violation carries a class (stable, short) so runs can be summarised and compared, and a detail
 * naming the payment and what was seen.
 */

/** Cancels we send carry a reason starting with this; console or partner cancels do not. */
export const OUR_CANCEL_REASON_PREFIX = 'booking refund';

export type ViolationClass =
  | 'I1-UNSETTLED' // paid, ours, live: neither backing a booking nor fully cancelled nor a visible refund
  | 'I1-PENDING-AFTER-DRAIN' // a refund still PENDING / NEEDS_ATTENTION when nothing justifies it any more
  | 'I1-CANCELLED-NO-REFUND-ROW' // fully cancelled after a decision of ours, but no SUCCEEDED refund row says so
  | 'I1-REFUND-SUCCEEDED-BALANCE-LEFT' // refund SUCCEEDED while the gateway still shows money paid
  | 'I1-BOOKING-WITHOUT-MONEY' // a CONFIRMED reservation whose backing payment is (partly) cancelled or missing
  | 'I1-AMOUNT' // a CONFIRMED reservation backed by a payment of another amount or currency
  | 'I2-KEPT-BOOKING-CANCELLED' // a payment backing a CONFIRMED booking received a cancel from us
  | 'I3-OVER-REFUND'
  | 'I3-CANCEL-NOT-WHOLE-BALANCE' // a cancel we sent did not carry checksum == the amount it cancelled (the balance)
  | 'I3-NO-CHECKSUM'
  | 'I3-TWO-CANCELS'
  | 'I4-SEAT-TWICE'
  | 'I5-PAYMENT-TWICE'
  | 'I5-RESERVATION-TWICE'
  | 'NOT-OURS-CANCELLED'
  | 'NOT-OURS-CONFIRMED'
  | 'NOT-OURS-REFUND-ROW'
  | 'SANDBOX-CANCELLED'
  | 'SANDBOX-CONFIRMED';

export interface Violation {
  class: ViolationClass;
  gatewayPaymentId?: string;
  detail: string;
}

export interface MoneyCheckOptions {
  /**
   * Refunds PENDING (or NEEDS_ATTENTION from an exhausted budget) count as "visible, being handled".
   * True while faults may still be active; false after a drain, when only a partial external cancel or a
   * virtual account without a refund account justifies a refund that is not SUCCEEDED.
   */
  allowPending: boolean;
  /** PORTONE_ALLOW_SANDBOX=true: sandbox payments are payments. */
  allowSandbox?: boolean;
}

export type Query = (sql: string) => Promise<Array<Record<string, unknown>>>;

interface DecisionRow {
  gateway_payment_id: string;
  decision: string;
  amount: number;
  currency: string;
  reservation_id: string;
  reservation_status: string;
  reservation_amount: number;
  reservation_merchant_uid: string;
}

interface RefundRow {
  id: string;
  gateway_payment_id: string;
  status: string;
  reason: string;
  amount: number;
}

const EPSILON = 1e-6;
const same = (a: number, b: number) => Math.abs(a - b) < EPSILON;
const num = (value: unknown) => Number(value);

export function isOurCancel(request: CancelRequestRecord): boolean {
  return typeof request.body.reason === 'string' && request.body.reason.startsWith(OUR_CANCEL_REASON_PREFIX);
}

function wasPaid(p: V1Payment): boolean {
  return p.status === 'paid' || p.cancel_amount > 0 || p.paid_at > 0;
}

/** All violations, empty when the money is where it should be. */
export async function checkMoneyInvariants(query: Query, ledger: SimulatorLedger, options: MoneyCheckOptions): Promise<Violation[]> {
  const violations: Violation[] = [];
  const add = (cls: ViolationClass, detail: string, gatewayPaymentId?: string) => violations.push({ class: cls, detail, gatewayPaymentId });

  const ourUids = new Set((await query('select merchant_uid from reservation')).map((r) => String(r.merchant_uid)));
  const decisions = (
    await query(
      `select p.gateway_payment_id, p.decision, p.amount::text as amount, p.currency, p.reservation_id,
              r.status as reservation_status, r.amount::text as reservation_amount, r.merchant_uid as reservation_merchant_uid
         from payment p join reservation r on r.id = p.reservation_id`,
    )
  ).map((r) => ({ ...r, amount: num(r.amount), reservation_amount: num(r.reservation_amount) }) as unknown as DecisionRow);
  const refunds = (await query('select id, gateway_payment_id, status, reason, amount::text as amount from refund')).map(
    (r) => ({ ...r, amount: num(r.amount) }) as unknown as RefundRow,
  );
  const decisionOf = new Map(decisions.map((d) => [d.gateway_payment_id, d]));
  const refundsOf = new Map<string, RefundRow[]>();
  for (const r of refunds) refundsOf.set(r.gateway_payment_id, [...(refundsOf.get(r.gateway_payment_id) ?? []), r]);
  const paymentOf = new Map(ledger.payments.map((p) => [p.imp_uid, p]));
  const cancelsOf = new Map<string, CancelRequestRecord[]>();
  for (const c of ledger.cancelRequests) {
    const id = c.impUid ?? (typeof c.body.imp_uid === 'string' ? c.body.imp_uid : null);
    if (!id) continue;
    cancelsOf.set(id, [...(cancelsOf.get(id) ?? []), c]);
  }

  // Never cancel what is not ours; never a sandbox payment (unless sandbox is allowed).
  for (const c of ledger.cancelRequests) {
    const named = c.impUid ? paymentOf.get(c.impUid) : undefined;
    const fromUs = isOurCancel(c);
    if (!fromUs) continue;
    if (!named) {
      const merchantUid = typeof c.body.merchant_uid === 'string' ? c.body.merchant_uid : null;
      if (merchantUid && !ourUids.has(merchantUid)) add('NOT-OURS-CANCELLED', `cancel by merchant_uid ${merchantUid}, not ours`);
      continue;
    }
    if (!ourUids.has(named.merchant_uid)) {
      add('NOT-OURS-CANCELLED', `cancel (${c.outcome}) sent for ${named.imp_uid} of order ${named.merchant_uid}, not ours`, named.imp_uid);
    }
    if (named.sandbox && !options.allowSandbox) add('SANDBOX-CANCELLED', `cancel (${c.outcome}) sent for sandbox payment ${named.imp_uid}`, named.imp_uid);
  }

  for (const p of ledger.payments) {
    const ours = ourUids.has(p.merchant_uid);
    const decision = decisionOf.get(p.imp_uid);
    const refundRows = refundsOf.get(p.imp_uid) ?? [];
    const ourCancels = (cancelsOf.get(p.imp_uid) ?? []).filter(isOurCancel);
    const externalCancelled = (cancelsOf.get(p.imp_uid) ?? []).some((c) => c.applied && !isOurCancel(c)) ||
      p.cancel_history.some((h) => !h.reason.startsWith(OUR_CANCEL_REASON_PREFIX));

    if (p.cancel_amount > p.amount + EPSILON) add('I3-OVER-REFUND', `cancelled ${p.cancel_amount} of ${p.amount}`, p.imp_uid);
    for (const c of ourCancels) {
      const checksum = c.body.checksum;
      if (checksum === undefined || checksum === null || checksum === '') {
        add('I3-NO-CHECKSUM', `cancel (${c.outcome}) without checksum`, p.imp_uid);
      } else if (c.applied && !same(Number(c.body.amount ?? 0), Number(checksum))) {
        add('I3-CANCEL-NOT-WHOLE-BALANCE', `cancel of ${String(c.body.amount)} applied with checksum ${String(checksum)}`, p.imp_uid);
      }
    }
    const appliedByUs = ourCancels.filter((c) => c.applied);
    if (appliedByUs.length > 1 && !externalCancelled) add('I3-TWO-CANCELS', `${appliedByUs.length} cancels of ours applied`, p.imp_uid);

    if (!ours) {
      if (decision?.decision === 'CONFIRMED') add('NOT-OURS-CONFIRMED', `order ${p.merchant_uid} is not ours but confirmed ${decision.reservation_id}`, p.imp_uid);
      if (refundRows.length > 0) add('NOT-OURS-REFUND-ROW', `order ${p.merchant_uid} is not ours but has refund ${refundRows.map((r) => `${r.reason}/${r.status}`).join(',')}`, p.imp_uid);
      continue;
    }
    if (p.sandbox && !options.allowSandbox) {
      if (decision?.decision === 'CONFIRMED' && decision.reservation_status === 'CONFIRMED') {
        add('SANDBOX-CONFIRMED', `sandbox payment confirms reservation ${decision.reservation_id}`, p.imp_uid);
      }
      continue;
    }
    if (!wasPaid(p)) continue;

    const balance = Math.round((p.amount - p.cancel_amount) * 10_000) / 10_000;
    const fullyCancelled = balance <= EPSILON;
    const backsConfirmed = decision?.decision === 'CONFIRMED' && decision.reservation_status === 'CONFIRMED';
    if (backsConfirmed && ourCancels.length > 0) {
      add('I2-KEPT-BOOKING-CANCELLED', `backs CONFIRMED ${decision.reservation_id} yet ${ourCancels.length} cancel(s) of ours were sent (${ourCancels.map((c) => c.outcome).join('; ')})`, p.imp_uid);
    }
    if (backsConfirmed && p.cancel_amount === 0 && same(p.amount, decision.reservation_amount) && p.currency === 'KRW' && p.merchant_uid === decision.reservation_merchant_uid) continue;
    if (backsConfirmed) {
      if (p.cancel_amount > 0) {
        // Partial external cancel: the spec keeps the booking and asks an admin (refund NEEDS_ATTENTION).
        const partialHandled = !fullyCancelled && refundRows.some((r) => r.reason === 'CANCELLED_AT_GATEWAY' && r.status !== 'SUCCEEDED');
        if (!partialHandled) {
          add('I1-BOOKING-WITHOUT-MONEY', `reservation ${decision.reservation_id} CONFIRMED but PortOne shows ${p.cancel_amount} of ${p.amount} cancelled (${p.status})`, p.imp_uid);
        }
      } else {
        add('I1-AMOUNT', `reservation ${decision.reservation_id} CONFIRMED for ${decision.reservation_amount} KRW, paid ${p.amount} ${p.currency}`, p.imp_uid);
      }
      continue;
    }
    const succeeded = refundRows.find((r) => r.status === 'SUCCEEDED');
    const open = refundRows.find((r) => r.status !== 'SUCCEEDED');
    if (fullyCancelled) {
      if (succeeded) continue;
      if (!decision && refundRows.length === 0) continue; // cancelled outside before we ever decided: nothing kept
      if (open && options.allowPending) continue;
      add('I1-CANCELLED-NO-REFUND-ROW', `fully cancelled, decision ${decision?.decision ?? 'none'}, refunds ${describe(refundRows)}`, p.imp_uid);
      continue;
    }
    if (succeeded) {
      add('I1-REFUND-SUCCEEDED-BALANCE-LEFT', `refund ${succeeded.reason} SUCCEEDED but ${balance} of ${p.amount} ${p.currency} still paid`, p.imp_uid);
      continue;
    }
    if (open) {
      const justified =
        options.allowPending ||
        (open.status === 'NEEDS_ATTENTION' && (p.pay_method === 'vbank' || (externalCancelled && p.cancel_amount > 0)));
      if (!justified) {
        add('I1-PENDING-AFTER-DRAIN', `refund ${open.reason} still ${open.status}, ${balance} of ${p.amount} ${p.currency} paid, decision ${decision?.decision ?? 'none'}/${decision?.reservation_status ?? '-'}`, p.imp_uid);
      }
      continue;
    }
    add(
      'I1-UNSETTLED',
      `order ${p.merchant_uid} paid ${p.amount} ${p.currency} (cancelled ${p.cancel_amount}), decision ${decision ? `${decision.decision} for ${decision.reservation_status} ${decision.reservation_id}` : 'none'}, no refund`,
      p.imp_uid,
    );
  }

  // Bookings without money: every CONFIRMED reservation is backed by a CONFIRMED payment PortOne shows fully paid.
  const confirmedReservations = await query(`select id, amount::text as amount, merchant_uid from reservation where status = 'CONFIRMED'`);
  for (const r of confirmedReservations) {
    const backing = decisions.filter((d) => d.reservation_id === r.id && d.decision === 'CONFIRMED');
    if (backing.length === 0) {
      add('I1-BOOKING-WITHOUT-MONEY', `reservation ${String(r.id)} CONFIRMED without a confirmed payment`);
      continue;
    }
    for (const b of backing) {
      const p = paymentOf.get(b.gateway_payment_id);
      if (!p) add('I1-BOOKING-WITHOUT-MONEY', `reservation ${String(r.id)} CONFIRMED by ${b.gateway_payment_id}, unknown to PortOne`, b.gateway_payment_id);
    }
  }

  for (const row of await query(`select seat_id, count(*)::int as n from reservation where status = 'CONFIRMED' group by seat_id having count(*) > 1`)) {
    add('I4-SEAT-TWICE', `seat ${String(row.seat_id)} has ${String(row.n)} CONFIRMED reservations`);
  }
  for (const row of await query(`select gateway_payment_id, count(*)::int as n from payment group by gateway_payment_id having count(*) > 1`)) {
    add('I5-PAYMENT-TWICE', `${String(row.n)} decisions`, String(row.gateway_payment_id));
  }
  for (const row of await query(`select reservation_id, count(*)::int as n from payment where decision = 'CONFIRMED' group by reservation_id having count(*) > 1`)) {
    add('I5-RESERVATION-TWICE', `reservation ${String(row.reservation_id)} backed by ${String(row.n)} payments`);
  }
  return violations;
}

function describe(refunds: RefundRow[]): string {
  return refunds.length === 0 ? 'none' : refunds.map((r) => `${r.reason}/${r.status}/${r.amount}`).join(',');
}

/** Violations counted by class, for summaries. */
export function countByClass(violations: Violation[]): Record<string, number> {
  const counts: Record<string, number> = {};
  for (const v of violations) counts[v.class] = (counts[v.class] ?? 0) + 1;
  return counts;
}

export function formatViolations(violations: Violation[], limit = 20): string {
  const lines = violations.slice(0, limit).map((v) => `${v.class} ${v.gatewayPaymentId ?? ''}: ${v.detail}`);
  if (violations.length > limit) lines.push(`… and ${violations.length - limit} more`);
  return lines.join('\n');
}
