import type { TypedDocumentNode } from '@graphql-typed-document-node/core';
import type { MikroORM } from '@mikro-orm/postgresql';
import { print, type DocumentNode } from 'graphql';
import fetch from 'node-fetch';
import pino from 'pino';
import { buildApp, type App } from '../../src/app';
import type { Clock } from '../../src/clock';
import { loadConfig, type AppConfig } from '../../src/config';
import { openTestDatabase, resetDatabase } from './test-database';

export const TEST_JWT_SECRET = 'test-secret-test-secret-test-secret-0123456789';

export interface GraphQLResponse<T> {
  status: number;
  data?: T | null;
  errors?: Array<{ message: string; path?: string[]; extensions?: Record<string, unknown> }>;
}

export interface TestApp {
  app: App;
  orm: MikroORM;
  url: string;
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

/** The real app on a real port over this worker's real database. */
export async function startTestApp(options: { clock?: Clock; env?: Record<string, string> } = {}): Promise<TestApp> {
  const config = loadConfig({ NODE_ENV: 'test', JWT_SECRET: TEST_JWT_SECRET, LOG_LEVEL: 'silent', ...options.env });
  const orm = await openTestDatabase();
  const logger = pino({ level: process.env.TEST_LOG_LEVEL ?? 'silent' });
  const app = await buildApp({ config, orm, logger, clock: options.clock });
  const address = await app.server.listen({ port: 0, host: '127.0.0.1' });
  const url = `${address}/graphql`;

  return {
    app,
    orm,
    url,
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
    reset: () => resetDatabase(orm),
    async close() {
      await app.close();
      await orm.close(true);
    },
  };
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
