import fetch from 'node-fetch';
import type { MikroORM } from '@mikro-orm/postgresql';
import type { V1Payment } from '../../src/gateway/portone/sim/simulator-state';
import type { SimulatorLedger } from '../../src/gateway/portone/sim/simulator-control.client';
import { simulatorControlRequest } from '../../src/gateway/portone/sim/simulator-control-http';
import type { Clock } from '../../src/clock';
import { ConfirmPaymentDocument, HoldSeatDocument } from '../generated/graphql';
import { SIM_IMP_KEY, SIM_IMP_SECRET } from './simulator-harness';
import type { TestApp } from './test-app';

/**
 * The simulator's control API as issue 10's tests use it, over plain HTTP so that the tests typecheck
 * before every endpoint exists: payments with a pay method, sandbox flag and decimal amounts, partial
 * console cancels, UNCONFIRMED-behaviour options, clock and faults.
 */
export function simulatorControl(baseUrl: string) {
  const request = <T>(method: string, path: string, body?: unknown) => simulatorControlRequest<T>(baseUrl, method, path, body);

  return {
    /** What the buyer's payment window produces. Live (not sandbox) and without a notification unless asked. */
    async createPayment(input: {
      merchantUid: string;
      amount: number;
      currency?: string;
      status?: V1Payment['status'];
      payMethod?: 'card' | 'vbank';
      sandbox?: boolean;
      /** Where PortOne sends the notification; none means the webhook is lost. */
      noticeUrl?: string;
    }): Promise<V1Payment> {
      return request('POST', '/__control/payments', {
        merchant_uid: input.merchantUid,
        amount: input.amount,
        currency: input.currency ?? 'KRW',
        status: input.status ?? 'paid',
        pay_method: input.payMethod ?? 'card',
        sandbox: input.sandbox ?? false,
        webhook: input.noticeUrl !== undefined,
        notice_url: input.noticeUrl,
      });
    },
    /** Cancelled outside our server (merchant console, PG, chargeback); partial when `amount` is given. */
    consoleCancel(impUid: string, amount?: number): Promise<V1Payment> {
      return request('POST', `/__control/payments/${encodeURIComponent(impUid)}/console-cancel`, amount === undefined ? {} : { amount });
    },
    setStatus(impUid: string, status: 'ready' | 'paid' | 'failed', webhook = false): Promise<V1Payment> {
      return request('POST', `/__control/payments/${encodeURIComponent(impUid)}/status`, { status, webhook });
    },
    advanceClock(seconds: number): Promise<{ now: number }> {
      return request('POST', '/__control/clock', { advanceSeconds: seconds });
    },
    /** Stops PortOne's clock at its current second, or puts it back on its course. */
    freezeClock(frozen: boolean): Promise<{ now: number }> {
      return request('POST', '/__control/clock', { freeze: frozen });
    },
    fault(fault: { endpoint: string; kind: string; times?: number; latencyMs?: number; code?: number; message?: string }): Promise<unknown> {
      return request('POST', '/__control/faults', fault);
    },
    clearFaults(): Promise<unknown> {
      return request('DELETE', '/__control/faults');
    },
    ledger(): Promise<SimulatorLedger> {
      return request('GET', '/__control/ledger');
    },
    async payment(impUid: string): Promise<V1Payment> {
      const found = (await request<SimulatorLedger>('GET', '/__control/ledger')).payments.find((p) => p.imp_uid === impUid);
      if (!found) throw new Error(`simulator has no payment ${impUid}`);
      return found;
    },
    /** Cancel requests that reached PortOne's API for one payment, ours and anybody else's. */
    async cancelRequests(impUid: string) {
      return (await request<SimulatorLedger>('GET', '/__control/ledger')).cancelRequests
        .filter((c) => c.impUid === impUid || c.body.imp_uid === impUid)
        .map((c) => ({ ...c, amount: Number(c.body.amount), checksum: Number(c.body.checksum), reason: String(c.body.reason ?? '') }));
    },
    /**
     * Another system of the same merchant (an ERP, the PG's own tool) cancels part of a payment through
     * PortOne's public API: the cancel is in the ledger but was not sent by us (its reason says so).
     */
    async cancelThroughApiAsSomeoneElse(impUid: string, amount: number): Promise<void> {
      const tokenResponse = await fetch(`${baseUrl}/users/getToken`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ imp_key: SIM_IMP_KEY, imp_secret: SIM_IMP_SECRET }),
      });
      const token = ((await tokenResponse.json()) as { response: { access_token: string } }).response.access_token;
      const cancelResponse = await fetch(`${baseUrl}/payments/cancel`, {
        method: 'POST',
        headers: { 'content-type': 'application/json', authorization: `Bearer ${token}` },
        body: JSON.stringify({ imp_uid: impUid, amount, reason: 'partial cancel from the merchant ERP' }),
      });
      const body = (await cancelResponse.json()) as { code: number; message: string | null };
      if (body.code !== 0) throw new Error(`partial cancel refused: ${body.message}`);
    },
  };
}

