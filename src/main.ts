import 'reflect-metadata';
import { writeFileSync } from 'node:fs';
import type { AddressInfo } from 'node:net';
import { resolve } from 'node:path';
import { buildApp } from './app';
import { seedDemoData } from './booking/demo-seed';
import { systemClock } from './clock';
import { ConfigError, loadConfig } from './config';
import { openDatabase } from './db/database';
import { EmbeddedPostgresUnreachable, type EmbeddedPostgresHandle } from './db/embedded-postgres';
import { startEmbeddedPostgresOnAnyPort } from './db/embedded-postgres-any-port';
import { createLogger } from './logger';
import { startPortOneSimulator, type PortOneSimulator } from './gateway/portone/sim/portone-simulator';
import { createPortOneGateway } from './gateway/portone/portone-gateway';
import { AppMetrics } from './observability/app-metrics';
import { GracefulShutdown } from './shutdown';

let shutdown: GracefulShutdown | null = null;

/**
 * `npm start`: everything a developer needs on a fresh machine (embedded PostgreSQL, PortOne simulator, demo
 * data and tokens), or, with NODE_ENV=production, only what is configured (config.ts refuses to start
 * without a database, a JWT secret and PortOne credentials there).
 */
async function main(): Promise<void> {
  const config = loadConfig();
  const logger = createLogger(config.logLevel);
  // Listening before anything is started, so a signal during startup also stops what already runs.
  shutdown = new GracefulShutdown({ logger, timeoutMs: config.shutdownTimeoutMs });
  shutdown.listen();

  let databaseUrl = config.databaseUrl;
  let embedded: EmbeddedPostgresHandle | null = null;
  if (!databaseUrl) {
    const dataDir = resolve(config.dataDir);
    logger.info({ dataDir }, 'DATABASE_URL is not set: starting an embedded PostgreSQL');
    // In its own session: Ctrl-C reaches only us, and PostgreSQL stops when we say so, last.
    embedded = await startEmbeddedPostgresOnAnyPort({
      dataDir,
      persistent: true,
      ownSession: true,
      log: (line) => logger.debug({ postgres: line }),
    });
    databaseUrl = `${embedded.baseUrl}/booking`;
    shutdown.onShutdown('embedded PostgreSQL', embedded.stop);
  }

  let portoneUrl = config.portone.apiUrl;
  let simulator: PortOneSimulator | null = null;
  if (!portoneUrl) {
    // Development only: a PortOne simulator in this process, its control API open to play the browser.
    const v2 = config.portone.version === 'v2';
    const started = await startPortOneSimulator({
      port: config.portone.simulatorPort,
      impKey: config.portone.impKey,
      impSecret: config.portone.impSecret,
      control: true,
      ...(v2 ? { v2: { apiSecret: config.portone.apiSecret, storeId: config.portone.storeId, webhookSecrets: config.portone.webhookSecrets, control: true, logger } } : {}),
      logger,
    });
    simulator = started;
    portoneUrl = v2 ? started.v2!.url : started.url;
    shutdown.onShutdown('PortOne simulator', () => started.close());
  }
  const metrics = new AppMetrics();
  const gateway = createPortOneGateway(config.portone, portoneUrl, logger, metrics.observeGatewayCall);

  const orm = await openDatabase(databaseUrl, logger);
  shutdown.onShutdown('database connections', () => orm.close(true));
  if (config.demo) {
    const seeded = await seedDemoData(orm.em.fork(), systemClock);
    if (seeded) logger.info({ eventId: seeded.id }, 'demo data seeded');
  }

  const app = await buildApp({ config, orm, logger, gateway, metrics, simulatorUrl: simulator ? portoneUrl : null });
  shutdown.onShutdown('HTTP server and job worker', () => app.close());
  await app.server.listen({ port: config.port, host: config.host });
  // PORT=0 lets the OS pick a free port; the `GraphQL:` line below reports the one bound (tests read it).
  const port = (app.server.server.address() as AddressInfo).port;
  simulator?.setWebhookUrl(`http://127.0.0.1:${port}/webhooks/portone`);
  simulator?.v2?.setWebhookUrl(`http://127.0.0.1:${port}/webhooks/portone`);
  if (app.metricsServer) await app.metricsServer.listen({ port: config.http.metricsPort ?? 0, host: config.host });

  const shownHost = ['0.0.0.0', '127.0.0.1', '::'].includes(config.host) ? 'localhost' : config.host.includes(':') ? `[${config.host}]` : config.host;
  const base = `http://${shownHost}:${port}`;
  const lines = [
    '',
    `GraphQL:      ${base}/graphql`,
    ...(config.graphqlIde ? [`GraphiQL:     ${base}/graphql  (open it in a browser)`] : []),
    `Console:      ${base}/admin  (operators: refunds, with an admin token)`,
    ...(config.demoCheckout ? [`Checkout:     ${base}/demo  (reference checkout: React + Apollo Client${simulator ? ', pays in the simulator\'s PortOne window' : ''})`] : []),
    `Health:       ${base}/healthz  ${base}/readyz`,
    `PortOne:      ${simulator ? `simulator at ${simulator.url} (control API: ${portoneUrl}/__control)` : portoneUrl}`,
    ...(config.portone.version === 'v2'
      ? [`PortOne V2:   API ${portoneUrl}, store ${config.portone.storeId}; signed webhooks to ${base}/webhooks/portone; paymentId = reservation.merchantUid`]
      : []),
    `Database:     ${embedded ? `embedded PostgreSQL on port ${embedded.port} (data in ${resolve(config.dataDir)})` : 'DATABASE_URL'}`,
    // Never in production: config.ts requires JWT_SECRET there.
    ...(config.jwtSecretGenerated ? [`JWT_SECRET:   ${config.jwtSecret}  (generated for this run; tokens signed with it end with it)`] : []),
  ];
  if (config.demo) {
    // Development default only (embedded database and generated secret): tokens valid for this run only.
    const buyerToken = await app.identity.sign('demo-buyer');
    const adminToken = await app.identity.sign('demo-admin', { roles: ['admin'] });
    lines.push(
      '',
      'Demo buyer token (Authorization: Bearer …):',
      buyerToken,
      '',
      'Demo admin token:',
      adminToken,
    );
    // For `npm run demo` on this machine.
    writeFileSync(resolve(config.dataDir, 'demo-tokens.json'), JSON.stringify({ buyer: buyerToken, admin: adminToken }), { mode: 0o600 });
  }
  process.stdout.write(`${lines.join('\n')}\n\n`);
}

main().catch(async (error) => {
  if (error instanceof ConfigError || error instanceof EmbeddedPostgresUnreachable) {
    process.stderr.write(`${error.message}\n`);
  } else {
    process.stderr.write(`Failed to start: ${error instanceof Error ? (error.stack ?? error.message) : String(error)}\n`);
  }
  // Stop whatever had started (the embedded PostgreSQL above all), then exit 1.
  if (shutdown) await shutdown.run(1);
  process.exit(1);
});
