// `npm run bench:deploy`: compile bench/deploy.ts (and what it imports) with the repository's
// TypeScript into build/bench (gitignored), then run it. Arguments are passed through.
import { spawnSync } from 'node:child_process'
import { dirname, join } from 'node:path'
import { fileURLToPath } from 'node:url'

const root = join(dirname(fileURLToPath(import.meta.url)), '..')
const tsc = join(root, 'node_modules', 'typescript', 'bin', 'tsc')
const built = spawnSync(process.execPath, [tsc, '-p', join(root, 'bench', 'tsconfig.json')], {
  cwd: root,
  stdio: 'inherit'
})
if (built.status !== 0) {
  process.stderr.write('bench: compiling bench/deploy.ts failed\n')
  process.exit(built.status ?? 1)
}
const run = spawnSync(
  process.execPath,
  [
    '--import',
    join(root, 'tools', 'python-text-hook.mjs'),
    join(root, 'build', 'bench', 'bench', 'deploy.js'),
    ...process.argv.slice(2)
  ],
  {
    cwd: root,
    stdio: 'inherit'
  }
)
process.exit(run.status ?? 1)
