import { randomBytes } from 'node:crypto';
import { deepFreeze, jwtSecretWeakness, parseBool, parseOrigins, parseTrustProxy, parseWebhookSecrets, redactUrl } from './config-values';

export { JWT_SECRET_MIN_DISTINCT, JWT_SECRET_MIN_LENGTH, JWT_SECRET_PATTERN_RUN, jwtSecretWeakness } from './config-values';

/**
 * Configuration, parsed once at start into a typed, frozen object. Every problem is collected and
 * reported together, each naming its variable, so an operator fixes them in one go.
 */
export interface AppConfig {
  nodeEnv: 'development' | 'test' | 'production';
  port: number;
  /** Interface to listen on; 127.0.0.1 unless HOST says otherwise (0.0.0.0 in a container). */
  host: string;
  /** Unset: an embedded PostgreSQL under `dataDir` is started. */
  databaseUrl: string | null;
  dataDir: string;
  jwtSecret: string;
  /** True when JWT_SECRET was not given and a development secret was generated. */
  jwtSecretGenerated: boolean;
  /** Longest accepted JWT lifetime (exp − iat), in seconds. */
  jwtMaxLifetimeSeconds: number;
  /**
   * The development default: not production, embedded database AND generated secret. Only then is the
   * demo event seeded and are demo tokens printed and written to the data folder.
   */
  demo: boolean;
  portone: {
    /** Which PortOne API this merchant uses (DESIGN §7a); the money path is the same for both. */
    version: 'v1' | 'v2';
    /** Unset: the built-in PortOne simulator is started (V2: its `/v2` part). */
    apiUrl: string | null;
    impKey: string;
    impSecret: string;
    connectTimeoutMs: number;
    responseTimeoutMs: number;
    /** Port of the built-in simulator when PORTONE_API_URL is unset. */
    simulatorPort: number;
    /** Accept test-channel (sandbox) payments as paid. Never in production: channel keys are public. */
    allowSandbox: boolean;
    /** V2 only: API secret (`Authorization: PortOne <secret>`), store id, and one or two webhook signing secrets. */
    apiSecret: string;
    storeId: string;
    webhookSecrets: string[];
    /**
     * What the browser's PortOne SDK needs (public values, shown in page source): V1 merchant code
     * (`IMP.init`, PORTONE_IMP_CODE) and the channel key (PORTONE_CHANNEL_KEY; V2, optional on V1).
     * Only the reference checkout at /demo uses them.
     */
    impCode: string | null;
    channelKey: string | null;
  };
  holdMinutes: number;
  /** After a hold ends, its seat stays unavailable to others this long: a payment made just before may be settling. */
  holdPaymentGraceMs: number;
  /** Active (unexpired) holds one buyer may have on the seats of one event at a time. */
  holdMaxPerBuyerPerEvent: number;
  http: HttpConfig;
  refunds: {
    /** Transient cancel failures are retried this long, then the refund needs attention. */
    retryWindowMs: number;
    backoffBaseMs: number;
    backoffMaxMs: number;
  };
  reconciliation: {
    intervalMs: number;
    graceMs: number;
    /** How much of PortOne's listing each sweep re-reads before its cursor. */
    sweepOverlapMs: number;
    /** Payments per listing call (V1 allows 1000); a window with more is split. */
    sweepPageSize: number;
  };
  /**
   * On SIGINT/SIGTERM, how long in-flight requests and a running job may take to finish before their
   * connections are cut; the database is closed and the embedded PostgreSQL stopped afterwards.
   */
  shutdownTimeoutMs: number;
  logLevel: string;
  introspection: boolean;
  /** Serve GraphiQL on GET /graphql from a browser (GRAPHQL_IDE; default on except in production). */
  graphqlIde: boolean;
  /** Serve the reference checkout at /demo (DEMO_CHECKOUT; default on except in production). */
  demoCheckout: boolean;
  /** Origins (scheme://host[:port]) whose pages may call the API from the browser (CORS_ORIGINS); none by default. */
  corsOrigins: string[];
  /** Test runs only: failpoints to arm (see src/failpoints.ts); null in any normal run. */
  failpoints: string | null;
}

