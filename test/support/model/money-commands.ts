import fc from 'fast-check';
import type { FailpointName } from '../../../src/failpoints';
import type { FaultKind, SimulatorEndpoint } from '../../../src/gateway/portone/sim/simulator-state';
import type { Violation } from '../money-invariants-v2';
import { SLOW_RESPONSE_MS, type GqlResult, type ModelSystem } from './model-system';

/**
 * Commands of the money model test: what buyers, PortOne, admins, the clock and crashes can do. The
 * model only tracks what exists (reservations, payments) so commands can refer to them by index; the
 * verdict is the invariant check after the history, plus the few answers MONEY-SPEC fixes per call.
 */

export interface ModelReservation {
  label: string;
  id: string;
  merchantUid: string;
  amount: number;
  buyer: string;
}

export type PayVariant = 'exact' | 'tampered' | 'usd' | 'sandbox' | 'otherReservation' | 'notOurs' | 'zeroWon';

export interface ModelPayment {
  label: string;
  impUid: string;
  merchantUid: string;
  variant: PayVariant;
  /** The reservation the buyer was paying for (and names when confirming). */
  forReservation: number;
}

export interface MoneyModel {
  reservations: ModelReservation[];
  payments: ModelPayment[];
}

export interface MoneyReal {
  system: ModelSystem;
  seats: Array<{ id: string; label: string }>;
  /** Answers that contradict MONEY-SPEC, collected for the verdict. */
  findings: Violation[];
  /** A failpoint fired in this history (INTERNAL_ERROR refunds are then expected). */
  failpointUsed: boolean;
  /** A failpoint is armed right now (an INTERNAL_SERVER_ERROR answer is then expected). */
  failpointArmed?: boolean;
  trace: string[];
}

export type MoneyCommand = fc.AsyncCommand<MoneyModel, MoneyReal, false>;

export const BUYERS = ['buyer-0', 'buyer-1'];
export const ADMIN = 'model-admin';
const NOT_OURS_UID_PREFIX = 'othershop_';

const HOLD = `mutation Hold($input: HoldSeatInput!) { holdSeat(input: $input) { id merchantUid amount status } }`;
const CONFIRM = `mutation Confirm($input: ConfirmPaymentInput!) {
  confirmPayment(input: $input) { __typename ... on PaymentConfirmed { paymentId } ... on PaymentRefunded { reason refund { id status } } } }`;
const CANCEL = `mutation Cancel($input: CancelReservationInput!) { cancelReservation(input: $input) { id status } }`;
const REFUNDS = `query Refunds { refunds { id status reason paymentId } }`;
const RETRY = `mutation Retry($id: ID!) { retryRefund(id: $id) { id status } }`;

function outcomeOf(result: GqlResult, field: string): string {
  if (result.errors?.length) return `error ${result.errors.map((e) => e.extensions?.code ?? e.message).join(',')}`;
  const value = result.data?.[field];
  if (!value) return 'no data';
  if (value.__typename === 'PaymentRefunded') return `PaymentRefunded ${value.reason} (${value.refund?.status})`;
  return value.__typename ?? value.status ?? 'ok';
}

const pick = <T>(list: T[], index: number): T => list[index % list.length];

export class HoldCommand implements MoneyCommand {
  constructor(readonly seat: number, readonly buyer: number) {}
  check = () => true;
  async run(m: MoneyModel, r: MoneyReal): Promise<void> {
    const seat = pick(r.seats, this.seat);
    const buyer = BUYERS[this.buyer % BUYERS.length];
    const result = await r.system.gql(HOLD, { input: { seatId: seat.id } }, await r.system.token(buyer));
    const held = result.data?.holdSeat;
    if (held) {
      const label = `r${m.reservations.length}`;
      m.reservations.push({ label, id: held.id, merchantUid: held.merchantUid, amount: held.amount, buyer });
      r.trace.push(`${this} -> ${label}`);
    } else {
      r.trace.push(`${this} -> ${outcomeOf(result, 'holdSeat')}`);
    }
  }
  toString = () => `hold(seat ${this.seat % 2}, buyer ${this.buyer % BUYERS.length})`;
}

