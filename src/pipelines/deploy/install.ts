/**
 * The bodies of the steps that put a release on the host: its virtualenv (create-venv), pip's
 * install, its config and environment (render-config), the hooks, and release.json last
 * (complete-release).
 */
import { createHash } from 'node:crypto'
import { basename, join } from 'node:path'
import { ENV_FILE, envFileText } from '../../config/app-env.js'
import { changeMode, makeDirs, removeTree } from '../../commands/files.js'
import { RECORD_DIGESTS } from '../../commands/host-scripts.js'
import * as py from '../../commands/python.js'
import { describeHookCount, runAfterInstallHooks } from '../../sites/hooks.js'
import { siteLayout } from '../../sites/layout.js'
import { SitecycleError } from '../../util/errors.js'
import type { DeployContext } from './context.js'

/** create-venv: a fresh virtualenv at releases/<version>, or the same release reused. */
export async function createReleaseVenv(c: DeployContext): Promise<string> {
  const dir = siteLayout(c.site.root).release(c.release.version)
  const existing = c.releases.find(r => r.dir === c.release.version)
  if (existing) {
    const same = existing.complete && existing.info?.sha256 === c.release.sha256
    if (same) {
      c.reusedRelease = true
      return `${c.release.version} is already installed with the same content: reused`
    }
    if (existing.dir === c.state.idle || existing.dir === c.state.live)
      throw new SitecycleError(
        `version ${c.release.version} is installed in a slot of site ${c.site.name} with other content ` +
          `(sha256 ${existing.info?.sha256 ?? 'unknown'}, this release ${c.release.sha256}): a version must not be reused for other content; build a new version`,
        'release'
      )
    await c.exec.run(removeTree(dir))
  }
  c.createdRelease = true
  try {
    // The installs yield the CPU to the site's users (nice): see py.yieldingToUsers.
    await c.exec.run(py.yieldingToUsers(py.createVenv(c.python, dir)))
  } catch (e) {
    // A failed step's own undo does not run: leave no half-made virtualenv behind.
    await c.exec.tryRun(removeTree(dir))
    throw e
  }
  return `releases/${c.release.version}`
}

/** install: pip installs the release (its wheel, built first from an sdist) into the
 * virtualenv create-venv made. */
export async function installRelease(c: DeployContext): Promise<string> {
  const l = siteLayout(c.site.root)
  const dir = l.release(c.release.version)
  let wheel = c.upload
  if (c.release.kind === 'sdist') {
    const wheels = `${l.incoming}/${c.opId}/wheels`
    await c.exec.run(py.yieldingToUsers(py.pipWheel(c.python, c.upload, wheels)))
    const listing = await c.exec.run({ argv: ['ls', '-1', wheels] })
    const built = listing.stdout.split('\n').filter(f => f.endsWith('.whl'))
    if (built.length !== 1)
      throw new SitecycleError(
        `building a wheel from ${basename(c.upload)} gave ${built.length} wheels`,
        'install'
      )
    wheel = `${wheels}/${built[0]}`
  }
  c.wheelOnHost = wheel
  const incoming = `${l.incoming}/${c.opId}`
  let note = `${c.release.kind} into releases/${c.release.version}`
  // pip byte-compiles what it installs (the first request does not pay for it), in the
  // virtualenv's interpreter, started once.
  const how: py.PipIntoVenv = { runner: c.pipRunner, compile: true }
  const wheelhouse = c.release.wheelhouse
  if (wheelhouse) {
    // Offline and hash-checked: every file pip takes must match requirements.lock.
    const onHost = `${incoming}/wheelhouse`
    await c.exec.run(makeDirs([onHost], '700'))
    for (const f of wheelhouse.files)
      await c.exec.put(join(wheelhouse.dir, f.name), `${onHost}/${f.name}`, 0o644)
    const lock = `${incoming}/requirements.lock`
    await c.exec.put(wheelhouse.lockFile, lock, 0o644)
    await c.exec.run(
      py.yieldingToUsers(py.pipInstallLocked(c.python, dir, lock, [incoming, onHost], how))
    )
    note = `${note} with ${wheelhouse.files.length} ${wheelhouse.files.length === 1 ? 'dependency' : 'dependencies'} from its wheelhouse (--require-hashes)`
  } else if (c.indexUrl) {
    // The site installs its dependencies from an index (sites.<n>.pip.index_url_env).
    await c.exec.run(
      py.yieldingToUsers(py.pipInstallFromIndex(c.python, dir, wheel, [incoming], c.indexUrl, how))
    )
    note = `${note}, dependencies from the site's index`
  } else {
    await c.exec.run(py.yieldingToUsers(py.pipInstall(c.python, dir, wheel, [incoming], how)))
  }
  await c.exec.run(changeMode('755', dir))
  return note
}