/** The HTTP edge: timeouts that cut off slow clients, per-window rate limits, metrics exposure. */
export interface HttpConfig {
  /** Whole request (headers and body) must arrive within this; a slow body gets 408 and is closed. */
  requestTimeoutMs: number;
  headersTimeoutMs: number;
  /** A socket idle this long (nothing sent either way) is destroyed. */
  connectionTimeoutMs: number;
  keepAliveTimeoutMs: number;
  /** Fastify's trustProxy: false, true, a hop count, or addresses/CIDRs of the proxies in front of us. */
  trustProxy: boolean | number | string[];
  rateLimit: {
    windowMs: number;
    /** Per client IP on POST /webhooks/portone; 0 turns the limit off. */
    webhookPerIp: number;
    /** Per client IP on /graphql requests without a valid token or API key; 0 turns it off. */
    anonymousPerIp: number;
    /** Per buyer (JWT sub); 0 turns it off. */
    holdSeatPerBuyer: number;
    confirmPaymentPerBuyer: number;
  };
  /** When set, GET /metrics needs `Authorization: Bearer <token>`. */
  metricsToken: string | null;
  /** When set, /metrics is served on this port only (not on PORT). */
  metricsPort: number | null;
}

export class ConfigError extends Error {
  constructor(readonly problems: string[]) {
    super(`Invalid configuration:\n${problems.map((p) => `  - ${p}`).join('\n')}`);
    this.name = 'ConfigError';
  }
}

/** The simulator's own credentials: used only when no PortOne URL is configured. */
export const SIMULATOR_IMP_KEY = 'simulator-imp-key';
export const SIMULATOR_IMP_SECRET = 'simulator-imp-secret';
/** The V2 simulator's own values: used only when no PortOne URL is configured. */
export const SIMULATOR_V2_API_SECRET = 'simulator-v2-api-secret';
export const SIMULATOR_V2_STORE_ID = 'store-00000000-0000-0000-0000-00000000simu';
export const SIMULATOR_V2_WEBHOOK_SECRET = 'whsec_c2ltdWxhdG9yLXYyLXdlYmhvb2stc2lnbmluZy1zZWNyZXQ=';

type Env = Record<string, string | undefined>;

