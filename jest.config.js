/**
 * Jest runs the TypeScript sources directly (ts-jest, transpile only); `npm test` type-checks separately.
 * The global setup first brings dist/ up to date, which CLI, notebook and widget tests run.
 */
module.exports = {
  testEnvironment: 'node',
  roots: ['<rootDir>/tests'],
  testMatch: ['**/*.test.ts'],
  transform: { '^.+\\.ts$': ['ts-jest', { isolatedModules: true, diagnostics: false }] },
  globalSetup: '<rootDir>/tests/helpers/global-setup.js',
  testTimeout: 120000,
  maxWorkers: 2,
};
