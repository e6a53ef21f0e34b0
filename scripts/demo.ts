/**
 * `npm run demo`: the whole story against a running `npm start`, printing each step.
 *   1. hold a seat, pay exactly at the PortOne simulator (playing the browser's payment window), confirm;
 *   2. hold another seat, pay a tampered amount, confirm: PaymentRefunded, and the refund reaches SUCCEEDED.
 * Reads the demo tokens `npm start` wrote to .data/demo-tokens.json (or DEMO_BUYER_TOKEN).
 * With PORTONE_VERSION=v2 (as given to `npm start`) it plays the V2 window: paymentId = reservation.merchantUid.
 */
import { existsSync, readFileSync } from 'node:fs';
import { resolve } from 'node:path';
import fetch from 'node-fetch';
import { SimulatorControlClient } from '../src/gateway/portone/sim/simulator-control.client';
import { PortOneV2SimulatorControlClient } from '../src/gateway/portone/sim/v2/portone-v2-simulator-control.client';

const API = process.env.API_URL ?? `http://localhost:${process.env.PORT ?? 4000}`;
const SIMULATOR = process.env.PORTONE_SIMULATOR_URL ?? `http://127.0.0.1:${process.env.PORTONE_SIMULATOR_PORT ?? 4010}`;

function buyerToken(): string {
  if (process.env.DEMO_BUYER_TOKEN) return process.env.DEMO_BUYER_TOKEN;
  const file = resolve(process.env.DATA_DIR ?? '.data', 'demo-tokens.json');
  if (!existsSync(file)) throw new Error(`No demo token: start the server with npm start first (it writes ${file}), or set DEMO_BUYER_TOKEN`);
  return (JSON.parse(readFileSync(file, 'utf8')) as { buyer: string }).buyer;
}

async function gql<T>(query: string, variables: Record<string, unknown>, token: string): Promise<T> {
  const response = await fetch(`${API}/graphql`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', authorization: `Bearer ${token}`, 'accept-language': process.env.DEMO_LANG ?? 'ko' },
    body: JSON.stringify({ query, variables }),
  });
  const body = (await response.json()) as { data?: T; errors?: Array<{ message: string; extensions?: { code?: string } }> };
  if (body.errors?.length) throw new Error(`${body.errors[0].extensions?.code}: ${body.errors[0].message}`);
  return body.data as T;
}

/** The buyer's PortOne window, played at the simulator: returns the payment id confirmPayment is given. */
interface PaymentWindow {
  pay(merchantUid: string, amount: number): Promise<string>;
  ledgerOf(paymentId: string): Promise<Record<string, unknown>>;
}

function paymentWindow(): PaymentWindow {
  if ((process.env.PORTONE_VERSION ?? 'v1').toLowerCase() === 'v2') {
    const v2 = new PortOneV2SimulatorControlClient(`${SIMULATOR}/v2`);
    return {
      // V2: the merchant chooses the payment id; ours is the reservation's merchantUid (KRW has no minor unit).
      pay: async (merchantUid, amount) => (await v2.createPayment({ paymentId: merchantUid, amount })).id,
      async ledgerOf(paymentId) {
        const ledger = await v2.ledger();
        const payment = ledger.payments.find((p) => p.id === paymentId);
        return {
          status: payment?.status,
          amount: payment?.amount,
          cancels: ledger.cancelRequests.filter((c) => c.paymentId === paymentId).map((c) => ({ body: c.body, idempotencyKey: c.idempotencyKey, outcome: c.outcome })),
        };
      },
    };
  }
  const v1 = new SimulatorControlClient(SIMULATOR);
  return {
    pay: async (merchantUid, amount) => (await v1.createPayment({ merchant_uid: merchantUid, amount })).imp_uid,
    async ledgerOf(paymentId) {
      const ledger = await v1.ledger();
      const payment = ledger.payments.find((p) => p.imp_uid === paymentId);
      return {
        status: payment?.status,
        amount: payment?.amount,
        cancel_amount: payment?.cancel_amount,
        cancels: ledger.cancelRequests.filter((c) => c.impUid === paymentId).map((c) => ({ body: c.body, outcome: c.outcome })),
      };
    },
  };
}

