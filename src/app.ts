import 'reflect-metadata';
import { ApolloServer } from '@apollo/server';
import { abuseLimits } from './graphql/abuse-limits';
import { fastifyApolloDrainPlugin, fastifyApolloHandler } from '@as-integrations/fastify';
import type { MikroORM } from '@mikro-orm/postgresql';
import Fastify, { type FastifyBaseLogger, type FastifyInstance } from 'fastify';
import type { Logger } from 'pino';
import { JwtIdentity } from './auth/identity';
import { EventService } from './booking/event.service';
import { ReservationService } from './booking/reservation.service';
import { systemClock, type Clock } from './clock';
import type { AppConfig } from './config';
import { createRequestLoaders, localeFromAcceptLanguage, type RequestContext } from './graphql/context';
import { createErrorFormatter } from './graphql/error-formatting';
import { buildGraphQLSchema } from './graphql/schema';
import { Failpoints } from './failpoints';
import type { PaymentGateway } from './gateway/payment-gateway';
import { PortOneV2WebhookVerifier } from './gateway/portone/v2/portone-v2.webhook';
import { PaymentEventLog } from './payment/event-log/payment-event-log';
import { migrateJobQueue, startPaymentWorker } from './payment/adapters/payment-worker';
import { PaymentSettlementService } from './payment/settlement/payment-settlement.service';
import { RefundService } from './payment/refunds/refund.service';
import { PartnerService } from './partner/partner.service';
import { registerPortOneWebhook } from './payment/adapters/portone-webhook.route';
import { registerRefundMetrics } from './payment/refunds/refund-metrics';
import { AppMetrics } from './observability/app-metrics';
import { instrumentServices } from './observability/service-metrics';
import { ReconciliationService } from './payment/reconciliation/reconciliation.service';
import { scheduleReconciliation } from './payment/settlement/settlement-queue';
import { resolveCallerHook, viewerOfRequest } from './auth/request-viewer';
import { nulCharacterGuard } from './graphql/nul-character-guard';
import { uncacheableResponses } from './graphql/uncacheable-responses';
import { httpServerOptions, registerHttpEdge } from './http/http-edge';
import { registerMetricsRoute } from './http/metrics-route';
import { registerCors } from './http/cors';
import { registerAdminConsole } from './http/admin-console';
import { registerDemoCheckout } from './http/demo-checkout';
import { GRAPHQL_IDE_CSP_DIRECTIVES, graphQLIdeLandingPage, registerGraphQLIdeAssets } from './http/graphql-ide';
import { anonymousRateLimit, createBuyerRateLimiter, webhookRateLimit } from './http/rate-limits';
import { refundAttemptLeaseMs } from './payment/refunds/refund-attempts';
import { finishesBy } from './shutdown';

export interface AppDependencies {
  config: AppConfig;
  orm: MikroORM;
  logger: Logger;
  gateway: PaymentGateway;
  clock?: Clock;
  failpoints?: Failpoints;
  /** Run the job-queue workers in this process (default true). */
  startWorker?: boolean;
  /** Schedule the periodic reconciliation job (default true; tests run it by hand). */
  startReconciliation?: boolean;
  /** The metrics the gateway client reports to (its `onCall`); a fresh set when not given. */
  metrics?: AppMetrics;
  /** When PortOne is simulated, the simulator's API base URL for PORTONE_VERSION: the checkout at /demo opens its payment window there. */
  simulatorUrl?: string | null;
}

export interface App {
  server: FastifyInstance;
  /** Serves /metrics alone when METRICS_PORT is set; the caller listens on it (null otherwise). */
  metricsServer: FastifyInstance | null;
  identity: JwtIdentity;
  services: {
    events: EventService;
    reservations: ReservationService;
    settlement: PaymentSettlementService;
    refunds: RefundService;
    paymentEvents: PaymentEventLog;
    reconciliation: ReconciliationService;
    partners: PartnerService;
  };
  failpoints: Failpoints;
  /**
   * Stops accepting connections, lets in-flight requests and the running jobs finish until `timeoutMs`
   * (default SHUTDOWN_TIMEOUT_MS) has passed, then cuts what is left. The ORM stays open: the caller
   * closes it afterwards.
   */
  close(options?: { timeoutMs?: number }): Promise<void>;
}

/**
 * The composition root: config → clients → services → resolvers → HTTP. `main.ts` runs it for real;
 * tests build the same graph with their own database and clock.
 */
