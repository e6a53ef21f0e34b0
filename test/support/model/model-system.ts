import type { MikroORM } from '@mikro-orm/postgresql';
import fetch from 'node-fetch';
import pino from 'pino';
import { buildApp, type App } from '../../../src/app';
import type { Clock } from '../../../src/clock';
import { loadConfig } from '../../../src/config';
import { startPortOneSimulator, type PortOneSimulator, type PortOneSimulatorOptions } from '../../../src/gateway/portone/sim/portone-simulator';
import { SimulatorControlClient, type SimulatorLedger } from '../../../src/gateway/portone/sim/simulator-control.client';
import type { V1Payment } from '../../../src/gateway/portone/sim/simulator-state';
import { PortOneV1Client } from '../../../src/gateway/portone/v1/portone-v1.client';
import { checkMoneyInvariants, type MoneyCheckOptions, type Violation } from '../money-invariants-v2';
import { SIM_IMP_KEY, SIM_IMP_SECRET } from '../simulator-harness';
import { openTestDatabase, resetDatabase } from '../test-database';
import { TEST_JWT_SECRET } from '../test-app';

/**
 * Our clock and PortOne's move together: real time plus an offset that `advance` grows. The app gets
 * this clock; the simulator's clock is advanced by the same amount (the sweep's window is in PortOne's
 * time, MONEY-SPEC item 6), so a history can reach hold expiry without sleeping.
 */
export class SteppedClock implements Clock {
  offsetMs = 0;
  now(): Date {
    return new Date(Date.now() + this.offsetMs);
  }
}

export const MODEL_ENV: Record<string, string> = {
  NODE_ENV: 'test',
  JWT_SECRET: TEST_JWT_SECRET,
  LOG_LEVEL: 'silent',
  REFUND_BACKOFF_BASE_MS: '200',
  REFUND_BACKOFF_MAX_MS: '1000',
  PORTONE_CONNECT_TIMEOUT_MS: '500',
  PORTONE_RESPONSE_TIMEOUT_MS: '1000',
};

/** Latency a fault adds: longer than the client's response timeout, so the outcome is unknown to us. */
export const SLOW_RESPONSE_MS = 1300;

export interface GqlResult {
  data?: Record<string, any> | null;
  errors?: Array<{ message: string; extensions?: { code?: string } }>;
}

/**
 * The real system under a model test: one PostgreSQL database (this jest worker's), one in-process
 * PortOne simulator reached over HTTP by the real V1 client, and the app from `buildApp` listening on a
 * real port with its job-queue worker running. `restart` drops the app and builds a new one on the same
 * database, as a process restart would (in-memory state such as the token cache is lost).
 */
export class ModelSystem {
  app!: App;
  url!: string;
  private constructor(
    readonly orm: MikroORM,
    readonly simulator: PortOneSimulator,
    readonly simulatorOptions: PortOneSimulatorOptions,
    readonly control: SimulatorControlClient,
    readonly clock: SteppedClock,
  ) {}

  static async start(): Promise<ModelSystem> {
    const orm = await openTestDatabase();
    const simulatorOptions: PortOneSimulatorOptions = { impKey: SIM_IMP_KEY, impSecret: SIM_IMP_SECRET, control: true };
    const simulator = await startPortOneSimulator(simulatorOptions);
    const system = new ModelSystem(orm, simulator, simulatorOptions, new SimulatorControlClient(simulator.url), new SteppedClock());
    await system.buildApp();
    return system;
  }

  get webhookUrl(): string {
    return this.url.replace(/\/graphql$/, '/webhooks/portone');
  }

