import { ConfigError, loadConfig, SIMULATOR_IMP_KEY } from '../../src/config';

describe('loadConfig', () => {
  test('defaults: port 4000, embedded database, simulator, 10 minute holds, generated dev secret', () => {
    const config = loadConfig({});
    expect(config).toMatchObject({ port: 4000, databaseUrl: null, holdMinutes: 10, jwtSecretGenerated: true });
    expect(config.portone).toMatchObject({ apiUrl: null, impKey: SIMULATOR_IMP_KEY });
    expect(config.jwtSecret).toHaveLength(64);
    expect(Object.isFrozen(config) && Object.isFrozen(config.portone)).toBe(true);
  });

  test('reads the contract variables', () => {
    const config = loadConfig({
      PORT: '8080',
      DATABASE_URL: 'postgres://u:p@db.internal:5432/booking',
      JWT_SECRET: 'x'.repeat(40),
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
    const secret = 'p'.repeat(40);
    expect(loadConfig({ NODE_ENV: 'production', JWT_SECRET: secret }).introspection).toBe(false);
    expect(loadConfig({ NODE_ENV: 'production', JWT_SECRET: secret, GRAPHQL_INTROSPECTION: 'true' }).introspection).toBe(true);
    expect(() => loadConfig({ GRAPHQL_INTROSPECTION: 'maybe' })).toThrow(/GRAPHQL_INTROSPECTION/);
  });

  test('production requires a JWT secret', () => {
    expect(() => loadConfig({ NODE_ENV: 'production' })).toThrow(/JWT_SECRET is required/);
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
