/** Jest runs the TypeScript sources as native ES modules (see the `test` script), compiled by swc. */
export default {
  testEnvironment: '<rootDir>/test/support/node-environment.cjs',
  extensionsToTreatAsEsm: ['.ts'],
  transform: {
    '^.+\\.ts$': ['@swc/jest', { jsc: { target: 'es2022', parser: { syntax: 'typescript' } }, module: { type: 'es6' } }],
  },
  // Sources import siblings as `./x.js` (NodeNext); map them back to the .ts files.
  moduleNameMapper: { '^(\\.{1,2}/.*)\\.js$': '$1' },
  testMatch: ['<rootDir>/test/**/*.test.ts'],
  testTimeout: 120_000,
  // One PostgreSQL and one migrated template for the whole run (test/support/database.ts).
  globalSetup: '<rootDir>/test/support/database-global-setup.ts',
  globalTeardown: '<rootDir>/test/support/database-global-teardown.ts',
};
