// ESM jest with ts-jest (the @actions/* packages are ESM-only).
const tsJest = ['ts-jest', { useESM: true, tsconfig: 'tsconfig.json', diagnostics: false }]
const common = {
  extensionsToTreatAsEsm: ['.ts', '.py'],
  moduleFileExtensions: ['ts', 'js', 'json', 'py'],
  moduleNameMapper: { '^(\\.{1,2}/.*)\\.js$': '$1' },
  // Host programs (src/host/*.py) are imported as their text, as rollup's text-import does.
  transform: { '^.+\\.ts$': tsJest, '^.+\\.py$': '<rootDir>/tools/jest/text-transform.js' },
  testEnvironment: 'node'
}
export default {
  testTimeout: 180000,
  // Longest files first, also on a machine without jest's cache (CI).
  testSequencer: '<rootDir>/tools/jest/slowest-first.js',
  projects: [
    { ...common, displayName: 'unit', testMatch: ['<rootDir>/__tests__/unit/**/*.test.ts'] },
    {
      ...common,
      displayName: 'integration',
      testMatch: ['<rootDir>/__tests__/integration/**/*.test.ts'],
      // 10 minutes a test or hook (a project's own testTimeout is not read by jest).
      setupFilesAfterEnv: ['<rootDir>/__tests__/helpers/integration-timeout.ts']
    }
  ]
}
