import 'reflect-metadata';
import { writeFileSync } from 'node:fs';
import type { AddressInfo } from 'node:net';
import { resolve } from 'node:path';
import { buildApp } from './app';
import { seedDemoData } from './booking/demo-seed';
import { systemClock } from './clock';
import { ConfigError, loadConfig } from './config';
import { openDatabase } from './db/database';
import type { EmbeddedPostgresHandle } from './db/embedded-postgres';
import { startEmbeddedPostgresOnAnyPort } from './db/embedded-postgres-any-port';
import { createLogger } from './logger';
import { startPortOneSimulator, type PortOneSimulator } from './gateway/portone/sim/portone-simulator';
import { PortOneV1Client } from './gateway/portone/v1/portone-v1.client';
import { AppMetrics } from './observability/app-metrics';

/**
 * `npm start`: everything a developer needs on a fresh machine (embedded PostgreSQL, PortOne simulator, demo
 * data and tokens), or, with NODE_ENV=production, only what is configured (config.ts refuses to start
 * without a database, a JWT secret and PortOne credentials there).
 */
async function main(): Promise<void> {
  const config = loadConfig();
  const logger = createLogger(config.logLevel);
  const cleanups: Array<() => Promise<unknown>> = [];

  let databaseUrl = config.databaseUrl;
  let embedded: EmbeddedPostgresHandle | null = null;
  if (!databaseUrl) {
    const dataDir = resolve(config.dataDir);
    logger.info({ dataDir }, 'DATABASE_URL is not set: starting an embedded PostgreSQL');
    embedded = await startEmbeddedPostgresOnAnyPort({ dataDir, persistent: true, log: (line) => logger.debug({ postgres: line }) });
    databaseUrl = `${embedded.baseUrl}/booking`;
    const pg = embedded;
    cleanups.push(() => pg.stop());
  }

  let portoneUrl = config.portone.apiUrl;
  let simulator: PortOneSimulator | null = null;
  if (!portoneUrl) {
    // Development only: a PortOne simulator in this process, its control API open to play the browser.
    const started = await startPortOneSimulator({
      port: config.portone.simulatorPort,
      impKey: config.portone.impKey,
      impSecret: config.portone.impSecret,
      control: true,
      logger,
    });
    simulator = started;
    portoneUrl = started.url;
    cleanups.push(() => started.close());
  }
  const metrics = new AppMetrics();
  const gateway = new PortOneV1Client({
    baseUrl: portoneUrl,
    impKey: config.portone.impKey,
    impSecret: config.portone.impSecret,
    connectTimeoutMs: config.portone.connectTimeoutMs,
    responseTimeoutMs: config.portone.responseTimeoutMs,
    logger,
    onCall: metrics.observeGatewayCall,
  });

  const orm = await openDatabase(databaseUrl, logger);
  cleanups.unshift(() => orm.close(true));
  if (config.demo) {
    const seeded = await seedDemoData(orm.em.fork(), systemClock);
    if (seeded) logger.info({ eventId: seeded.id }, 'demo data seeded');
  }

  const app = await buildApp({ config, orm, logger, gateway, metrics });
  cleanups.unshift(() => app.close());
  await app.server.listen({ port: config.port, host: config.host });
  // PORT=0 lets the OS pick a free port; the `GraphQL:` line below reports the one bound (tests read it).
  const port = (app.server.server.address() as AddressInfo).port;
  simulator?.setWebhookUrl(`http://127.0.0.1:${port}/webhooks/portone`);
  if (app.metricsServer) await app.metricsServer.listen({ port: config.http.metricsPort ?? 0, host: config.host });

  const shownHost = ['0.0.0.0', '127.0.0.1', '::'].includes(config.host) ? 'localhost' : config.host.includes(':') ? `[${config.host}]` : config.host;
  const base = `http://${shownHost}:${port}`;
  const lines = [
    '',
    `GraphQL:      ${base}/graphql`,
    `Health:       ${base}/healthz  ${base}/readyz`,
    `PortOne:      ${simulator ? `simulator at ${portoneUrl} (control API: ${portoneUrl}/__control)` : portoneUrl}`,
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

  let stopping = false;
  const stop = async (signal: string) => {
    if (stopping) return;
    stopping = true;
    logger.info({ signal }, 'shutting down');
    for (const cleanup of cleanups) {
      try {
        await cleanup();
      } catch (error) {
        logger.error({ err: error }, 'error during shutdown');
      }
    }
    process.exit(0);
  };
  process.on('SIGINT', () => void stop('SIGINT'));
  process.on('SIGTERM', () => void stop('SIGTERM'));
}

main().catch((error) => {
  if (error instanceof ConfigError) {
    process.stderr.write(`${error.message}\n`);
  } else {
    process.stderr.write(`Failed to start: ${error instanceof Error ? (error.stack ?? error.message) : String(error)}\n`);
  }
  process.exit(1);
});