class PayCommand implements MoneyCommand {
  constructor(readonly reservation: number, readonly variant: PayVariant, readonly webhook: boolean) {}
  check = (m: Readonly<MoneyModel>) => m.reservations.length > 0;
  async run(m: MoneyModel, r: MoneyReal): Promise<void> {
    const forReservation = this.reservation % m.reservations.length;
    const own = m.reservations[forReservation];
    const other = m.reservations[(forReservation + 1) % m.reservations.length];
    const order = {
      exact: { merchantUid: own.merchantUid, amount: own.amount, currency: 'KRW', sandbox: false },
      tampered: { merchantUid: own.merchantUid, amount: own.amount - 1000, currency: 'KRW', sandbox: false },
      usd: { merchantUid: own.merchantUid, amount: 10.4, currency: 'USD', sandbox: false },
      sandbox: { merchantUid: own.merchantUid, amount: own.amount, currency: 'KRW', sandbox: true },
      otherReservation: { merchantUid: other.merchantUid, amount: other.amount, currency: 'KRW', sandbox: false },
      zeroWon: { merchantUid: own.merchantUid, amount: 0, currency: 'KRW', sandbox: false },
      notOurs: { merchantUid: `${NOT_OURS_UID_PREFIX}${m.payments.length}_${Date.now()}`, amount: 990000, currency: 'KRW', sandbox: false },
    }[this.variant];
    const payment = await r.system.createPayment({ ...order, webhook: this.webhook });
    const label = `p${m.payments.length}`;
    m.payments.push({ label, impUid: payment.imp_uid, merchantUid: order.merchantUid, variant: this.variant, forReservation });
    const forWhat = this.variant === 'notOurs' ? 'another shop' : `r${this.variant === 'otherReservation' ? (forReservation + 1) % m.reservations.length : forReservation}`;
    r.trace.push(`${this} -> ${label} (${payment.imp_uid}, ${order.amount} ${order.currency} for ${forWhat}, buyer at r${forReservation})`);
  }
  toString = () => `pay(r${this.reservation}, ${this.variant}, ${this.webhook ? 'webhook' : 'webhook lost'})`;
}

/** The client's confirmPayment: for the reservation the buyer paid for, or (a replay) another one. */
async function confirm(m: MoneyModel, r: MoneyReal, paymentIndex: number, target: 'own' | 'other'): Promise<string> {
  const payment = m.payments[paymentIndex % m.payments.length];
  const reservationIndex = target === 'own' ? payment.forReservation : (payment.forReservation + 1) % m.reservations.length;
  const reservation = m.reservations[reservationIndex];
  const result = await r.system.gql(
    CONFIRM,
    { input: { reservationId: reservation.id, paymentId: payment.impUid, merchantUid: reservation.merchantUid } },
    await r.system.token(reservation.buyer),
  );
  const outcome = outcomeOf(result, 'confirmPayment');
  const typename = result.data?.confirmPayment?.__typename as string | undefined;
  const code = result.errors?.[0]?.extensions?.code;
  if (payment.variant === 'notOurs' && (typename || (code && !['PAYMENT_NOT_OURS', 'PAYMENT_NOT_COMPLETED', 'GATEWAY_UNAVAILABLE', 'INTERNAL_SERVER_ERROR'].includes(code)))) {
    r.findings.push({ class: 'API-NOT-OURS-ANSWER' as Violation['class'], gatewayPaymentId: payment.impUid, detail: `confirm of a payment that is not ours answered ${outcome}, expected PAYMENT_NOT_OURS` });
  }
  if (code === 'INTERNAL_SERVER_ERROR' && !r.failpointArmed) {
    r.findings.push({ class: 'API-INTERNAL-SERVER-ERROR' as Violation['class'], gatewayPaymentId: payment.impUid, detail: `confirm answered INTERNAL_SERVER_ERROR with the database up and no failpoint armed (${payment.variant} payment)` });
  }
  if (payment.variant === 'sandbox' && typename) {
    r.findings.push({ class: 'API-SANDBOX-ANSWER' as Violation['class'], gatewayPaymentId: payment.impUid, detail: `confirm of a sandbox payment answered ${outcome}, expected PAYMENT_NOT_COMPLETED` });
  }
  return `= ${payment.label} for r${reservationIndex} -> ${outcome}`;
}

class ConfirmCommand implements MoneyCommand {
  constructor(readonly payment: number, readonly target: 'own' | 'other') {}
  check = (m: Readonly<MoneyModel>) => m.payments.length > 0;
  async run(m: MoneyModel, r: MoneyReal): Promise<void> {
    r.trace.push(`${this} ${await confirm(m, r, this.payment, this.target)}`);
  }
  toString = () => `confirm(p${this.payment}${this.target === 'other' ? ', for another reservation' : ''})`;
}

class WebhookCommand implements MoneyCommand {
  constructor(readonly payment: number, readonly status: 'paid' | 'cancelled') {}
  check = (m: Readonly<MoneyModel>) => m.payments.length > 0;
  async run(m: MoneyModel, r: MoneyReal): Promise<void> {
    const payment = pick(m.payments, this.payment);
    await r.system.sendWebhook(payment.impUid, payment.merchantUid, this.status);
    r.trace.push(`${this}`);
  }
  toString = () => `webhook(p${this.payment}, ${this.status})`;
}