  private async buildApp(): Promise<void> {
    const config = loadConfig({ ...MODEL_ENV });
    const gateway = new PortOneV1Client({
      baseUrl: this.simulator.url,
      impKey: SIM_IMP_KEY,
      impSecret: SIM_IMP_SECRET,
      connectTimeoutMs: config.portone.connectTimeoutMs,
      responseTimeoutMs: config.portone.responseTimeoutMs,
    });
    this.app = await buildApp({
      config,
      orm: this.orm,
      logger: pino({ level: process.env.TEST_LOG_LEVEL ?? 'silent' }),
      gateway,
      clock: this.clock,
      startWorker: true,
      // The histories run reconciliation as a command, so that it is part of the history.
      startReconciliation: false,
    });
    const address = await this.app.server.listen({ port: 0, host: '127.0.0.1' });
    this.url = `${address}/graphql`;
  }

  /** A new process on the same database and the same PortOne. */
  async restart(): Promise<void> {
    await this.app.close();
    await this.buildApp();
  }

  async close(): Promise<void> {
    await this.app.close();
    await this.simulator.close();
    await this.orm.close(true);
  }

  /** Empty database, empty PortOne, both clocks back to real time. */
  async resetForHistory(partialCancelStatus: 'paid' | 'cancelled'): Promise<void> {
    this.app.failpoints.disable();
    this.simulator.state.faults = [];
    await this.waitForQueueQuiet();
    await resetDatabase(this.orm);
    this.simulator.state.reset();
    this.simulatorOptions.partialCancelStatus = partialCancelStatus;
    this.clock.offsetMs = 0;
  }

  async advanceClocks(ms: number): Promise<void> {
    this.clock.offsetMs += ms;
    await this.control.advanceClock(Math.round(ms / 1000));
  }

  async token(userId: string, roles: string[] = []): Promise<string> {
    return this.app.identity.sign(userId, { roles });
  }

  async gql(query: string, variables: Record<string, unknown>, token: string): Promise<GqlResult> {
    const response = await fetch(this.url, {
      method: 'POST',
      headers: { 'content-type': 'application/json', authorization: `Bearer ${token}` },
      body: JSON.stringify({ query, variables }),
    });
    return (await response.json()) as GqlResult;
  }

