import { PortOneV2SimulatorControlClient, type V2ApiPayment } from '../../src/gateway/portone/sim/v2/portone-v2-simulator-control.client';
import { newWebhookSecret, startPortOneV2Simulator, type PortOneV2SimulatorOptions } from '../../src/gateway/portone/sim/v2/portone-v2-simulator';
import type { V2CancelRequestRecord, V2FaultKind, V2PaymentMethodKind, V2PaymentStatus, V2SimulatorEndpoint } from '../../src/gateway/portone/sim/v2/portone-v2-simulator-state';
import { minorDigits } from '../../src/gateway/portone/v2/portone-v2.client';
import { useStarted } from './use-started';

export const SIM_V2_API_SECRET = 'test-v2-api-secret';
export const SIM_V2_STORE_ID = 'store-00000000-0000-0000-0000-00000000test';
/** Another store the same secret can reach: its payments must never be confirmed or cancelled by us. */
export const SIM_V2_OTHER_STORE_ID = 'store-00000000-0000-0000-0000-0000000other';

/**
 * The V2 simulator as tests use it, shaped like the V1 harness so payment scenarios can run against
 * both versions. Amounts are in the currency's major unit here (as on the gateway port) and converted
 * to V2's smallest unit on the wire.
 */
export interface SimulatorHarnessV2 {
  url: string;
  apiSecret: string;
  storeId: string;
  webhookSecrets: string[];
  control: PortOneV2SimulatorControlClient;
  /** Creates the payment the buyer's window would; the V2 payment id is the merchantUid. Returns it. */
  pay(options: {
    merchantUid: string;
    amount: number;
    currency?: string;
    status?: V2PaymentStatus;
    method?: V2PaymentMethodKind;
    sandbox?: boolean;
    storeId?: string;
    webhook?: boolean;
  }): Promise<string>;
  fault(options: { endpoint: V2SimulatorEndpoint | 'all'; kind: V2FaultKind; times?: number; latencyMs?: number; httpStatus?: number; type?: string; message?: string }): Promise<void>;
  clearFaults(): Promise<void>;
  payment(paymentId: string, storeId?: string): Promise<V2ApiPayment>;
  allPayments(): Promise<V2ApiPayment[]>;
  /** Cancel requests received for a payment, with the amount, guard and Idempotency-Key they carried (major units). */
  cancelRequests(paymentId: string): Promise<Array<V2CancelRequestRecord & { amount: number | null; guard: number | null }>>;
  webhookDeliveries(paymentId: string): Promise<Array<{ type: string; status: number | null; webhookId: string }>>;
  /** The buyer deposits into an issued virtual account: PAID, and `Transaction.Paid` when a webhook URL is set. */
  deposit(paymentId: string): Promise<V2ApiPayment>;
  /** Where automatic webhooks go (the app's `/webhooks/portone`, known once it listens). */
  setWebhookUrl(url: string | null): void;
  reset(): Promise<void>;
  close(): Promise<void>;
}

export async function startSimulatorHarnessV2(options: Partial<PortOneV2SimulatorOptions> = {}): Promise<SimulatorHarnessV2> {
  const webhookSecrets = options.webhookSecrets ?? [newWebhookSecret()];
  const simulator = await startPortOneV2Simulator({
    apiSecret: SIM_V2_API_SECRET,
    storeId: SIM_V2_STORE_ID,
    otherStoreIds: [SIM_V2_OTHER_STORE_ID],
    control: true,
    ...options,
    webhookSecrets,
  });
  const control = new PortOneV2SimulatorControlClient(simulator.url);
  const all = async () => (await control.ledger()).payments;
  const major = (minor: number, currency: string) => minor / 10 ** minorDigits(currency);
  return {
    url: simulator.url,
    apiSecret: SIM_V2_API_SECRET,
    storeId: options.storeId ?? SIM_V2_STORE_ID,
    webhookSecrets,
    control,
    async pay(p) {
      const currency = p.currency ?? 'KRW';
      const payment = await control.createPayment({
        paymentId: p.merchantUid,
        amount: Math.round(p.amount * 10 ** minorDigits(currency)),
        currency,
        status: p.status,
        method: p.method,
        channelType: p.sandbox ? 'TEST' : 'LIVE',
        storeId: p.storeId,
        webhook: p.webhook ?? false,
      });
      return payment.id;
    },
    fault: (f) => control.injectFault(f),
    clearFaults: () => control.clearFaults(),
    async payment(paymentId, storeId = options.storeId ?? SIM_V2_STORE_ID) {
      const found = (await all()).find((p) => p.id === paymentId && p.storeId === storeId);
      if (!found) throw new Error(`V2 simulator has no payment ${paymentId} in ${storeId}`);
      return found;
    },
    allPayments: all,
    async cancelRequests(paymentId) {
      const ledger = await control.ledger();
      const currencyOf = (r: V2CancelRequestRecord) => String(ledger.payments.find((p) => p.id === r.paymentId && p.storeId === r.storeId)?.currency ?? 'KRW');
      return ledger.cancelRequests
        .filter((r) => r.paymentId === paymentId)
        .map((r) => ({
          ...r,
          amount: typeof r.body.amount === 'number' ? major(r.body.amount, currencyOf(r)) : null,
          guard: typeof r.body.currentCancellableAmount === 'number' ? major(r.body.currentCancellableAmount, currencyOf(r)) : null,
        }));
    },
    async webhookDeliveries(paymentId) {
      return (await control.ledger()).webhooks
        .filter((w) => (JSON.parse(w.body) as { data?: { paymentId?: string } }).data?.paymentId === paymentId)
        .map((w) => ({ type: w.type, status: w.httpStatus, webhookId: w.webhookId }));
    },
    deposit: (paymentId) => control.deposit(paymentId),
    setWebhookUrl: (url) => simulator.setWebhookUrl(url),
    reset: () => control.reset(),
    close: () => simulator.close(),
  };
}

/** startSimulatorHarnessV2 for a whole test file: reset before each test, closed after the last (see useStarted). */
export function useSimulatorHarnessV2(options: Partial<PortOneV2SimulatorOptions> = {}): SimulatorHarnessV2 {
  return useStarted('the PortOne V2 simulator', () => startSimulatorHarnessV2(options), { reset: (s) => s.reset(), close: (s) => s.close() });
}