class ReconcileCommand implements MoneyCommand {
  check = () => true;
  async run(_m: MoneyModel, r: MoneyReal): Promise<void> {
    try {
      const report = await r.system.app.services.reconciliation.run();
      r.trace.push(`${this} -> ${JSON.stringify(report)}`);
    } catch (error) {
      r.trace.push(`${this} -> threw ${(error as Error).message}`);
    }
  }
  toString = () => 'reconcile()';
}

class ExternalCancelCommand implements MoneyCommand {
  constructor(readonly payment: number, readonly kind: 'full' | 'partial') {}
  check = (m: Readonly<MoneyModel>) => m.payments.length > 0;
  async run(m: MoneyModel, r: MoneyReal): Promise<void> {
    const payment = pick(m.payments, this.payment);
    r.trace.push(`${this} -> ${await r.system.externalCancel(payment.impUid, this.kind)}`);
  }
  toString = () => `consoleCancel(p${this.payment}, ${this.kind})`;
}

class FaultCommand implements MoneyCommand {
  constructor(readonly endpoint: SimulatorEndpoint | 'all', readonly kind: FaultKind, readonly times: number) {}
  check = () => true;
  async run(_m: MoneyModel, r: MoneyReal): Promise<void> {
    await r.system.control.injectFault({
      endpoint: this.endpoint,
      kind: this.kind,
      times: this.times,
      latencyMs: this.kind === 'latency' ? SLOW_RESPONSE_MS : undefined,
    });
    r.trace.push(`${this}`);
  }
  toString = () => `fault(${this.endpoint}, ${this.kind}${this.kind === 'latency' ? ` ${SLOW_RESPONSE_MS}ms` : ''}, x${this.times})`;
}

class RetryRefundCommand implements MoneyCommand {
  constructor(readonly refund: number) {}
  check = () => true;
  async run(_m: MoneyModel, r: MoneyReal): Promise<void> {
    const admin = await r.system.token(ADMIN, ['admin']);
    const listed = await r.system.gql(REFUNDS, {}, admin);
    const refunds = (listed.data?.refunds ?? []) as Array<{ id: string; status: string; reason: string; paymentId: string }>;
    if (refunds.length === 0) {
      r.trace.push(`${this} -> no refunds`);
      return;
    }
    const ordered = [...refunds].sort((a, b) => a.paymentId.localeCompare(b.paymentId));
    const refund = pick(ordered, this.refund);
    const result = await r.system.gql(RETRY, { id: refund.id }, admin);
    r.trace.push(`${this} -> ${refund.reason}/${refund.status} of ${refund.paymentId}: ${outcomeOf(result, 'retryRefund')}`);
  }
  toString = () => `adminRetryRefund(#${this.refund})`;
}

/**
 * An admin presses "retry" while the first cancel of a refund is still on the wire (PortOne slow): the
 * confirmation of the payment and the admin's retryRefund race (MONEY-SPEC item 8, fencing).
 */
class RetryDuringSlowCancelCommand implements MoneyCommand {
  constructor(readonly payment: number) {}
  check = (m: Readonly<MoneyModel>) => m.payments.length > 0;
  async run(m: MoneyModel, r: MoneyReal): Promise<void> {
    const payment = pick(m.payments, this.payment);
    await r.system.control.injectFault({ endpoint: 'cancel', kind: 'latency', times: 1, latencyMs: SLOW_RESPONSE_MS });
    const admin = await r.system.token(ADMIN, ['admin']);
    const confirming = confirm(m, r, this.payment, 'own');
    const retrying = (async () => {
      for (let i = 0; i < 20; i += 1) {
        await new Promise((resolve) => setTimeout(resolve, 50));
        const listed = await r.system.gql(REFUNDS, {}, admin);
        const refund = ((listed.data?.refunds ?? []) as Array<{ id: string; paymentId: string }>).find((x) => x.paymentId === payment.impUid);
        if (refund) return outcomeOf(await r.system.gql(RETRY, { id: refund.id }, admin), 'retryRefund');
      }
      return 'no refund to retry';
    })();
    const [confirmed, retried] = await Promise.all([confirming, retrying]);
    await r.system.waitForQueueQuiet();
    r.trace.push(`${this} confirm ${confirmed}; retry -> ${retried}`);
  }
  toString = () => `adminRetryDuringSlowCancel(p${this.payment})`;
}