const step = (n: string, text: string, detail?: unknown) =>
  console.log(`\n[${n}] ${text}${detail === undefined ? '' : `\n${JSON.stringify(detail, null, 2)}`}`);

const CONFIRM = `mutation($input: ConfirmPaymentInput!) { confirmPayment(input: $input) {
  __typename
  ... on PaymentConfirmed { paymentId amount reservation { id status seat { label } } }
  ... on PaymentRefunded { reason message refund { id status amount attempts } reservation { id status } } } }`;

async function main(): Promise<void> {
  const token = buyerToken();
  const window = paymentWindow();
  const { events } = await gql<{
    events: Array<{ id: string; title: string; startsAt: string; seats: Array<{ id: string; label: string; price: number; available: boolean }> }>;
  }>('{ events { id title startsAt seats { id label price available } } }', {}, token);
  // The soonest event that has not started and still has two free seats; `npm start` seeds a new demo
  // event whenever every event has started.
  const upcoming = events.filter((e) => Date.parse(e.startsAt) > Date.now()).sort((a, b) => Date.parse(a.startsAt) - Date.parse(b.startsAt));
  const event = upcoming.find((e) => e.seats.filter((s) => s.available).length >= 2);
  if (!event) throw new Error('Need an upcoming event with two free seats: restart npm start (it seeds one) or create an event');
  const free = event.seats.filter((s) => s.available).map((s) => ({ ...s, event: `${event.title}, ${event.startsAt}` }));

  // --- the honest buyer ---
  const hold = await gql<{ holdSeat: { id: string; merchantUid: string; amount: number; expiresAt: string } }>(
    'mutation($input: HoldSeatInput!) { holdSeat(input: $input) { id merchantUid amount expiresAt } }',
    { input: { seatId: free[0].id } },
    token,
  );
  step('1', `Held seat ${free[0].label} of "${free[0].event}"`, hold.holdSeat);
  const paidId = await window.pay(hold.holdSeat.merchantUid, hold.holdSeat.amount);
  step('2', `Paid ${hold.holdSeat.amount} won in the PortOne window (simulator): payment id ${paidId}`);
  const confirmed = await gql<{ confirmPayment: unknown }>(
    CONFIRM,
    { input: { reservationId: hold.holdSeat.id, paymentId: paidId, merchantUid: hold.holdSeat.merchantUid } },
    token,
  );
  step('3', 'confirmPayment: the server read the payment from PortOne and it matched', confirmed.confirmPayment);

  // --- the tampered payment ---
  const hold2 = await gql<{ holdSeat: { id: string; merchantUid: string; amount: number } }>(
    'mutation($input: HoldSeatInput!) { holdSeat(input: $input) { id merchantUid amount } }',
    { input: { seatId: free[1].id } },
    token,
  );
  step('4', `Held seat ${free[1].label}: price ${hold2.holdSeat.amount} won`);
  const tamperedId = await window.pay(hold2.holdSeat.merchantUid, 1000);
  step('5', `A tampered browser paid only 1000 won: payment id ${tamperedId}`);
  const refunded = await gql<{ confirmPayment: { __typename: string; refund?: { id: string; status: string } } }>(
    CONFIRM,
    { input: { reservationId: hold2.holdSeat.id, paymentId: tamperedId, merchantUid: hold2.holdSeat.merchantUid } },
    token,
  );
  step('6', 'confirmPayment: the server refused it and cancelled the payment at PortOne itself', refunded.confirmPayment);

  for (let i = 0; i < 40; i++) {
    const { reservation } = await gql<{ reservation: { status: string; refund: { status: string; attempts: number } | null } }>(
      'query($id: ID!) { reservation(id: $id) { status refund { status attempts } } }',
      { id: hold2.holdSeat.id },
      token,
    );
    if (reservation.refund?.status === 'SUCCEEDED') {
      step('7', 'The refund reached SUCCEEDED', reservation);
      break;
    }
    await new Promise((r) => setTimeout(r, 500));
  }
  step('8', "PortOne's own ledger (simulator) for the tampered payment", await window.ledgerOf(tamperedId));
}

main().catch((error) => {
  console.error(`demo failed: ${error instanceof Error ? error.message : String(error)}`);
  process.exit(1);
});
