// One build of every entry point, committed under dist/: dist/<name>.js per entry (the actions'
// runs.main, package.json's bin), the modules two or more entries share, and the lazily
// imported @actions/artifact, in dist/chunks/. Minified; the names are content hashes, so a
// rebuild of the same sources writes the same bytes (scripts/check-dist.sh).
import commonjs from '@rollup/plugin-commonjs'
import json from '@rollup/plugin-json'
import { nodeResolve } from '@rollup/plugin-node-resolve'
import terser from '@rollup/plugin-terser'
import typescript from '@rollup/plugin-typescript'
import { removeStaleFiles } from './tools/rollup/remove-stale-files.js'
import { textImport } from './tools/rollup/text-import.js'

export default {
  input: {
    cli: 'src/cli.ts',
    'deploy-stage': 'src/actions/deploy-stage-main.ts',
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
  },
  output: {
    dir: 'dist',
    format: 'es',
    sourcemap: false,
    entryFileNames: '[name].js',
    chunkFileNames: 'chunks/[name]-[hash].js',
    banner: chunk => (chunk.isEntry && chunk.name === 'cli' ? '#!/usr/bin/env node' : ''),
    // Class and function names kept: error output and `.name` checks read as before.
    plugins: [terser({ keep_classnames: true, keep_fnames: true }), removeStaleFiles()]
  },
  onwarn(warning, warn) {
    if (warning.code === 'CIRCULAR_DEPENDENCY' || warning.code === 'INVALID_ANNOTATION') return
    warn(warning)
  },
  plugins: [
    typescript({ tsconfig: 'tsconfig.build.json', noEmitOnError: true }),
    textImport(),
    nodeResolve({ preferBuiltins: true }),
    commonjs(),
    json()
  ]
}
