/** @type {import('jest').Config} */
module.exports = {
  testEnvironment: 'node',
  roots: ['<rootDir>/test'],
  testMatch: ['**/*.test.ts'],
  transform: { '^.+\\.ts$': ['ts-jest', { tsconfig: 'tsconfig.json' }] },
  globalSetup: '<rootDir>/test/global-setup.ts',
  globalTeardown: '<rootDir>/test/global-teardown.ts',
  testTimeout: 60000,
  maxWorkers: 2,
  // A worker ends with no handle open ('exit' fires within 1 ms of jest's end message), but one that ran
  // the integration tests holds ~700 MB of heap (~1 GB RSS), and tearing that down takes ~200 ms on an
  // idle machine, more with both workers and PostgreSQL on two cores: past jest's 500 ms default it is
  // force-exited and reported as a leak. A real leak (a handle that never closes) still shows.
  workerGracefulExitTimeout: 3000,
};