/** complete-release: write release.json into the release, the last thing a release directory
 * gets: one without it is half-installed (recovery removes it), and a slot's daemon that
 * started before it appeared loads the application only once it is there. */
export async function completeRelease(c: DeployContext): Promise<string> {
  const dir = siteLayout(c.site.root).release(c.release.version)
  // The RECORDs as installed, and the files the hooks made, kept outside site-packages: watch
  // checks the release against these.
  const out = (await c.exec.run(py.hostScript(c.python, RECORD_DIGESTS, [dir]))).stdout.trim()
  const digests = out
    ? (JSON.parse(out) as { records: Record<string, string>; made: Record<string, string> })
    : undefined
  const record = {
    name: c.release.name,
    version: c.release.version,
    sha256: c.release.sha256,
    file: basename(c.release.file),
    kind: c.release.kind,
    commit: c.release.manifest.commit ?? null,
    installedAt: new Date().toISOString(),
    operation: c.opId,
    // No output (nothing to read): no digests kept.
    ...(digests && { records: digests.records, made: digests.made })
  }
  await writeReleaseRecord(c, record)
  return `releases/${c.release.version}/release.json`
}

/** release.json replaced in one rename: a reader sees the old or the new, never half of one. */
async function writeReleaseRecord(c: DeployContext, record: object): Promise<void> {
  const dir = siteLayout(c.site.root).release(c.release.version)
  await c.exec.writeFile(`${dir}/release.json.tmp`, JSON.stringify(record, null, 2) + '\n', 0o644)
  await c.exec.run({ argv: ['mv', '-T', `${dir}/release.json.tmp`, `${dir}/release.json`] })
}

/**
 * A reused release's hooks ran again: the files they made now replace those its release.json
 * kept (watch checks against them), the rest of the record as it was installed.
 */
async function refreshMadeFiles(c: DeployContext): Promise<string | undefined> {
  const dir = siteLayout(c.site.root).release(c.release.version)
  const text = await c.exec.readFile(`${dir}/release.json`)
  const out = (await c.exec.run(py.hostScript(c.python, RECORD_DIGESTS, [dir]))).stdout.trim()
  if (!text || !out) return undefined
  const record = JSON.parse(text) as Record<string, unknown>
  const made = (JSON.parse(out) as { made: Record<string, string> }).made
  if (JSON.stringify(record.made) === JSON.stringify(made)) return undefined
  await writeReleaseRecord(c, { ...record, made })
  return `the files they made kept in release.json (${Object.keys(made).length})`
}

/**
 * Write the rendered config (app.ini, with its checksum for watch) and the application's
 * environment (env.json, read by the slot's WSGI script before it imports the application) into
 * the release, both readable by the Apache group only. A reused release without an environment
 * loses the one an earlier config gave it.
 */
export async function writeReleaseConfig(c: DeployContext): Promise<string> {
  const dir = siteLayout(c.site.root).release(c.release.version)
  const written: string[] = []
  if (c.rendered) {
    const path = `${dir}/app.ini`
    await c.exec.writeFile(path, c.rendered.text, 0o640)
    await c.exec.tryRun({ argv: ['chgrp', c.site.apache.group, path] })
    // What watch checks the live config against (sha256sum format; no secret in a hash of the whole file).
    const sha = createHash('sha256').update(c.rendered.text).digest('hex')
    await c.exec.writeFile(`${path}.sha256`, `${sha}  app.ini\n`, 0o644)
    const names = c.rendered.secretNames
    written.push(`app.ini${names.length ? ` with secrets ${names.join(', ')}` : ''}`)
  }
  const envPath = `${dir}/${ENV_FILE}`
  if (c.appEnv) {
    await c.exec.writeFile(envPath, envFileText(c.appEnv), 0o640)
    await c.exec.tryRun({ argv: ['chgrp', c.site.apache.group, envPath] })
    const names = Object.keys(c.appEnv.variables)
    const secret = c.appEnv.secretNames
    written.push(
      `${ENV_FILE} (${names.join(', ') || 'empty'})${secret.length ? ` with secrets in ${secret.join(', ')}` : ''}`
    )
  } else if ((await c.exec.readFile(envPath)) !== undefined) {
    await c.exec.run({ argv: ['rm', '-f', envPath] })
    written.push(`${ENV_FILE} removed (no env: in the config)`)
  }
  return written.join('; ') || 'nothing to write'
}

export async function runHooks(c: DeployContext): Promise<string> {
  const n = await runAfterInstallHooks(
    c.exec,
    c.config,
    c.site,
    { version: c.release.version, redact: c.rendered?.secrets },
    c.reporter
  )
  const refreshed = c.reusedRelease ? await refreshMadeFiles(c) : undefined
  return `${describeHookCount(n)}${refreshed ? `; ${refreshed}` : ''}`
}
