import { randomBytes } from 'node:crypto';
import fc from 'fast-check';
import { ConfigError, jwtSecretWeakness, loadConfig, SIMULATOR_IMP_KEY } from '../../src/config';

const GOOD_SECRET = 'q7Vx2mLp9RtK4wZs8NbY3cFh6JdG1eUa';
const PRODUCTION = {
  NODE_ENV: 'production',
  DATABASE_URL: 'postgres://u:p@db.internal:5432/booking',
  JWT_SECRET: GOOD_SECRET,
  PORTONE_API_URL: 'https://api.iamport.kr',
  PORTONE_IMP_KEY: 'key',
  PORTONE_IMP_SECRET: 'secret',
};

function problemsOf(env: Record<string, string>): string[] {
  try {
    loadConfig(env);
    return [];
  } catch (error) {
    if (error instanceof ConfigError) return error.problems;
    throw error;
  }
}

describe('loadConfig', () => {
  test('defaults: port 4000, embedded database, simulator, 10 minute holds, generated dev secret', () => {
    const config = loadConfig({});
    expect(config).toMatchObject({ port: 4000, databaseUrl: null, holdMinutes: 10, jwtSecretGenerated: true });
    expect(config.portone).toMatchObject({ apiUrl: null, impKey: SIMULATOR_IMP_KEY });
    expect(config.jwtSecret).toHaveLength(64);
    expect(config.demo).toBe(true);
    expect(config.jwtMaxLifetimeSeconds).toBe(30 * 86400);
    expect(Object.isFrozen(config) && Object.isFrozen(config.portone)).toBe(true);
  });

  test('reads the contract variables', () => {
    const config = loadConfig({
      PORT: '8080',
      DATABASE_URL: 'postgres://u:p@db.internal:5432/booking',
      JWT_SECRET: GOOD_SECRET,
      JWT_MAX_LIFETIME_DAYS: '7',
      PORTONE_API_URL: 'https://api.iamport.kr/',
      PORTONE_IMP_KEY: 'key',
      PORTONE_IMP_SECRET: 'secret',
      HOLD_MINUTES: '15',
    });
    expect(config).toMatchObject({
      port: 8080,
      databaseUrl: 'postgres://u:p@db.internal:5432/booking',
      holdMinutes: 15,
      jwtSecretGenerated: false,
      jwtMaxLifetimeSeconds: 7 * 86400,
      demo: false,
      portone: { apiUrl: 'https://api.iamport.kr', impKey: 'key', impSecret: 'secret' },
    });
  });

  test('every bad variable is named in one error, and passwords are not echoed', () => {
    let error: unknown;
    try {
      loadConfig({
        PORT: 'eighty',
        HOLD_MINUTES: '0',
        DATABASE_URL: 'mysql://root:hunter2@db/x',
        PORTONE_API_URL: 'https://api.iamport.kr',
        JWT_SECRET: 'short',
      });
    } catch (e) {
      error = e;
    }
    expect(error).toBeInstanceOf(ConfigError);
    const problems = (error as ConfigError).problems.join('\n');
    for (const name of ['PORT', 'HOLD_MINUTES', 'DATABASE_URL', 'PORTONE_IMP_KEY', 'JWT_SECRET']) {
      expect(problems).toContain(name);
    }
    expect(problems).not.toContain('hunter2');
  });

  test('introspection is on in development and off in production unless asked for', () => {
    expect(loadConfig({}).introspection).toBe(true);
    expect(loadConfig(PRODUCTION).introspection).toBe(false);
    expect(loadConfig({ ...PRODUCTION, GRAPHQL_INTROSPECTION: 'true' }).introspection).toBe(true);
    expect(() => loadConfig({ GRAPHQL_INTROSPECTION: 'maybe' })).toThrow(/GRAPHQL_INTROSPECTION/);
  });

  test('the reference checkout at /demo is on in development and off in production unless DEMO_CHECKOUT asks for it', () => {
    expect(loadConfig({}).demoCheckout).toBe(true);
    expect(loadConfig(PRODUCTION).demoCheckout).toBe(false);
    expect(loadConfig({ ...PRODUCTION, DEMO_CHECKOUT: 'true' }).demoCheckout).toBe(true);
    expect(loadConfig({ DEMO_CHECKOUT: 'false' }).demoCheckout).toBe(false);
    expect(problemsOf({ DEMO_CHECKOUT: 'maybe' })).toEqual([expect.stringMatching(/^DEMO_CHECKOUT/)]);
    expect(loadConfig({ PORTONE_IMP_CODE: 'imp12345678', PORTONE_CHANNEL_KEY: 'channel-key-1' }).portone).toMatchObject({ impCode: 'imp12345678', channelKey: 'channel-key-1' });
    expect(loadConfig({}).portone).toMatchObject({ impCode: null, channelKey: null });
  });

  test('the GraphQL IDE is on in development and off in production unless GRAPHQL_IDE asks for it', () => {
    expect(loadConfig({}).graphqlIde).toBe(true);
    expect(loadConfig(PRODUCTION).graphqlIde).toBe(false);
    expect(loadConfig({ ...PRODUCTION, GRAPHQL_IDE: 'true' }).graphqlIde).toBe(true);
    expect(loadConfig({ GRAPHQL_IDE: 'false' }).graphqlIde).toBe(false);
    expect(problemsOf({ GRAPHQL_IDE: 'sometimes' })).toEqual([expect.stringMatching(/^GRAPHQL_IDE/)]);
  });

  test('CORS_ORIGINS: none by default; exact origins listed; wildcards, paths and other schemes refused by name', () => {
    expect(loadConfig({}).corsOrigins).toEqual([]);
    expect(loadConfig({ CORS_ORIGINS: 'https://shop.example, http://localhost:5173,https://a.example/' }).corsOrigins).toEqual([
      'https://shop.example',
      'http://localhost:5173',
      'https://a.example',
    ]);
    for (const bad of ['*', 'shop.example', 'https://shop.example/checkout', 'ftp://shop.example', 'https://*.example', 'null']) {
      expect({ bad, problems: problemsOf({ CORS_ORIGINS: `https://ok.example,${bad}` }) }).toEqual({
        bad,
        problems: [expect.stringMatching(/^CORS_ORIGINS entries must be origins/)],
      });
    }
  });

  test('production requires a JWT secret', () => {
    expect(() => loadConfig({ NODE_ENV: 'production' })).toThrow(/JWT_SECRET is required/);
  });

  test('production starts with every required variable and is never the demo', () => {
    expect(loadConfig(PRODUCTION)).toMatchObject({ nodeEnv: 'production', demo: false, jwtSecretGenerated: false });
  });

  test.each(['DATABASE_URL', 'JWT_SECRET', 'PORTONE_API_URL', 'PORTONE_IMP_KEY', 'PORTONE_IMP_SECRET'])(
    'production without %s refuses to start and names it',
    (name) => {
      const problems = problemsOf({ ...PRODUCTION, [name]: '' });
      expect(problems).toEqual([`${name} is required when NODE_ENV=production`]);
    },
  );

  test('a configured database or secret turns the demo off in development too', () => {
    expect(loadConfig({ DATABASE_URL: PRODUCTION.DATABASE_URL }).demo).toBe(false);
    expect(loadConfig({ JWT_SECRET: GOOD_SECRET }).demo).toBe(false);
  });

  test.each([
    ['short', /at least 32 characters/],
    ['a'.repeat(64), /at least 10 different characters \(has 1\)/],
    ['abcabcabcabcabcabcabcabcabcabcabcabc', /at least 10 different characters \(has 3\)/],
    ['0123456780123456780123456780123456', /at least 10 different characters \(has 9\)/],
    ['test-secret-test-secret-test-secret-0123', /must not repeat a run of 10 characters/],
    ['changeme-now-2026-changeme-now-2026', /must not repeat a run of 10 characters/],
    ['abcdefghijabcdefghijabcdefghijabcdef', /must not repeat a run of 10 characters/],
    ['x-0123456789abcdefghijklmnopqrstuvwxyz', /must not contain 10 characters counting up or down/],
    ['zyxwvutsrqponmlkjihgfedcba-Jd8#kQ2!pL', /must not contain 10 characters counting up or down/],
  ])('JWT_SECRET %s is refused, naming the rule', (secret, rule) => {
    const problems = problemsOf({ JWT_SECRET: secret });
    expect(problems).toHaveLength(1);
    expect(problems[0]).toMatch(/^JWT_SECRET /);
    expect(problems[0]).toMatch(rule);
  });

  test('secrets made the way the message suggests (openssl rand -base64 48, or hex) pass the JWT_SECRET rule', () => {
    for (let i = 0; i < 2000; i++) {
      const bytes = randomBytes(48);
      expect(jwtSecretWeakness(bytes.toString('base64'))).toBeNull();
      expect(jwtSecretWeakness(bytes.toString('hex'))).toBeNull();
    }
  });

  test('a secret that repeats any 10-character run is refused, however random the rest, and never quoted', () => {
    fc.assert(
      fc.property(fc.base64String({ minLength: 10, maxLength: 40 }), fc.base64String({ minLength: 10, maxLength: 12 }), fc.base64String({ maxLength: 20 }), (head, run, tail) => {
        fc.pre(run.length >= 10);
        const secret = `${head}${run}${tail}${run}`;
        fc.pre(secret.length >= 32 && new Set(secret).size >= 10);
        const weakness = jwtSecretWeakness(secret);
        expect(weakness).toMatch(/repeat a run/);
        expect(weakness).not.toContain(run);
      }),
    );
  });

  test('any secret with fewer than 10 different characters is refused, whatever its length', () => {
    fc.assert(
      fc.property(fc.string({ unit: fc.constantFrom(...'abcdefghi'), minLength: 32, maxLength: 200 }), (secret) => {
        expect(jwtSecretWeakness(secret)).toMatch(/different characters/);
      }),
    );
  });
});