export async function buildApp(deps: AppDependencies): Promise<App> {
  const { config, orm, logger } = deps;
  const clock = deps.clock ?? systemClock;
  const identity = new JwtIdentity(config.jwtSecret, { maxLifetimeSeconds: config.jwtMaxLifetimeSeconds });
  const events = new EventService(clock);
  const reservations = new ReservationService(clock, config.holdMinutes, config.holdPaymentGraceMs, config.holdMaxPerBuyerPerEvent);
  const partners = new PartnerService(clock);
  const failpoints = deps.failpoints ?? new Failpoints(config.failpoints);
  const paymentEvents = new PaymentEventLog(logger);
  const refunds = new RefundService(
    orm,
    deps.gateway,
    paymentEvents,
    {
      ...config.refunds,
      attemptLeaseMs: refundAttemptLeaseMs(config.portone),
    },
    clock,
    failpoints,
    logger,
  );
  const verification = { allowSandbox: config.portone.allowSandbox };
  const settlement = new PaymentSettlementService(deps.gateway, refunds, paymentEvents, clock, failpoints, logger, {
    ...verification,
    holdGraceMs: config.holdPaymentGraceMs,
    storeId: config.portone.version === 'v2' ? config.portone.storeId : undefined,
  });
  const staleJobLockMs = Math.max(60_000, 2 * refundAttemptLeaseMs(config.portone));
  const reconciliation = new ReconciliationService(
    orm,
    deps.gateway,
    settlement,
    paymentEvents,
    {
      intervalMs: config.reconciliation.intervalMs,
      graceMs: config.reconciliation.graceMs,
      sweepOverlapMs: config.reconciliation.sweepOverlapMs,
      sweepLookbackMs: 86_400_000,
      sweepPageSize: config.reconciliation.sweepPageSize,
      sweepMaxPagesPerRun: 100,
      reportBackoffBaseMs: 30_000,
      reportBackoffMaxMs: 3_600_000,
      reportGiveUpMs: 7 * 86_400_000,
      batchSize: 200,
      staleJobLockMs,
    },
    verification,
    clock,
    logger,
  );
  const metrics = deps.metrics ?? new AppMetrics();
  instrumentServices(metrics, { settlement, reconciliation });
  reservations.setConfirmedCancellation({ cancelConfirmed: (em, reservation) => refunds.cancelConfirmed(em, reservation.id) });

  const connectionString = orm.config.get('clientUrl') as string;
  await migrateJobQueue(connectionString, logger);
  const worker =
    deps.startWorker === false
      ? null
      : await startPaymentWorker({
          connectionString,
          orm,
          refunds,
          settlement,
          reconciliation,
          reconcileIntervalMs: config.reconciliation.intervalMs,
          logger,
          pollIntervalMs: Math.min(1000, config.refunds.backoffBaseMs),
          staleJobLockMs,
          shutdownTimeoutMs: config.shutdownTimeoutMs,
        });
  if (worker && deps.startReconciliation !== false) {
    await scheduleReconciliation(orm.em.fork(), new Date(), 'preserve_run_at');
  }

  const server = Fastify({
    loggerInstance: logger as FastifyBaseLogger,
    bodyLimit: 256 * 1024,
    requestIdHeader: 'x-request-id',
    ...httpServerOptions(config.http),
  });
  await registerHttpEdge(server);
  await registerCors(server, config.corsOrigins);
  metrics.observeWebhookRoute(server, '/webhooks/portone');
  const buyerRateLimiter = createBuyerRateLimiter(server, config.http.rateLimit);

  let closing = false;
  // A response finished while shutting down closes its connection: otherwise a keep-alive client holds
  // it open for Fastify's 72 s keep-alive timeout and the drain waits for nothing until its deadline.
  server.addHook('onSend', async (_request, reply) => {
    if (closing) reply.header('connection', 'close');
  });

  const schema = await buildGraphQLSchema({ events, reservations, settlement, refunds, paymentEvents, partners });
  const armor = abuseLimits({ production: config.nodeEnv === 'production' });
  const ide = {
    enabled: config.graphqlIde,
    // Development default only: the page opens ready to act as the seeded demo buyer.
    presetToken: config.demo ? () => identity.sign('demo-buyer') : undefined,
  };
  const apollo = new ApolloServer<RequestContext>({
    schema,
    introspection: config.introspection,
    parseOptions: { maxTokens: 3000 },
    includeStacktraceInErrorResponses: false,
    // main.ts owns SIGINT/SIGTERM and stops Apollo in order; Apollo's own handler would race it.
    stopOnTerminationSignals: false,
    allowBatchedHttpRequests: false,
    csrfPrevention: true,
    formatError: createErrorFormatter(logger),
    validationRules: armor.validationRules,
    plugins: [...armor.plugins, ...uncacheableResponses(), nulCharacterGuard(), graphQLIdeLandingPage(ide), fastifyApolloDrainPlugin(server)],
  });
  await apollo.start();

  const graphqlRoute = {
    url: '/graphql',
    // Runs before the anonymous rate limit, which needs to know whether the credentials hold.
    onRequest: [resolveCallerHook(server, { identity, partners, newEntityManager: () => orm.em.fork() })],
    config: { rateLimit: anonymousRateLimit(config.http.rateLimit) },
    handler: fastifyApolloHandler(apollo, {
      context: async (request) => {
        const viewer = viewerOfRequest(request);
        const em = orm.em.fork();
        return {
          em,
          viewer,
          locale: localeFromAcceptLanguage(request.headers['accept-language']),
          log: request.log as Logger,
          loaders: createRequestLoaders(em, { holdGraceMs: config.holdPaymentGraceMs }),
          rateLimits: { consume: (operation) => buyerRateLimiter.consume(request, operation) },
        };
      },
    }),
  };
  // The GraphiQL page on GET loads its scripts from this origin only (src/http/graphql-ide.ts). POST keeps
  // the global headers: route-level helmet options are rebuilt on every request (~0.1 ms a confirm).
  server.route({ ...graphqlRoute, method: 'GET', helmet: { contentSecurityPolicy: { directives: GRAPHQL_IDE_CSP_DIRECTIVES } } });
  server.route({ ...graphqlRoute, method: ['POST', 'OPTIONS'] });

  registerGraphQLIdeAssets(server, ide);
  await registerAdminConsole(server);
  await registerDemoCheckout(server, {
    enabled: config.demoCheckout,
    mode: config.nodeEnv === 'production' ? 'production' : 'development',
    portone: config.portone,
    simulatorUrl: deps.simulatorUrl ?? null,
    presetToken: ide.presetToken,
  });
  await registerPortOneWebhook(server, {
    orm,
    events: paymentEvents,
    rateLimit: webhookRateLimit(config.http.rateLimit),
    v2:
      config.portone.version === 'v2'
        ? { verifier: new PortOneV2WebhookVerifier(config.portone.webhookSecrets), storeId: config.portone.storeId }
        : undefined,
  });

  registerRefundMetrics(metrics.registry, orm);
  let metricsServer: FastifyInstance | null = null;
  if (config.http.metricsPort === null) {
    registerMetricsRoute(server, metrics.registry, config.http.metricsToken);
  } else {
    metricsServer = Fastify({ loggerInstance: logger as FastifyBaseLogger, ...httpServerOptions(config.http) });
    registerMetricsRoute(metricsServer, metrics.registry, config.http.metricsToken);
  }
  server.get('/healthz', async () => ({ status: 'ok' }));
  server.get('/readyz', async (_request, reply) => {
    try {
      await orm.em.getConnection().execute('select 1');
      const pending = await orm.getMigrator().getPendingMigrations();
      if (pending.length > 0) {
        return reply.code(503).send({ status: 'not ready', reason: `${pending.length} migration(s) not applied` });
      }
      return { status: 'ready' };
    } catch (error) {
      logger.warn({ err: error }, 'readiness check failed');
      return reply.code(503).send({ status: 'not ready', reason: 'database unreachable' });
    }
  });

  return {
    server,
    metricsServer,
    identity,
    services: { events, reservations, settlement, refunds, paymentEvents, reconciliation, partners },
    failpoints,
    async close({ timeoutMs = config.shutdownTimeoutMs } = {}) {
      const deadline = Date.now() + timeoutMs;
      closing = true;
      // Both start now: Fastify refuses new connections (and answers 503 on kept-alive ones), closes
      // idle ones and waits for requests in flight; graphile-worker takes no new job and waits for the
      // running ones. The reconciliation schedule is a job too, so it stops with the worker.
      const httpClosed = server.close();
      const metricsClosed = metricsServer?.close();
      const workerStopped = worker ? worker.stop() : Promise.resolve();
      if (!(await finishesBy(httpClosed, deadline, logger, 'closing the HTTP server'))) {
        logger.warn({ timeoutMs }, 'requests still in flight at the shutdown deadline: closing their connections');
        server.server.closeAllConnections();
        await finishesBy(httpClosed, Date.now() + 5000, logger, 'closing the HTTP server');
      }
      await apollo.stop();
      if (metricsClosed) await finishesBy(metricsClosed, Date.now() + 5000, logger, 'closing the metrics server');
      // At the same deadline graphile-worker aborts the jobs still running (see startPaymentWorker): they
      // go back to the queue, which takes a moment more.
      if (!(await finishesBy(workerStopped, deadline + 5000, logger, 'stopping the job worker'))) {
        logger.warn({ timeoutMs }, 'the job worker did not stop in time: going on without it');
      }
    },
  };
}