export function loadConfig(env: Env = process.env): AppConfig {
  const problems: string[] = [];
  const str = (name: string): string | undefined => {
    const value = env[name];
    return value === undefined || value.trim() === '' ? undefined : value.trim();
  };
  const int = (name: string, fallback: number, min: number, max: number): number => {
    const raw = str(name);
    if (raw === undefined) return fallback;
    if (!/^\d+$/.test(raw) || Number(raw) < min || Number(raw) > max) {
      problems.push(`${name} must be a whole number from ${min} to ${max} (got "${raw}")`);
      return fallback;
    }
    return Number(raw);
  };
  const url = (name: string, protocols: string[]): string | null => {
    const raw = str(name);
    if (raw === undefined) return null;
    try {
      const parsed = new URL(raw);
      if (!protocols.includes(parsed.protocol)) throw new Error('protocol');
      return raw.replace(/\/+$/, '');
    } catch {
      problems.push(`${name} must be a ${protocols.map((p) => p.replace(':', '')).join(' or ')} URL (got "${redactUrl(raw)}")`);
      return null;
    }
  };

  const nodeEnvRaw = str('NODE_ENV') ?? 'development';
  if (!['development', 'test', 'production'].includes(nodeEnvRaw)) {
    problems.push(`NODE_ENV must be development, test or production (got "${nodeEnvRaw}")`);
  }
  const nodeEnv = (['development', 'test', 'production'].includes(nodeEnvRaw) ? nodeEnvRaw : 'development') as AppConfig['nodeEnv'];

  let jwtSecret = str('JWT_SECRET');
  let jwtSecretGenerated = false;
  if (jwtSecret === undefined) {
    if (nodeEnv === 'production') problems.push('JWT_SECRET is required when NODE_ENV=production');
    jwtSecret = randomBytes(32).toString('hex');
    jwtSecretGenerated = true;
  } else {
    const weakness = jwtSecretWeakness(jwtSecret);
    if (weakness) problems.push(`JWT_SECRET ${weakness}`);
  }

  const databaseUrl = url('DATABASE_URL', ['postgres:', 'postgresql:']);
  const apiUrl = url('PORTONE_API_URL', ['http:', 'https:']);
  const impKey = str('PORTONE_IMP_KEY');
  const impSecret = str('PORTONE_IMP_SECRET');
  const versionRaw = (str('PORTONE_VERSION') ?? 'v1').toLowerCase();
  if (versionRaw !== 'v1' && versionRaw !== 'v2') problems.push(`PORTONE_VERSION must be v1 or v2 (got "${str('PORTONE_VERSION')}")`);
  const version: 'v1' | 'v2' = versionRaw === 'v2' ? 'v2' : 'v1';
  const credentials =
    version === 'v2' ? ['PORTONE_API_SECRET', 'PORTONE_STORE_ID', 'PORTONE_WEBHOOK_SECRET'] : ['PORTONE_IMP_KEY', 'PORTONE_IMP_SECRET'];
  if (nodeEnv === 'production') {
    // Production never falls back to the embedded database or the simulator (whose control API books without paying).
    for (const name of ['DATABASE_URL', 'PORTONE_API_URL', ...credentials]) {
      if (str(name) === undefined) problems.push(`${name} is required when NODE_ENV=production${version === 'v2' ? ' and PORTONE_VERSION=v2' : ''}`);
    }
  } else if (apiUrl && credentials.some((name) => str(name) === undefined)) {
    problems.push(`${credentials.slice(0, -1).join(', ')} and ${credentials[credentials.length - 1]} are required when PORTONE_API_URL is set${version === 'v2' ? ' with PORTONE_VERSION=v2' : ''}`);
  }
  const webhookSecrets = parseWebhookSecrets(str('PORTONE_WEBHOOK_SECRET'), problems);

  const config: AppConfig = {
    nodeEnv,
    port: int('PORT', 4000, 0, 65535),
    host: str('HOST') ?? '127.0.0.1',
    databaseUrl,
    dataDir: str('DATA_DIR') ?? '.data',
    jwtSecret,
    jwtSecretGenerated,
    jwtMaxLifetimeSeconds: int('JWT_MAX_LIFETIME_DAYS', 30, 1, 365) * 86400,
    demo: nodeEnv !== 'production' && databaseUrl === null && jwtSecretGenerated,
    portone: {
      apiUrl,
      impKey: impKey ?? SIMULATOR_IMP_KEY,
      impSecret: impSecret ?? SIMULATOR_IMP_SECRET,
      connectTimeoutMs: int('PORTONE_CONNECT_TIMEOUT_MS', 3000, 1, 60000),
      responseTimeoutMs: int('PORTONE_RESPONSE_TIMEOUT_MS', 10000, 1, 120000),
      simulatorPort: int('PORTONE_SIMULATOR_PORT', 4010, 0, 65535),
      allowSandbox: parseBool(str('PORTONE_ALLOW_SANDBOX'), false, 'PORTONE_ALLOW_SANDBOX', problems),
      version,
      apiSecret: str('PORTONE_API_SECRET') ?? SIMULATOR_V2_API_SECRET,
      storeId: str('PORTONE_STORE_ID') ?? SIMULATOR_V2_STORE_ID,
      webhookSecrets: webhookSecrets ?? [SIMULATOR_V2_WEBHOOK_SECRET],
      impCode: str('PORTONE_IMP_CODE') ?? null,
      channelKey: str('PORTONE_CHANNEL_KEY') ?? null,
    },
    holdMinutes: int('HOLD_MINUTES', 10, 1, 24 * 60),
    holdPaymentGraceMs: int('HOLD_PAYMENT_GRACE_MS', 120000, 0, 3600000),
    holdMaxPerBuyerPerEvent: int('HOLD_MAX_PER_BUYER_PER_EVENT', 4, 1, 1000),
    http: {
      requestTimeoutMs: int('HTTP_REQUEST_TIMEOUT_MS', 30000, 100, 600000),
      headersTimeoutMs: int('HTTP_HEADERS_TIMEOUT_MS', 10000, 100, 600000),
      connectionTimeoutMs: int('HTTP_CONNECTION_TIMEOUT_MS', 120000, 100, 3600000),
      keepAliveTimeoutMs: int('HTTP_KEEP_ALIVE_TIMEOUT_MS', 72000, 100, 3600000),
      trustProxy: parseTrustProxy(str('TRUST_PROXY'), problems),
      rateLimit: {
        windowMs: int('RATE_LIMIT_WINDOW_MS', 60000, 1000, 3600000),
        webhookPerIp: int('RATE_LIMIT_WEBHOOK_PER_IP', 600, 0, 1000000),
        anonymousPerIp: int('RATE_LIMIT_ANONYMOUS_PER_IP', 1200, 0, 1000000),
        holdSeatPerBuyer: int('RATE_LIMIT_HOLD_SEAT_PER_BUYER', 60, 0, 1000000),
        confirmPaymentPerBuyer: int('RATE_LIMIT_CONFIRM_PAYMENT_PER_BUYER', 60, 0, 1000000),
      },
      metricsToken: str('METRICS_TOKEN') ?? null,
      metricsPort: str('METRICS_PORT') === undefined ? null : int('METRICS_PORT', 0, 0, 65535),
    },
    refunds: {
      retryWindowMs: int('REFUND_RETRY_WINDOW_MS', 72 * 3600000, 1000, 30 * 86400000),
      backoffBaseMs: int('REFUND_BACKOFF_BASE_MS', 2000, 1, 3600000),
      backoffMaxMs: int('REFUND_BACKOFF_MAX_MS', 600000, 1, 86400000),
    },
    reconciliation: {
      intervalMs: int('RECONCILE_INTERVAL_MS', 60000, 100, 86400000),
      graceMs: int('RECONCILE_GRACE_MS', 120000, 0, 86400000),
      sweepOverlapMs: int('RECONCILE_SWEEP_OVERLAP_MS', 600000, 0, 86400000),
      sweepPageSize: int('RECONCILE_SWEEP_PAGE_SIZE', 1000, 1, 1000),
    },
    shutdownTimeoutMs: int('SHUTDOWN_TIMEOUT_MS', 10000, 0, 600000),
    logLevel: str('LOG_LEVEL') ?? (nodeEnv === 'test' ? 'silent' : 'info'),
    failpoints: str('FAILPOINTS') ?? null,
    introspection: parseBool(str('GRAPHQL_INTROSPECTION'), nodeEnv !== 'production', 'GRAPHQL_INTROSPECTION', problems),
    graphqlIde: parseBool(str('GRAPHQL_IDE'), nodeEnv !== 'production', 'GRAPHQL_IDE', problems),
    demoCheckout: parseBool(str('DEMO_CHECKOUT'), nodeEnv !== 'production', 'DEMO_CHECKOUT', problems),
    corsOrigins: parseOrigins(str('CORS_ORIGINS'), problems),
  };
  if (!['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'].includes(config.logLevel)) {
    problems.push(`LOG_LEVEL must be one of fatal, error, warn, info, debug, trace, silent (got "${config.logLevel}")`);
  }
  if (config.refunds.backoffMaxMs < config.refunds.backoffBaseMs) {
    problems.push('REFUND_BACKOFF_MAX_MS must not be smaller than REFUND_BACKOFF_BASE_MS');
  }
  if (env.REFUND_MAX_ATTEMPTS !== undefined) {
    problems.push('REFUND_MAX_ATTEMPTS is no longer used: refunds retry for REFUND_RETRY_WINDOW_MS (default 72 hours); remove it');
  }
  if (config.http.headersTimeoutMs > config.http.requestTimeoutMs) {
    problems.push('HTTP_HEADERS_TIMEOUT_MS must not be larger than HTTP_REQUEST_TIMEOUT_MS');
  }
  // A handler waits on PortOne (connect + response, a read and possibly a cancel) with the socket quiet.
  const longestGatewayWaitMs = 2 * (config.portone.connectTimeoutMs + config.portone.responseTimeoutMs);
  if (config.http.connectionTimeoutMs <= longestGatewayWaitMs) {
    problems.push(
      `HTTP_CONNECTION_TIMEOUT_MS must be larger than ${longestGatewayWaitMs} (twice the PortOne connect and response timeouts), or a confirmPayment waiting on PortOne loses its connection`,
    );
  }
  if (config.http.metricsToken !== null && config.http.metricsToken.length < 16) {
    problems.push('METRICS_TOKEN must be at least 16 characters long');
  }
  if (config.http.metricsPort !== null && config.http.metricsPort !== 0 && config.http.metricsPort === config.port) {
    problems.push('METRICS_PORT must differ from PORT');
  }
  if (problems.length > 0) throw new ConfigError(problems);
  return deepFreeze(config);
}
