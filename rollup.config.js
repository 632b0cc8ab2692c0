// One self-contained ESM bundle per entry point, committed under dist/.
import commonjs from '@rollup/plugin-commonjs'
import json from '@rollup/plugin-json'
import { nodeResolve } from '@rollup/plugin-node-resolve'
import { textImport } from './tools/rollup/text-import.js'
import { typescriptOnce } from './tools/rollup/typescript-once.js'

const entries = {
  cli: 'src/cli.ts',
  deploy: 'src/actions/deploy-main.ts',
  rollback: 'src/actions/rollback-main.ts',
  publish: 'src/actions/publish-main.ts',
  snapshot: 'src/actions/snapshot-main.ts',
  restore: 'src/actions/restore-main.ts',
  'sync-preview': 'src/actions/sync-preview-main.ts',
  attempt: 'src/actions/attempt-main.ts',
  clone: 'src/actions/clone-main.ts',
  mirror: 'src/actions/mirror-main.ts',
  compare: 'src/actions/compare-main.ts',
  watch: 'src/actions/watch-main.ts',
  run: 'src/actions/run-main.ts'
}

// One TypeScript program for all of them (tools/rollup/typescript-once.js).
const ts = typescriptOnce(
  { tsconfig: 'tsconfig.build.json', noEmitOnError: true },
  Object.keys(entries).length
)

export default Object.entries(entries).map(([name, input]) => ({
  input,
  output: {
    file: `dist/${name}.js`,
    format: 'es',
    sourcemap: false,
    // One file per entry: a lazily imported module (@actions/artifact) is inlined, not a chunk.
    inlineDynamicImports: true,
    banner: name === 'cli' ? '#!/usr/bin/env node' : undefined
  },
  onwarn(warning, warn) {
    if (warning.code === 'CIRCULAR_DEPENDENCY' || warning.code === 'INVALID_ANNOTATION') return
    warn(warning)
  },
  plugins: [ts, textImport(), nodeResolve({ preferBuiltins: true }), commonjs(), json()]
}))
