import { startPortOneSimulator, type PortOneSimulatorOptions } from '../../src/gateway/portone/sim/portone-simulator';
import { SimulatorControlClient } from '../../src/gateway/portone/sim/simulator-control.client';
import type { CancelRequestRecord, FaultKind, SimulatorEndpoint, V1Payment } from '../../src/gateway/portone/sim/simulator-state';

export const SIM_IMP_KEY = 'test-imp-key';
export const SIM_IMP_SECRET = 'test-imp-secret';

/** The simulator as tests use it: a real HTTP server, driven only through its control API. */
export interface SimulatorHarness {
  url: string;
  impKey: string;
  impSecret: string;
  control: SimulatorControlClient;
  pay(options: {
    merchantUid: string;
    amount: number;
    currency?: string;
    status?: V1Payment['status'];
    webhookUrl?: string;
    webhookContentType?: 'json' | 'form';
  }): Promise<string>;
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
      const input = {
        merchant_uid: p.merchantUid,
        amount: p.amount,
        currency: p.currency,
        status: p.status,
        notice_url: p.webhookUrl,
        webhook: p.webhookUrl !== undefined,
        webhook_content_type: p.webhookContentType,
        // A buyer's real payment: live, not the test channel (a sandbox payment is not money, MONEY-SPEC 2).
        sandbox: false,
      };
      const payment = await control.createPayment(input);
      return payment.imp_uid;
    },
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
