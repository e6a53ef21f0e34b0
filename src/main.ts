import 'reflect-metadata';
import { writeFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { buildApp } from './app';
import { seedDemoData } from './booking/demo-seed';
import { systemClock } from './clock';
import { ConfigError, loadConfig } from './config';
import { openDatabase } from './db/database';
import { startEmbeddedPostgres, type EmbeddedPostgresHandle } from './db/embedded-postgres';
import { createLogger } from './logger';
import { startPortOneSimulator } from './gateway/portone/sim/portone-simulator';
import { PortOneV1Client } from './gateway/portone/v1/portone-v1.client';
import { GracefulShutdown } from './shutdown';

let shutdown: GracefulShutdown | null = null;

/** `npm start`: everything a developer needs on a fresh machine, or production with DATABASE_URL etc. set. */
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
    embedded = await startEmbeddedPostgres({
      dataDir,
      persistent: true,
      ownSession: true,
      log: (line) => logger.debug({ postgres: line }),
    });
    databaseUrl = `${embedded.baseUrl}/booking`;
    shutdown.onShutdown('embedded PostgreSQL', embedded.stop);
  }

  let portoneUrl = config.portone.apiUrl;
  if (!portoneUrl) {
    // Demo mode: a PortOne simulator in this process, its control API open to play the browser.
    const simulator = await startPortOneSimulator({
      port: config.portone.simulatorPort,
      impKey: config.portone.impKey,
      impSecret: config.portone.impSecret,
      control: true,
      webhookUrl: `http://127.0.0.1:${config.port}/webhooks/portone`,
      logger,
    });
    portoneUrl = simulator.url;
    shutdown.onShutdown('PortOne simulator', () => simulator.close());
  }
  const gateway = new PortOneV1Client({
    baseUrl: portoneUrl,
    impKey: config.portone.impKey,
    impSecret: config.portone.impSecret,
    connectTimeoutMs: config.portone.connectTimeoutMs,
    responseTimeoutMs: config.portone.responseTimeoutMs,
    logger,
  });

  const orm = await openDatabase(databaseUrl, logger);
  shutdown.onShutdown('database connections', () => orm.close(true));
  const seeded = await seedDemoData(orm.em.fork(), systemClock);
  if (seeded) logger.info({ eventId: seeded.id }, 'demo data seeded');

  const app = await buildApp({ config, orm, logger, gateway });
  shutdown.onShutdown('HTTP server and job worker', () => app.close());
  await app.server.listen({ port: config.port, host: config.host });

  const base = `http://localhost:${config.port}`;
  const buyerToken = await app.identity.sign('demo-buyer');
  const adminToken = await app.identity.sign('demo-admin', { roles: ['admin'] });
  const lines = [
    '',
    `GraphQL:      ${base}/graphql`,
    `Health:       ${base}/healthz  ${base}/readyz`,
    `PortOne:      ${config.portone.apiUrl ? config.portone.apiUrl : `simulator at ${portoneUrl} (control API: ${portoneUrl}/__control)`}`,
    `Database:     ${embedded ? `embedded PostgreSQL on port ${embedded.port} (data in ${resolve(config.dataDir)})` : 'DATABASE_URL'}`,
    ...(config.jwtSecretGenerated ? [`JWT_SECRET:   ${config.jwtSecret}  (generated for this run; set JWT_SECRET to keep tokens valid)`] : []),
    '',
    'Demo buyer token (Authorization: Bearer …):',
    buyerToken,
    '',
    'Demo admin token:',
    adminToken,
    '',
  ];
  process.stdout.write(`${lines.join('\n')}\n`);
  if (embedded) {
    // For `npm run demo` on this machine: the tokens above, valid for this run only.
    const tokensFile = resolve(config.dataDir, 'demo-tokens.json');
    writeFileSync(tokensFile, JSON.stringify({ buyer: buyerToken, admin: adminToken }), { mode: 0o600 });
  }
}

main().catch(async (error) => {
  if (error instanceof ConfigError) {
    process.stderr.write(`${error.message}\n`);
  } else {
    process.stderr.write(`Failed to start: ${error instanceof Error ? (error.stack ?? error.message) : String(error)}\n`);
  }
  // Stop whatever had started (the embedded PostgreSQL above all), then exit 1.
  if (shutdown) await shutdown.run(1);
  process.exit(1);
});
