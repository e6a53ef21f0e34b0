import type { TypedDocumentNode } from '@graphql-typed-document-node/core';
import type { MikroORM, Options } from '@mikro-orm/postgresql';
import { print, type DocumentNode } from 'graphql';
import fetch from 'node-fetch';
import pino, { type Logger } from 'pino';
import { buildApp, type App } from '../../src/app';
import type { Clock } from '../../src/clock';
import type { Failpoints } from '../../src/failpoints';
import type { PaymentGateway } from '../../src/gateway/payment-gateway';
import { loadConfig, type AppConfig } from '../../src/config';
import { PortOneV1Client } from '../../src/gateway/portone/v1/portone-v1.client';
import { AppMetrics } from '../../src/observability/app-metrics';
import type { PortOneSimulatorOptions } from '../../src/gateway/portone/sim/portone-simulator';
import { createPortOneGateway } from '../../src/gateway/portone/portone-gateway';
import { startSimulatorHarness, type SimulatorHarness } from './simulator-harness';
import { startSimulatorHarnessV2, type SimulatorHarnessV2 } from './simulator-harness-v2';
import { openTestDatabase, resetDatabase } from './test-database';
import { useStarted } from './use-started';

export const TEST_JWT_SECRET = 'test-only-F4xh27jgT8pjbepscOmd-bLgUFJgDfOc';

export interface GraphQLResponse<T> {
  status: number;
  data?: T | null;
  errors?: Array<{ message: string; path?: string[]; extensions?: Record<string, unknown> }>;
}

export interface TestApp {
  app: App;
  simulator: SimulatorHarness;
  /** Present with `portoneVersion: 'v2'`: the V2 simulator the app talks to (signed webhooks go to the app). */
  v2: SimulatorHarnessV2 | null;
  gateway: PaymentGateway;
  orm: MikroORM;
  /** The GraphQL endpoint. */
  url: string;
  /** Where PortOne's notifications reach the app (`/webhooks/portone`). */
  webhookUrl: string;
  config: AppConfig;
  tokenFor(userId: string, roles?: string[]): Promise<string>;
  gql<TData, TVars>(
    document: TypedDocumentNode<TData, TVars> | DocumentNode | string,
    variables?: TVars,
    options?: { token?: string; headers?: Record<string, string> },
  ): Promise<GraphQLResponse<TData>>;
  reset(): Promise<void>;
  close(): Promise<void>;
}

/** How a test app differs from the default one (everything optional). */
export interface TestAppOptions {
  gateway?: PaymentGateway;
  clock?: Clock;
  env?: Record<string, string>;
  failpoints?: Failpoints;
  startWorker?: boolean;
  startReconciliation?: boolean;
  /** The app's logger (default: silent, or TEST_LOG_LEVEL). */
  logger?: Logger;
  /** Simulator start options (UNCONFIRMED PortOne behaviours, say). */
  simulator?: Partial<PortOneSimulatorOptions>;
  /** `v2`: the app is configured for PortOne V2 and talks to a V2 simulator (default v1). */
  portoneVersion?: 'v1' | 'v2';
  /** V2 webhook signing secrets (two during a rotation). */
  v2WebhookSecrets?: string[];
  /** Reach the database another way (a proxy) or tune the pool. */
  database?: { url?: string; overrides?: Partial<Options> };
}

/** The real app on a real port over this worker's real database. */
export async function startTestApp(options: TestAppOptions = {}): Promise<TestApp> {
  const orm = await openTestDatabase(options.database);
  const simulator = await startSimulatorHarness(options.simulator);
  const v2 = options.portoneVersion === 'v2' ? await startSimulatorHarnessV2(options.v2WebhookSecrets ? { webhookSecrets: options.v2WebhookSecrets } : {}) : null;
  const v2Env: Record<string, string> = v2
    ? { PORTONE_VERSION: 'v2', PORTONE_API_SECRET: v2.apiSecret, PORTONE_STORE_ID: v2.storeId, PORTONE_WEBHOOK_SECRET: v2.webhookSecrets.join(',') }
    : {};
  const config = loadConfig({ NODE_ENV: 'test', JWT_SECRET: TEST_JWT_SECRET, LOG_LEVEL: 'silent', ...v2Env, ...options.env });
  const metrics = new AppMetrics();
  // The real client over HTTP to the simulator: integration tiers never stub the gateway.
  const gateway =
    options.gateway ??
    (v2 ? createPortOneGateway({ ...config.portone, connectTimeoutMs: 2000, responseTimeoutMs: 5000 }, v2.url) : null) ??
    new PortOneV1Client({
      baseUrl: simulator.url,
      impKey: simulator.impKey,
      impSecret: simulator.impSecret,
      connectTimeoutMs: 2000,
      responseTimeoutMs: 5000,
      onCall: metrics.observeGatewayCall,
    });
  const logger = options.logger ?? pino({ level: process.env.TEST_LOG_LEVEL ?? 'silent' });
  const app = await buildApp({
    config,
    orm,
    logger,
    gateway,
    clock: options.clock,
    failpoints: options.failpoints,
    metrics,
    simulatorUrl: v2 ? v2.url : simulator.url,
    startWorker: options.startWorker,
    // Tests run reconciliation by hand, so that it never races the scenario under test.
    startReconciliation: options.startReconciliation ?? false,
  });
  const address = await app.server.listen({ port: 0, host: '127.0.0.1' });
  const url = `${address}/graphql`;
  const webhookUrl = `${address}/webhooks/portone`;
  v2?.setWebhookUrl(webhookUrl);

  return {
    app,
    simulator,
    v2,
    gateway,
    orm,
    url,
    webhookUrl,
    config,
    tokenFor: (userId, roles = []) => app.identity.sign(userId, { roles }),
    async gql(document, variables, requestOptions = {}) {
      const query = typeof document === 'string' ? document : print(document as DocumentNode);
      const response = await fetch(url, {
        method: 'POST',
        headers: {
          'content-type': 'application/json',
          ...(requestOptions.token ? { authorization: `Bearer ${requestOptions.token}` } : {}),
          ...requestOptions.headers,
        },
        body: JSON.stringify({ query, variables }),
      });
      const body = (await response.json()) as Omit<GraphQLResponse<never>, 'status'>;
      return { status: response.status, ...body } as GraphQLResponse<never>;
    },
    async reset() {
      await resetDatabase(orm);
      await simulator.reset();
      await v2?.reset();
    },
    async close() {
      await app.close();
      await simulator.close();
      await v2?.close();
      await orm.close(true);
    },
  };
}

/**
 * The set-up most app-backed test files share: one app for the file, every table and simulator emptied
 * before each test, `afterEachTest` (the money invariants, say) checked after each, closed at the end.
 * Call it at the top of a file or `describe`; see useStarted for when the returned app can be used.
 */
export function useTestApp(options: TestAppOptions = {}, hooks: { afterEachTest?: (t: TestApp) => Promise<void> } = {}): TestApp {
  return useStarted('the test app', () => startTestApp(options), { reset: (t) => t.reset(), close: (t) => t.close(), afterEachTest: hooks.afterEachTest });
}

/** A clock tests move by hand. */
export class ManualClock implements Clock {
  private current: number;
  constructor(start = new Date('2026-12-01T00:00:00Z')) {
    this.current = start.getTime();
  }
  now(): Date {
    return new Date(this.current);
  }
  advance(ms: number): void {
    this.current += ms;
  }
}
