import 'reflect-metadata';
import { ApolloServer } from '@apollo/server';
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

export interface AppDependencies {
  config: AppConfig;
  orm: MikroORM;
  logger: Logger;
  clock?: Clock;
}

export interface App {
  server: FastifyInstance;
  identity: JwtIdentity;
  services: { events: EventService; reservations: ReservationService };
  close(): Promise<void>;
}

/**
 * The composition root: config → clients → services → resolvers → HTTP. `main.ts` runs it for real;
 * tests build the same graph with their own database and clock.
 */
export async function buildApp(deps: AppDependencies): Promise<App> {
  const { config, orm, logger } = deps;
  const clock = deps.clock ?? systemClock;
  const identity = new JwtIdentity(config.jwtSecret);
  const events = new EventService(clock);
  const reservations = new ReservationService(clock, config.holdMinutes);

  const server = Fastify({
    loggerInstance: logger as FastifyBaseLogger,
    bodyLimit: 256 * 1024,
    requestIdHeader: 'x-request-id',
  });

  const schema = await buildGraphQLSchema({ events, reservations });
  const apollo = new ApolloServer<RequestContext>({
    schema,
    introspection: config.introspection,
    includeStacktraceInErrorResponses: false,
    csrfPrevention: true,
    formatError: createErrorFormatter(logger),
    plugins: [fastifyApolloDrainPlugin(server)],
  });
  await apollo.start();

  server.route({
    url: '/graphql',
    method: ['GET', 'POST', 'OPTIONS'],
    handler: fastifyApolloHandler(apollo, {
      context: async (request) => {
        const viewer = await identity.viewerFromAuthorization(request.headers.authorization);
        const em = orm.em.fork();
        return {
          em,
          viewer,
          locale: localeFromAcceptLanguage(request.headers['accept-language']),
          log: request.log as Logger,
          loaders: createRequestLoaders(em),
        };
      },
    }),
  });

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
    identity,
    services: { events, reservations },
    async close() {
      await server.close();
      await apollo.stop();
    },
  };
}