class BuyerCancelCommand implements MoneyCommand {
  constructor(readonly reservation: number) {}
  check = (m: Readonly<MoneyModel>) => m.reservations.length > 0;
  async run(m: MoneyModel, r: MoneyReal): Promise<void> {
    const reservation = pick(m.reservations, this.reservation);
    const result = await r.system.gql(CANCEL, { input: { reservationId: reservation.id } }, await r.system.token(reservation.buyer));
    r.trace.push(`${this} -> ${outcomeOf(result, 'cancelReservation')}`);
  }
  toString = () => `buyerCancel(r${this.reservation})`;
}

class AdvanceClockCommand implements MoneyCommand {
  constructor(readonly minutes: number) {}
  check = () => true;
  async run(_m: MoneyModel, r: MoneyReal): Promise<void> {
    await r.system.advanceClocks(this.minutes * 60_000);
    r.trace.push(`${this}`);
  }
  toString = () => `clock(+${this.minutes} min)`;
}

/** The process dies (here: the failpoint throws) inside a confirmation; then a new process starts. */
class CrashCommand implements MoneyCommand {
  constructor(readonly payment: number, readonly failpoint: FailpointName) {}
  check = (m: Readonly<MoneyModel>) => m.payments.length > 0;
  async run(m: MoneyModel, r: MoneyReal): Promise<void> {
    r.failpointUsed = true;
    r.system.app.failpoints.enable(this.failpoint, 'throw');
    r.failpointArmed = true;
    let outcome: string;
    try {
      outcome = await confirm(m, r, this.payment, 'own');
    } finally {
      r.system.app.failpoints.disable();
      r.failpointArmed = false;
    }
    await r.system.restart();
    r.trace.push(`${this} ${outcome}, restarted`);
  }
  toString = () => `crashDuringConfirm(p${this.payment}, at ${this.failpoint})`;
}

class RestartCommand implements MoneyCommand {
  check = () => true;
  async run(_m: MoneyModel, r: MoneyReal): Promise<void> {
    await r.system.restart();
    r.trace.push(`${this}`);
  }
  toString = () => 'restart()';
}

/**
 * The stories of issue 10 as fixed histories: fast-check runs them first in every run (they are part of
 * the path numbering), so each known hole is tested whatever the seed.
 */
export function storyExamples(): Array<[['paid' | 'cancelled', MoneyCommand[]]]> {
  const stories: Array<['paid' | 'cancelled', MoneyCommand[]]> = [
    // 1: double click, the second payment's notification lost.
    ['paid', [new PayCommand(0, 'exact', true), new ConfirmCommand(0, 'own'), new PayCommand(0, 'exact', false)]],
    // 1: refunded first, then a correct payment whose notification is lost and whose browser closed.
    ['paid', [new PayCommand(0, 'tampered', true), new PayCommand(0, 'exact', false)]],
    // 3: a partial cancel reported with status "cancelled" while most of the money is still paid.
    ['cancelled', [new PayCommand(0, 'exact', false), new ExternalCancelCommand(0, 'partial')]],
    // 3: a refund pending while someone else cancels a part.
    ['cancelled', [new FaultCommand('cancel', 'http503', 3), new PayCommand(0, 'tampered', true), new ExternalCancelCommand(0, 'partial')]],
    // 4: USD 10.40.
    ['paid', [new PayCommand(0, 'usd', false)]],
    // 13: a 0-won paid record.
    ['paid', [new PayCommand(0, 'zeroWon', true), new ConfirmCommand(0, 'own')]],
    // 5: a sandbox payment.
    ['paid', [new PayCommand(0, 'sandbox', true), new ConfirmCommand(0, 'own')]],
    // 6: cancelled at the console after the booking was confirmed (full and partial).
    ['paid', [new PayCommand(0, 'exact', true), new ConfirmCommand(0, 'own'), new ExternalCancelCommand(0, 'full'), new WebhookCommand(0, 'cancelled')]],
    ['paid', [new PayCommand(0, 'exact', true), new ConfirmCommand(0, 'own'), new ExternalCancelCommand(0, 'partial')]],
    // 8: another shop's payment submitted as ours.
    ['paid', [new PayCommand(0, 'notOurs', true), new ConfirmCommand(0, 'own')]],
    // 9: retryRefund while the first cancel is slow.
    ['paid', [new PayCommand(0, 'tampered', false), new RetryDuringSlowCancelCommand(0)]],
    // 11/load: a late payment on a free seat while another expired hold on it is still HELD.
    ['paid', [new AdvanceClockCommand(11), new HoldCommand(0, 1), new AdvanceClockCommand(11), new PayCommand(0, 'exact', false), new ConfirmCommand(0, 'own')]],
    // 12: paid before the hold ended, confirmed after someone else held the seat.
    ['paid', [new PayCommand(0, 'exact', false), new AdvanceClockCommand(11), new HoldCommand(0, 1), new ConfirmCommand(0, 'own')]],
  ];
  return stories.map((story) => [story]);
}