export type SimulatorControl = ReturnType<typeof simulatorControl>;

/**
 * Our clock, kept equal to the simulator's: both start at the real time and move together (the sweep's
 * window is in PortOne's clock). `reset` matches the simulator's reset (offset back to 0).
 */
export class SyncedClock implements Clock {
  private offsetMs = 0;
  now(): Date {
    return new Date(Date.now() + this.offsetMs);
  }
  async advance(control: SimulatorControl, seconds: number): Promise<void> {
    this.offsetMs += seconds * 1000;
    await control.advanceClock(seconds);
  }
  reset(): void {
    this.offsetMs = 0;
  }
}

/** Database rows as numbers (amounts may be stored as numeric, which PostgreSQL returns as strings). */
export async function refundRowsOf(orm: MikroORM, gatewayPaymentId: string) {
  const rows: Array<Record<string, unknown>> = await orm.em
    .getConnection()
    .execute('select * from refund where gateway_payment_id = ? order by created_at', [gatewayPaymentId]);
  return rows.map((r) => ({
    id: String(r.id),
    reason: String(r.reason),
    status: String(r.status),
    amount: Number(r.amount),
    attempts: Number(r.attempts),
    lastError: (r.last_error as string | null) ?? null,
    nextAttemptAt: (r.next_attempt_at as string | Date | null) ?? null,
    reservationId: String(r.reservation_id),
  }));
}

export async function paymentRowsOf(orm: MikroORM, gatewayPaymentId: string) {
  const rows: Array<Record<string, unknown>> = await orm.em
    .getConnection()
    .execute('select * from payment where gateway_payment_id = ?', [gatewayPaymentId]);
  return rows.map((r) => ({ decision: String(r.decision), amount: Number(r.amount), reservationId: String(r.reservation_id), refundReason: r.refund_reason ?? null }));
}

export async function reservationRow(orm: MikroORM, reservationId: string) {
  const [row]: Array<Record<string, unknown>> = await orm.em.getConnection().execute('select * from reservation where id = ?', [reservationId]);
  if (!row) throw new Error(`no reservation ${reservationId}`);
  return { status: String(row.status), amount: Number(row.amount), seatId: String(row.seat_id), expiresAt: new Date(row.expires_at as string) };
}

/** Moves a hold's end without waiting for it (a hold that ended `agoMs` ago). */
export async function endHold(orm: MikroORM, reservationId: string, agoMs: number, now: Date = new Date()): Promise<void> {
  await orm.em.getConnection().execute('update reservation set expires_at = ? where id = ?', [new Date(now.getTime() - agoMs), reservationId]);
}

/**
 * Starts `racer` and returns once it waits on a lock in this database (more backends waiting than before
 * it started) or has finished: races are then forced into the order the test means, however slow the
 * machine, instead of hoping a sleep was long enough.
 */
export async function startAndWaitUntilBlocked<T>(orm: MikroORM, racer: () => Promise<T>, timeoutMs = 10_000): Promise<{ running: Promise<T> }> {
  const waiting = async () =>
    Number(
      (
        await orm.em
          .getConnection()
          .execute(`select count(*)::int as n from pg_stat_activity where datname = current_database() and wait_event_type = 'Lock'`)
      )[0].n,
    );
  const before = await waiting();
  let finished = false;
  const running = racer().finally(() => {
    finished = true;
  });
  running.catch(() => undefined);
  const deadline = Date.now() + timeoutMs;
  while (!finished && (await waiting()) <= before) {
    if (Date.now() > deadline) throw new Error(`startAndWaitUntilBlocked: the racer neither waited on a lock nor finished within ${timeoutMs} ms`);
    await sleep(10);
  }
  // Wrapped: an async function returning the promise itself would wait for it.
  return { running };
}

export function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

type GraphQLCaller = Pick<TestApp, 'tokenFor' | 'gql'>;

/** holdSeat through GraphQL as `buyer` (a fresh token); throws with the errors when it is refused. */
export async function holdSeatAs(t: GraphQLCaller, buyer: string, seatId: string) {
  const token = await t.tokenFor(buyer);
  const result = await t.gql(HoldSeatDocument, { input: { seatId } }, { token });
  if (!result.data) throw new Error(`holdSeat failed: ${JSON.stringify(result.errors)}`);
  return { token, reservation: result.data.holdSeat };
}

/** confirmPayment of `paymentId` for `reservation`, as the buyer whose token this is. */
export function confirmAs(t: GraphQLCaller, token: string, reservation: { id: string; merchantUid: string }, paymentId: string) {
  return t.gql(ConfirmPaymentDocument, { input: { reservationId: reservation.id, paymentId, merchantUid: reservation.merchantUid } }, { token });
}
