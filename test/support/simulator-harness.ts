import { startPortOneSimulator, type PortOneSimulatorOptions } from '../../src/gateway/portone/sim/portone-simulator';
import { SimulatorControlClient, type SimulatedPaymentInput } from '../../src/gateway/portone/sim/simulator-control.client';
import type { CancelRequestRecord, FaultKind, SimulatorEndpoint, SimulatorRuntimeOptions, V1Payment } from '../../src/gateway/portone/sim/simulator-state';
import { useStarted } from './use-started';

/** A payment made in the buyer's PortOne window, as tests describe it. */
export interface HarnessPayment {
  merchantUid: string;
  /** Exact, decimals allowed (USD 10.40 is 10.4). */
  amount: number;
  currency?: string;
  /** `ready` with payMethod `vbank` is an issued, unpaid virtual account. */
  status?: 'ready' | 'paid' | 'failed';
  /** Default `card`. */
  payMethod?: string;
  /** Test channel; default false (a live payment). */
  sandbox?: boolean;
  /** Sends the notification there; no webhook when absent. */
  webhookUrl?: string;
  webhookContentType?: 'json' | 'form';
}

function toControlInput(p: HarnessPayment): SimulatedPaymentInput {
  return {
    merchant_uid: p.merchantUid,
    amount: p.amount,
    currency: p.currency,
    status: p.status,
    pay_method: p.payMethod,
    sandbox: p.sandbox,
    notice_url: p.webhookUrl,
    webhook: p.webhookUrl !== undefined,
    webhook_content_type: p.webhookContentType,
  };
}

export const SIM_IMP_KEY = 'test-imp-key';
export const SIM_IMP_SECRET = 'test-imp-secret';

/** The simulator as tests use it: a real HTTP server, driven only through its control API. */
export interface SimulatorHarness {
  url: string;
  impKey: string;
  impSecret: string;
  control: SimulatorControlClient;
  /** Returns the new payment's imp_uid. */
  pay(options: HarnessPayment): Promise<string>;
  /** Many payments in one control request; returns their imp_uids in order. */
  payMany(payments: HarnessPayment[]): Promise<string[]>;
  /** The buyer deposits into an issued virtual account (ready → paid); sends the `paid` webhook unless `webhook: false`. */
  deposit(impUid: string, options?: { webhook?: boolean }): Promise<V1Payment>;
  /** A cancel outside our server (console, PG, chargeback): the whole balance or `amount`; sends the `cancelled` webhook. */
  consoleCancel(impUid: string, amount?: number): Promise<V1Payment>;
  /** Switches UNCONFIRMED simulator behaviour (e.g. the status after a partial cancel) until the next reset. */
  setOptions(options: Partial<SimulatorRuntimeOptions>): Promise<SimulatorRuntimeOptions>;
  fault(options: { endpoint: SimulatorEndpoint | 'all'; kind: FaultKind; times?: number; latencyMs?: number; code?: number; message?: string }): Promise<void>;
  clearFaults(): Promise<void>;
  payment(impUid: string): Promise<V1Payment>;
  allPayments(): Promise<V1Payment[]>;
  /** Cancel requests received for a payment, with the amount and checksum they carried. */
  cancelRequests(impUid: string): Promise<Array<CancelRequestRecord & { amount: number; checksum: number }>>;
  webhookDeliveries(impUid: string): Promise<Array<{ status: number | null }>>;
  sendWebhook(options: { url: string; impUid: string; merchantUid?: string; status: string; contentType?: 'json' | 'form' }): Promise<void>;
  reset(): Promise<void>;
  close(): Promise<void>;
}

export async function startSimulatorHarness(options: Partial<PortOneSimulatorOptions> = {}): Promise<SimulatorHarness> {
  const simulator = await startPortOneSimulator({ impKey: SIM_IMP_KEY, impSecret: SIM_IMP_SECRET, control: true, ...options });
  const control = new SimulatorControlClient(simulator.url);
  return {
    url: simulator.url,
    impKey: SIM_IMP_KEY,
    impSecret: SIM_IMP_SECRET,
    control,
    async pay(p) {
      return (await control.createPayment(toControlInput(p))).imp_uid;
    },
    async payMany(payments) {
      return (await control.createPayments(payments.map(toControlInput))).map((p) => p.imp_uid);
    },
    deposit: (impUid, o = {}) => control.setStatus(impUid, 'paid', o.webhook ?? true),
    consoleCancel: (impUid, amount) => control.consoleCancel(impUid, amount),
    setOptions: (o) => control.setOptions(o),
    fault: (f) => control.injectFault(f),
    clearFaults: () => control.clearFaults(),
    async payment(impUid) {
      const found = (await control.ledger()).payments.find((p) => p.imp_uid === impUid);
      if (!found) throw new Error(`simulator has no payment ${impUid}`);
      return found;
    },
    allPayments: async () => (await control.ledger()).payments,
    async cancelRequests(impUid) {
      return (await control.ledger()).cancelRequests
        .filter((c) => c.impUid === impUid || c.body.imp_uid === impUid)
        .map((c) => ({ ...c, amount: Number(c.body.amount), checksum: Number(c.body.checksum) }));
    },
    async webhookDeliveries(impUid) {
      return (await control.ledger()).webhooks.filter((w) => w.payload.imp_uid === impUid).map((w) => ({ status: w.httpStatus }));
    },
    sendWebhook: (w) =>
      control.sendWebhook({ url: w.url, imp_uid: w.impUid, merchant_uid: w.merchantUid, status: w.status, contentType: w.contentType, wait: true }),
    reset: () => control.reset(),
    close: () => simulator.close(),
  };
}

/** startSimulatorHarness for a whole test file: reset before each test, closed after the last (see useStarted). */
export function useSimulatorHarness(options: Partial<PortOneSimulatorOptions> = {}): SimulatorHarness {
  return useStarted('the PortOne V1 simulator', () => startSimulatorHarness(options), { reset: (s) => s.reset(), close: (s) => s.close() });
}
