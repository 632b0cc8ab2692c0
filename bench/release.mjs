// `npm run bench:release`: compile bench/release.ts (and what it imports) with the repository's
// TypeScript into build/bench (gitignored), then run it. Arguments are passed through. The
// tsconfig extends bench/tsconfig.json with release.ts as its only input; it is written under
// build/ so bench/tsconfig.json stays the deploy benchmark's.
import { spawnSync } from 'node:child_process'
import { mkdirSync, writeFileSync } from 'node:fs'
import { dirname, join } from 'node:path'
import { fileURLToPath } from 'node:url'

const root = join(dirname(fileURLToPath(import.meta.url)), '..')
const tsc = join(root, 'node_modules', 'typescript', 'bin', 'tsc')
const configDir = join(root, 'build')
mkdirSync(configDir, { recursive: true })
const config = join(configDir, 'tsconfig.bench-release.json')
writeFileSync(
  config,
  JSON.stringify(
    { extends: '../bench/tsconfig.json', include: ['../bench/release.ts', '../src/types/*.d.ts'] },
    null,
    2
  )
)
const built = spawnSync(process.execPath, [tsc, '-p', config], { cwd: root, stdio: 'inherit' })
if (built.status !== 0) {
  process.stderr.write('bench: compiling bench/release.ts failed\n')
  process.exit(built.status ?? 1)
}
const run = spawnSync(
  process.execPath,
  [
    '--import',
    join(root, 'tools', 'python-text-hook.mjs'),
    join(root, 'build', 'bench', 'bench', 'release.js'),
    ...process.argv.slice(2)
  ],
  { cwd: root, stdio: 'inherit' }
)
process.exit(run.status ?? 1)
