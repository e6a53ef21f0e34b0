import { randomBytes } from 'node:crypto';

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
  portone: {
    /** Unset: the built-in PortOne simulator is started. */
    apiUrl: string | null;
    impKey: string;
    impSecret: string;
    connectTimeoutMs: number;
    responseTimeoutMs: number;
    /** Port of the built-in simulator when PORTONE_API_URL is unset. */
    simulatorPort: number;
  };
  holdMinutes: number;
  refunds: {
    maxAttempts: number;
    backoffBaseMs: number;
    backoffMaxMs: number;
  };
  reconciliation: {
    intervalMs: number;
    graceMs: number;
  };
  /**
   * On SIGINT/SIGTERM, how long in-flight requests and a running job may take to finish before their
   * connections are cut; the database is closed and the embedded PostgreSQL stopped afterwards.
   */
  shutdownTimeoutMs: number;
  logLevel: string;
  introspection: boolean;
  /** Test runs only: failpoints to arm (see src/failpoints.ts); null in any normal run. */
  failpoints: string | null;
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
  } else if (jwtSecret.length < 32) {
    problems.push('JWT_SECRET must be at least 32 characters long (HS256 needs a 256-bit secret)');
  }

  const apiUrl = url('PORTONE_API_URL', ['http:', 'https:']);
  const impKey = str('PORTONE_IMP_KEY');
  const impSecret = str('PORTONE_IMP_SECRET');
  if (apiUrl && (!impKey || !impSecret)) {
    problems.push('PORTONE_IMP_KEY and PORTONE_IMP_SECRET are required when PORTONE_API_URL is set');
  }

  const config: AppConfig = {
    nodeEnv,
    port: int('PORT', 4000, 0, 65535),
    host: str('HOST') ?? '127.0.0.1',
    databaseUrl: url('DATABASE_URL', ['postgres:', 'postgresql:']),
    dataDir: str('DATA_DIR') ?? '.data',
    jwtSecret,
    jwtSecretGenerated,
    portone: {
      apiUrl,
      impKey: impKey ?? SIMULATOR_IMP_KEY,
      impSecret: impSecret ?? SIMULATOR_IMP_SECRET,
      connectTimeoutMs: int('PORTONE_CONNECT_TIMEOUT_MS', 3000, 1, 60000),
      responseTimeoutMs: int('PORTONE_RESPONSE_TIMEOUT_MS', 10000, 1, 120000),
      simulatorPort: int('PORTONE_SIMULATOR_PORT', 4010, 0, 65535),
    },
    holdMinutes: int('HOLD_MINUTES', 10, 1, 24 * 60),
    refunds: {
      maxAttempts: int('REFUND_MAX_ATTEMPTS', 8, 1, 100),
      backoffBaseMs: int('REFUND_BACKOFF_BASE_MS', 2000, 1, 3600000),
      backoffMaxMs: int('REFUND_BACKOFF_MAX_MS', 600000, 1, 86400000),
    },
    reconciliation: {
      intervalMs: int('RECONCILE_INTERVAL_MS', 60000, 100, 86400000),
      graceMs: int('RECONCILE_GRACE_MS', 120000, 0, 86400000),
    },
    shutdownTimeoutMs: int('SHUTDOWN_TIMEOUT_MS', 10000, 0, 600000),
    logLevel: str('LOG_LEVEL') ?? (nodeEnv === 'test' ? 'silent' : 'info'),
    failpoints: str('FAILPOINTS') ?? null,
    introspection: parseBool(str('GRAPHQL_INTROSPECTION'), nodeEnv !== 'production', 'GRAPHQL_INTROSPECTION', problems),
  };
  if (!['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'].includes(config.logLevel)) {
    problems.push(`LOG_LEVEL must be one of fatal, error, warn, info, debug, trace, silent (got "${config.logLevel}")`);
  }
  if (config.refunds.backoffMaxMs < config.refunds.backoffBaseMs) {
    problems.push('REFUND_BACKOFF_MAX_MS must not be smaller than REFUND_BACKOFF_BASE_MS');
  }
  if (problems.length > 0) throw new ConfigError(problems);
  return deepFreeze(config);
}

function parseBool(raw: string | undefined, fallback: boolean, name: string, problems: string[]): boolean {
  if (raw === undefined) return fallback;
  if (['true', '1', 'yes'].includes(raw.toLowerCase())) return true;
  if (['false', '0', 'no'].includes(raw.toLowerCase())) return false;
  problems.push(`${name} must be true or false (got "${raw}")`);
  return fallback;
}

/** Never echo a password from a URL back into logs. */
function redactUrl(raw: string): string {
  return raw.replace(/\/\/([^:/@]+):([^@]+)@/, '//$1:***@');
}

function deepFreeze<T>(value: T): T {
  if (value && typeof value === 'object') {
    for (const inner of Object.values(value)) deepFreeze(inner);
    Object.freeze(value);
  }
  return value;
}