const index = fc.nat({ max: 7 });
const faultEndpoints: Array<SimulatorEndpoint | 'all'> = ['getPayment', 'find', 'findAll', 'cancel', 'getToken', 'all'];

/** The command mix: buyers' actions weigh most; faults, crashes and clock jumps often enough to matter. */
export function moneyCommands(maxCommands: number) {
  return fc.commands<MoneyModel, MoneyReal, false>(
    [
      fc.record({ seat: fc.nat({ max: 1 }), buyer: fc.nat({ max: 1 }) }).map(({ seat, buyer }) => new HoldCommand(seat, buyer)),
      fc
        .record({
          reservation: index,
          variant: fc.constantFrom<PayVariant>('exact', 'exact', 'exact', 'tampered', 'usd', 'sandbox', 'otherReservation', 'notOurs', 'zeroWon'),
          webhook: fc.boolean(),
        })
        .map(({ reservation, variant, webhook }) => new PayCommand(reservation, variant, webhook)),
      fc
        .record({ reservation: index, variant: fc.constantFrom<PayVariant>('exact', 'tampered'), webhook: fc.boolean() })
        .map(({ reservation, variant, webhook }) => new PayCommand(reservation, variant, webhook)),
      fc
        .record({ reservation: index, variant: fc.constantFrom<PayVariant>('exact', 'exact', 'tampered'), webhook: fc.boolean() })
        .map(({ reservation, variant, webhook }) => new PayCommand(reservation, variant, webhook)),
      fc.record({ payment: index, target: fc.constantFrom<'own' | 'other'>('own', 'own', 'own', 'other') }).map(({ payment, target }) => new ConfirmCommand(payment, target)),
      fc.record({ payment: index, target: fc.constant<'own'>('own') }).map(({ payment, target }) => new ConfirmCommand(payment, target)),
      fc.record({ payment: index, target: fc.constant<'own'>('own') }).map(({ payment, target }) => new ConfirmCommand(payment, target)),
      fc.record({ payment: index, status: fc.constantFrom<'paid' | 'cancelled'>('paid', 'cancelled') }).map(({ payment, status }) => new WebhookCommand(payment, status)),
      fc.constant(new ReconcileCommand()),
      fc.record({ payment: index, kind: fc.constantFrom<'full' | 'partial'>('full', 'partial') }).map(({ payment, kind }) => new ExternalCancelCommand(payment, kind)),
      fc
        .oneof(
          fc.record({ endpoint: fc.constantFrom(...faultEndpoints), kind: fc.constantFrom<FaultKind>('http500', 'http503', 'reset', 'latency'), times: fc.integer({ min: 1, max: 3 }) }),
          fc.record({ endpoint: fc.constant<SimulatorEndpoint>('cancel'), kind: fc.constantFrom<FaultKind>('applyThenLose', 'applyThenGarble'), times: fc.integer({ min: 1, max: 2 }) }),
        )
        .map(({ endpoint, kind, times }) => new FaultCommand(endpoint, kind, times)),
      fc
        .oneof(
          fc.record({ endpoint: fc.constantFrom(...faultEndpoints), kind: fc.constantFrom<FaultKind>('http500', 'http503', 'reset', 'latency'), times: fc.integer({ min: 1, max: 3 }) }),
          fc.record({ endpoint: fc.constant<SimulatorEndpoint>('cancel'), kind: fc.constantFrom<FaultKind>('applyThenLose', 'applyThenGarble'), times: fc.integer({ min: 1, max: 2 }) }),
        )
        .map(({ endpoint, kind, times }) => new FaultCommand(endpoint, kind, times)),
      index.map((refund) => new RetryRefundCommand(refund)),
      index.map((reservation) => new BuyerCancelCommand(reservation)),
      index.map((payment) => new RetryDuringSlowCancelCommand(payment)),
      fc.constantFrom(3, 11, 15).map((minutes) => new AdvanceClockCommand(minutes)),
      fc
        .record({
          payment: index,
          failpoint: fc.constantFrom<FailpointName>('after-gateway-read', 'before-decision-commit', 'after-decision-commit', 'after-cancel-sent'),
        })
        .map(({ payment, failpoint }) => new CrashCommand(payment, failpoint)),
      fc.constant(new RestartCommand()),
    ],
    { maxCommands, size: 'max' },
  );
}