describe('HTTP edge configuration', () => {
  test('defaults: timeouts for production, generous limits, /metrics open on PORT', () => {
    const config = loadConfig({});
    expect(config.holdMaxPerBuyerPerEvent).toBe(4);
    expect(config.http).toEqual({
      requestTimeoutMs: 30000,
      headersTimeoutMs: 10000,
      connectionTimeoutMs: 120000,
      keepAliveTimeoutMs: 72000,
      trustProxy: false,
      rateLimit: { windowMs: 60000, webhookPerIp: 600, anonymousPerIp: 1200, holdSeatPerBuyer: 60, confirmPaymentPerBuyer: 60 },
      metricsToken: null,
      metricsPort: null,
    });
    expect(Object.isFrozen(config.http.rateLimit)).toBe(true);
  });

  test('reads every variable; 0 turns a rate limit off', () => {
    const config = loadConfig({
      HOLD_MAX_PER_BUYER_PER_EVENT: '2',
      HTTP_REQUEST_TIMEOUT_MS: '5000',
      HTTP_HEADERS_TIMEOUT_MS: '2000',
      HTTP_CONNECTION_TIMEOUT_MS: '60000',
      HTTP_KEEP_ALIVE_TIMEOUT_MS: '5000',
      TRUST_PROXY: '10.0.0.0/8, 192.168.1.1',
      RATE_LIMIT_WINDOW_MS: '1000',
      RATE_LIMIT_WEBHOOK_PER_IP: '0',
      RATE_LIMIT_ANONYMOUS_PER_IP: '10',
      RATE_LIMIT_HOLD_SEAT_PER_BUYER: '3',
      RATE_LIMIT_CONFIRM_PAYMENT_PER_BUYER: '4',
      METRICS_TOKEN: 'a-long-enough-token',
      METRICS_PORT: '9464',
    });
    expect(config.holdMaxPerBuyerPerEvent).toBe(2);
    expect(config.http).toMatchObject({
      requestTimeoutMs: 5000,
      headersTimeoutMs: 2000,
      connectionTimeoutMs: 60000,
      keepAliveTimeoutMs: 5000,
      trustProxy: ['10.0.0.0/8', '192.168.1.1'],
      rateLimit: { windowMs: 1000, webhookPerIp: 0, anonymousPerIp: 10, holdSeatPerBuyer: 3, confirmPaymentPerBuyer: 4 },
      metricsToken: 'a-long-enough-token',
      metricsPort: 9464,
    });
    expect(loadConfig({ TRUST_PROXY: 'true' }).http.trustProxy).toBe(true);
    expect(loadConfig({ TRUST_PROXY: '2' }).http.trustProxy).toBe(2);
  });

  test('each bad value is named', () => {
    let error: unknown;
    try {
      loadConfig({
        HOLD_MAX_PER_BUYER_PER_EVENT: '0',
        HTTP_REQUEST_TIMEOUT_MS: '1000',
        HTTP_HEADERS_TIMEOUT_MS: '2000',
        HTTP_CONNECTION_TIMEOUT_MS: '20000',
        TRUST_PROXY: 'the load balancer',
        RATE_LIMIT_ANONYMOUS_PER_IP: '-1',
        METRICS_TOKEN: 'short',
        PORT: '9000',
        METRICS_PORT: '9000',
      });
    } catch (e) {
      error = e;
    }
    expect(error).toBeInstanceOf(ConfigError);
    const problems = (error as ConfigError).problems;
    for (const name of [
      'HOLD_MAX_PER_BUYER_PER_EVENT',
      'HTTP_HEADERS_TIMEOUT_MS must not be larger than HTTP_REQUEST_TIMEOUT_MS',
      'HTTP_CONNECTION_TIMEOUT_MS must be larger than 26000',
      'TRUST_PROXY',
      'RATE_LIMIT_ANONYMOUS_PER_IP',
      'METRICS_TOKEN',
      'METRICS_PORT must differ from PORT',
    ]) {
      expect({ name, named: problems.some((problem) => problem.startsWith(name)) }).toEqual({ name, named: true });
    }
  });
});

