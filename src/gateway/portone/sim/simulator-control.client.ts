import { SimulatorControlHttpClient } from './simulator-control-http';
import type { CancelRequestRecord, FaultKind, ListingRequestRecord, SimulatorEndpoint, SimulatorRuntimeOptions, V1Payment, WebhookRecord } from './simulator-state';

export interface SimulatorLedger {
  now: number;
  payments: V1Payment[];
  tokensIssued: Array<{ at: number; token: string; expiredAt: number; reused: boolean }>;
  /** TCP connections that carried at least one API call since the start or the last reset. */
  apiConnections: number;
  /** API requests per endpoint (`list`, `findAll`, `getPayment`…) since the start or the last reset. */
  apiCalls: Partial<Record<SimulatorEndpoint, number>>;
  listingRequests: ListingRequestRecord[];
  cancelRequests: CancelRequestRecord[];
  webhooks: WebhookRecord[];
  prepared: Array<{ merchant_uid: string; amount: number; currency: string | null }>;
}

/** A payment as the buyer's PortOne window would produce it. */
export interface SimulatedPaymentInput {
  merchant_uid: string;
  /** Exact, decimals allowed (USD 10.40 is 10.4). */
  amount: number;
  currency?: string;
  /** `ready` for an issued, unpaid virtual account (with pay_method `vbank`); default `paid`. */
  status?: 'ready' | 'paid' | 'failed';
  /** Default `card`; `vbank` for a virtual account. */
  pay_method?: string;
  /** A test-channel payment; default false (live). */
  sandbox?: boolean;
  notice_url?: string;
  webhook?: boolean;
  webhook_content_type?: 'json' | 'form';
}

/** Drives the simulator's `/__control` API over HTTP: what tests and the demo use to play the browser. */
export class SimulatorControlClient extends SimulatorControlHttpClient<SimulatorLedger> {
  constructor(baseUrl: string) {
    super(baseUrl, 'simulator control');
  }

  /** What the buyer's PortOne payment window produces; fires the notification unless `webhook: false`. */
  async createPayment(input: SimulatedPaymentInput): Promise<V1Payment> {
    return this.post('/__control/payments', input);
  }

  /** Many payments in one request, in order; refused as a whole at the first invalid one. */
  async createPayments(inputs: SimulatedPaymentInput[]): Promise<V1Payment[]> {
    return (await this.post<{ payments: V1Payment[] }>('/__control/payments/batch', { payments: inputs })).payments;
  }

  /** A late transition; `ready` → `paid` on a virtual account is the buyer's deposit. Refused on a cancelled record. */
  async setStatus(impUid: string, status: 'ready' | 'paid' | 'failed', webhook = true): Promise<V1Payment> {
    return this.post(`/__control/payments/${encodeURIComponent(impUid)}/status`, { status, webhook });
  }

  /** A cancel outside our server (PortOne console, PG, chargeback): the whole balance, or `amount` of it; sends the `cancelled` webhook. */
  async consoleCancel(impUid: string, amount?: number): Promise<V1Payment> {
    return this.post(`/__control/payments/${encodeURIComponent(impUid)}/console-cancel`, amount === undefined ? {} : { amount });
  }

  /** Switches UNCONFIRMED behaviours while running; `reset()` restores the start-up values. Returns the options now in force. */
  async setOptions(options: Partial<SimulatorRuntimeOptions>): Promise<SimulatorRuntimeOptions> {
    return this.post('/__control/options', options);
  }

  async options(): Promise<SimulatorRuntimeOptions> {
    return this.request('GET', '/__control/options');
  }

  async advanceClock(seconds: number): Promise<{ now: number }> {
    return this.post('/__control/clock', { advanceSeconds: seconds });
  }

  /** Stops PortOne's clock at its current second (`true`), or puts it back on its course (`false`). */
  async freezeClock(frozen: boolean): Promise<{ now: number }> {
    return this.post('/__control/clock', { freeze: frozen });
  }

  async injectFault(fault: {
    endpoint: SimulatorEndpoint | 'all';
    kind: FaultKind;
    times?: number;
    latencyMs?: number;
    code?: number;
    message?: string;
  }): Promise<void> {
    await this.post('/__control/faults', fault);
  }

  async sendWebhook(input: {
    url: string;
    imp_uid: string;
    merchant_uid?: string;
    status: string;
    contentType?: 'json' | 'form';
    delayMs?: number;
    duplicate?: boolean;
    wait?: boolean;
  }): Promise<void> {
    await this.post('/__control/webhooks', input);
  }
}