  /** What the buyer's payment window produces at PortOne; `webhook` says whether PortOne's notification reaches us. */
  async createPayment(input: {
    merchantUid: string;
    amount: number;
    currency?: string;
    sandbox: boolean;
    webhook: boolean;
  }): Promise<V1Payment> {
    const response = await fetch(`${this.simulator.url}/__control/payments`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({
        merchant_uid: input.merchantUid,
        amount: input.amount,
        currency: input.currency ?? 'KRW',
        sandbox: input.sandbox,
        notice_url: this.webhookUrl,
        webhook: input.webhook,
      }),
    });
    if (response.status !== 201) throw new Error(`simulator refused the payment: ${response.status} ${await response.text()}`);
    const payment = (await response.json()) as V1Payment;
    if (input.webhook) await this.waitForWebhookAnswered(payment.imp_uid, 1);
    return payment;
  }

  /** PortOne sends a notification for a payment now (a retry, a late one, or one for a cancel). */
  async sendWebhook(impUid: string, merchantUid: string, status: string): Promise<void> {
    await this.control.sendWebhook({ url: this.webhookUrl, imp_uid: impUid, merchant_uid: merchantUid, status, wait: true });
    await this.waitForQueueQuiet();
  }

  /**
   * A cancel made outside our server (the merchant console), full or partial. Injected faults are held
   * back meanwhile: they are meant for our server's calls.
   */
  async externalCancel(impUid: string, kind: 'full' | 'partial'): Promise<string> {
    const payment = this.simulator.state.payments.get(impUid);
    if (!payment) return 'unknown payment';
    const faults = this.simulator.state.faults;
    this.simulator.state.faults = [];
    try {
      if (kind === 'full') {
        if (payment.amount - payment.cancel_amount <= 0) return `nothing to cancel (${payment.status})`;
        const after = await this.control.consoleCancel(impUid).catch((error: Error) => {
          if (/at most the balance/.test(error.message)) return null; // emptied meanwhile by our own refund
          throw error;
        });
        if (!after) return 'nothing left to cancel';
        await this.waitForWebhookAnswered(impUid, 0);
        return `${after.status}, cancelled ${after.cancel_amount}`;
      }
      const balance = payment.amount - payment.cancel_amount;
      if (payment.status !== 'paid' || balance <= 0) return `nothing to cancel (${payment.status})`;
      // The merchant console: cancels part of it and its `cancelled` notification reaches us (even for a
      // payment whose own notifications were lost). A partial cancel that leaves the status `paid` AND
      // whose notification is lost is invisible to V1's listings: the README names that blind spot.
      const amount = Math.max(1, Math.floor(balance / 5));
      try {
        await this.control.consoleCancel(impUid, amount);
      } catch (error) {
        // Our own refund (a slow attempt still in flight) may have emptied it meanwhile.
        if (/at most the balance/.test((error as Error).message)) return 'nothing left to cancel';
        throw error;
      }
      await this.sendWebhook(impUid, payment.merchant_uid, 'cancelled');
      return `partial cancel of ${amount} applied`;
    } finally {
      this.simulator.state.faults = [...this.simulator.state.faults, ...faults];
    }
  }

  /** Waits (bounded) until a notification PortOne sent for this payment got an answer, then for the queue. */
  private async waitForWebhookAnswered(impUid: string, atLeast: number): Promise<void> {
    const deadline = Date.now() + 3000;
    while (Date.now() < deadline) {
      const sent = this.simulator.state.webhooks.filter((w) => w.payload.imp_uid === impUid);
      if (sent.length >= atLeast && sent.every((w) => w.httpStatus !== null || w.error !== null)) break;
      await sleep(20);
    }
    await this.waitForQueueQuiet();
  }

  /** Waits (bounded) until the job queue has no job due now and none running. */
  async waitForQueueQuiet(timeoutMs = 6000): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    const connection = this.orm.em.getConnection();
    while (Date.now() < deadline) {
      const [row] = await connection.execute(
        `select count(*)::int as busy from graphile_worker._private_jobs
          where (locked_at is not null and locked_at > now() - interval '30 seconds')
             or (locked_at is null and run_at <= now() and attempts < max_attempts)`,
      );
      if (row.busy === 0) return;
      await sleep(25);
    }
  }

  ledger(): Promise<SimulatorLedger> {
    return this.control.ledger();
  }

  /**
   * The end of every history: faults stop, and what the system does by itself (reconciliation, the
   * refund queue) runs until nothing changes, first now and then after every hold has ended (both clocks
   * moved past hold + grace). Bounded in rounds.
   */
  async drain(): Promise<void> {
    this.simulator.state.faults = [];
    this.app.failpoints.disable();
    const connection = this.orm.em.getConnection();
    const fingerprint = async () =>
      JSON.stringify([
        await connection.execute(`select status, count(*)::int from refund group by status order by status`),
        await connection.execute(`select status, count(*)::int from reservation group by status order by status`),
        await connection.execute(`select count(*)::int from payment`),
        this.simulator.state.cancelRequests.length,
      ]);
    for (const phase of [0, 1]) {
      if (phase === 1) await this.advanceClocks(20 * 60_000);
      let before = '';
      for (let round = 0; round < 6; round += 1) {
        await this.waitForQueueQuiet();
        await this.app.services.reconciliation.run();
        const pending: Array<{ id: string }> = await connection.execute(`select id from refund where status = 'PENDING'`);
        for (const { id } of pending) await this.app.services.refunds.attempt(id);
        await this.waitForQueueQuiet();
        const after = await fingerprint();
        if (after === before) break;
        before = after;
      }
    }
  }

  async check(options: MoneyCheckOptions): Promise<Violation[]> {
    const connection = this.orm.em.getConnection();
    return checkMoneyInvariants((sql) => connection.execute(sql), await this.ledger(), options);
  }
}

export function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}