describe('SHUTDOWN_TIMEOUT_MS', () => {
  test('defaults to 10 s, is read as milliseconds, and a bad value names the variable', () => {
    expect(loadConfig({}).shutdownTimeoutMs).toBe(10000);
    expect(loadConfig({ SHUTDOWN_TIMEOUT_MS: '2500' }).shutdownTimeoutMs).toBe(2500);
    expect(() => loadConfig({ SHUTDOWN_TIMEOUT_MS: '10s' })).toThrow(/SHUTDOWN_TIMEOUT_MS/);
    expect(() => loadConfig({ SHUTDOWN_TIMEOUT_MS: '-1' })).toThrow(/SHUTDOWN_TIMEOUT_MS/);
  });
});

describe('PortOne V2 configuration', () => {
  const V2_PRODUCTION = {
    NODE_ENV: 'production',
    DATABASE_URL: 'postgres://u:p@db.internal:5432/booking',
    JWT_SECRET: GOOD_SECRET,
    PORTONE_VERSION: 'v2',
    PORTONE_API_URL: 'https://api.portone.io',
    PORTONE_API_SECRET: 'v2-api-secret',
    PORTONE_STORE_ID: 'store-4f6e1c2a-0000-0000-0000-000000000001',
    PORTONE_WEBHOOK_SECRET: 'whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw',
  };

  test('v1 is the default; v2 reads the secret, store id and webhook secret', () => {
    expect(loadConfig({}).portone.version).toBe('v1');
    expect(loadConfig(V2_PRODUCTION).portone).toMatchObject({
      version: 'v2',
      apiUrl: 'https://api.portone.io',
      apiSecret: 'v2-api-secret',
      storeId: 'store-4f6e1c2a-0000-0000-0000-000000000001',
      webhookSecrets: ['whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw'],
    });
  });

  test('V2 in production needs no V1 keys', () => {
    expect(problemsOf(V2_PRODUCTION)).toEqual([]);
  });

  test.each(['PORTONE_API_SECRET', 'PORTONE_STORE_ID', 'PORTONE_WEBHOOK_SECRET', 'PORTONE_API_URL'])(
    'V2 in production without %s refuses to start and names it',
    (name) => {
      expect(problemsOf({ ...V2_PRODUCTION, [name]: '' })).toEqual([`${name} is required when NODE_ENV=production and PORTONE_VERSION=v2`]);
    },
  );

  test('a V2 URL outside production needs the V2 credentials, named', () => {
    expect(problemsOf({ PORTONE_VERSION: 'v2', PORTONE_API_URL: 'http://127.0.0.1:4010/v2' })).toEqual([
      'PORTONE_API_SECRET, PORTONE_STORE_ID and PORTONE_WEBHOOK_SECRET are required when PORTONE_API_URL is set with PORTONE_VERSION=v2',
    ]);
    expect(problemsOf({ PORTONE_API_URL: 'http://127.0.0.1:4010' })).toEqual([
      'PORTONE_IMP_KEY and PORTONE_IMP_SECRET are required when PORTONE_API_URL is set',
    ]);
  });

  test('two webhook secrets (rotation), with or without whsec_, are both kept', () => {
    const config = loadConfig({ PORTONE_VERSION: 'V2', PORTONE_WEBHOOK_SECRET: ' whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw , MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSx ' });
    expect(config.portone.webhookSecrets).toEqual(['whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw', 'MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSx']);
  });

  test.each([
    ['PORTONE_VERSION', { PORTONE_VERSION: 'v3' }, /PORTONE_VERSION must be v1 or v2 \(got "v3"\)/],
    ['three webhook secrets', { PORTONE_WEBHOOK_SECRET: 'whsec_aaaaaaaaaaaaaaaaaaaa,whsec_bbbbbbbbbbbbbbbbbbbb,whsec_cccccccccccccccccccc' }, /PORTONE_WEBHOOK_SECRET must be one signing secret, or two/],
    ['a webhook secret that is not base64', { PORTONE_WEBHOOK_SECRET: 'whsec_not base64!!' }, /PORTONE_WEBHOOK_SECRET: secret 1 is not a console signing secret/],
  ])('%s: a bad value is named, and a secret is never echoed', (_name, env, message) => {
    const problems = problemsOf(env as Record<string, string>);
    expect(problems).toHaveLength(1);
    expect(problems[0]).toMatch(message);
    expect(problems[0]).not.toContain('not base64!!');
  });
});
