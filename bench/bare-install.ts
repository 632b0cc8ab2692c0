/**
 * The baseline the deploy benchmarks compare with: a bare install, as someone without sitecycle
 * would do it (a venv without pip, then one hermetic offline `pip --python ... install`), and
 * the median of several runs.
 */
import { rm } from 'node:fs/promises'
import { PIP_HERMETIC_ENV, PIP_HERMETIC_UNSET } from '../src/commands/python.js'
import { commandEnv, runProcess } from '../src/hosts/local-executor.js'
import { now } from '../__tests__/helpers/load.js'

const PYTHON = '/usr/bin/python3'

/** Seconds of one bare install into the new venv `venv` (removed after): `pipInstall` are the
 * arguments after `pip install --no-index`. */
export async function timeBareInstall(venv: string, pipInstall: string[]): Promise<number> {
  const env = commandEnv({ argv: [], env: PIP_HERMETIC_ENV, unsetEnv: PIP_HERMETIC_UNSET })
  const steps = [
    [PYTHON, '-m', 'venv', '--without-pip', venv],
    [PYTHON, '-m', 'pip', '--python', `${venv}/bin/python`, 'install', '--no-index', ...pipInstall]
  ]
  const t0 = now()
  for (const [file, ...args] of steps) {
    const r = await runProcess(file, args, { env })
    if (r.code !== 0)
      throw new Error(
        `${[file, ...args].join(' ')} failed (${r.code}): ${r.stderr.toString().trim()}`
      )
  }
  const s = (now() - t0) / 1000
  await rm(venv, { recursive: true, force: true })
  return s
}

export function median(values: number[]): number {
  const sorted = [...values].sort((a, b) => a - b)
  const mid = Math.floor(sorted.length / 2)
  return sorted.length % 2 ? sorted[mid] : (sorted[mid - 1] + sorted[mid]) / 2
}
