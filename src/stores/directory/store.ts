/**
 * The directory store (see ./layout.ts): publish, list, fetch, unpublish and prune through an
 * Executor, every change under the store's lock, the index and the notes rewritten after it.
 */
import { randomBytes } from 'node:crypto'
import fs from 'node:fs/promises'
import path from 'node:path'
import { cmd } from '../../commands/command.js'
import { removeTree } from '../../commands/files.js'
import type { HostSpec, StoreConfig } from '../../config/model.js'
import type { Executor } from '../../hosts/executor.js'
import {
  formatSha256Sums,
  listReleasePaths,
  MANIFEST_FILE,
  readManifest,
  SHA256SUMS_FILE,
  validateManifest,
  type ReleaseManifest
} from '../../releases/manifest.js'
import {
  resolveRelease,
  verifyReleaseFiles,
  type ResolvedRelease
} from '../../releases/resolve-release.js'
import { compareVersions, isValidVersion } from '../../releases/version.js'
import { SitecycleError } from '../../util/errors.js'
import type { Reporter } from '../../util/reporter.js'
import type { StoreDeps } from '../registry.js'
import type { LocalRelease, PublishResult, ReleaseStore } from '../store.js'
import { firstDifference } from './first-difference.js'
import { indexProjects, renderProjectPage, renderSimpleRoot } from './index-html.js'
import { directoryStoreLayout, type DirectoryStoreLayout } from './layout.js'
import { withStoreLock } from './lock.js'
import { renderNotesHtml, renderNotesMarkdown } from './notes.js'
import { CHECK_AND_RENAME, LIST_DIR, READ_STATE, WRITE_PAGES } from './scripts.js'
import { tarArchive } from './tar-writer.js'

const posix = path.posix

function storeError(message: string): SitecycleError {
  return new SitecycleError(message, 'release')
}

function hostLabel(host: HostSpec): string {
  return host.kind === 'local' ? '' : ` on ssh://${host.user}@${host.hostname}:${host.port}`
}

function token(): string {
  return randomBytes(6).toString('hex')
}

class DirectoryStore implements ReleaseStore {
  readonly kind = 'directory'
  readonly label: string
  private readonly layout: DirectoryStoreLayout
  private executor: Executor | undefined

  constructor(
    private readonly config: Extract<StoreConfig, { type: 'directory' }>,
    private readonly deps: StoreDeps
  ) {
    this.layout = directoryStoreLayout(posix.normalize(config.path).replace(/(.)\/$/, '$1'))
    this.label = `directory ${this.layout.root}${hostLabel(config.host)}`
  }

  /** The store's host, reached lazily: a store that is configured but unused connects nowhere. */
  private get exec(): Executor {
    this.executor ??= this.deps.executorFor(this.config.host)
    return this.executor
  }

  private location(version: string): string {
    const h = this.config.host
    const dir = this.layout.release(version)
    return h.kind === 'local' ? dir : `ssh://${h.user}@${h.hostname}:${h.port}${dir}`
  }

  async listVersions(): Promise<string[]> {
    const names = await this.listDir(this.layout.releases)
    return names.filter(n => !n.startsWith('.') && isValidVersion(n)).sort(compareVersions)
  }

  async publish(release: LocalRelease, reporter: Reporter): Promise<PublishResult> {
    const manifest = await readManifest(path.join(release.dir, MANIFEST_FILE))
    if (compareVersions(manifest.version, release.version) !== 0)
      throw storeError(
        `release folder ${release.dir} holds version ${manifest.version}, not ${release.version}`
      )
    // Never publish what does not match its own manifest.
    await verifyReleaseFiles(release.dir, manifest)
    const version = manifest.version

    return withStoreLock(this.exec, this.layout, this.label, reporter, async () => {
      const existing = await this.findVersion(version)
      if (existing !== undefined) {
        const published = await this.readStoredManifest(existing)
        const diff = firstDifference(published, manifest)
        if (diff !== undefined)
          throw storeError(
            `version ${version} is already published in ${this.label} with other content: ${diff} differs. ` +
              `A published version is never replaced; release a new version`
          )
        reporter.info(
          `${manifest.name} ${version} is already in ${this.label} with the same content`
        )
        return { location: this.location(existing), changed: false }
      }

      const staging = posix.join(this.layout.releases, `.publishing-${version}-${token()}`)
      let moved = false
      try {
        for (const f of [MANIFEST_FILE, ...listReleasePaths(manifest).map(f => f.path)])
          await this.exec.put(
            path.join(release.dir, ...f.split('/')),
            posix.join(staging, f),
            0o644
          )
        // Made from the manifest, so the check below covers every file the manifest lists.
        await this.exec.writeFile(
          posix.join(staging, SHA256SUMS_FILE),
          formatSha256Sums(manifest),
          0o644
        )
        const check = cmd([
          'sh',
          '-c',
          CHECK_AND_RENAME,
          'sh',
          staging,
          this.layout.release(version)
        ])
        const r = await this.exec.tryRun(check)
        if (r.code !== 0)
          throw storeError(
            `the copy of ${manifest.name} ${version} uploaded to ${this.label} does not match its manifest, so nothing was published: ${(r.stdout + r.stderr).trim()}`
          )
        moved = true
      } finally {
        if (!moved) await this.exec.tryRun(removeTree(staging))
      }
      reporter.info(`published ${manifest.name} ${version} to ${this.label}`)
      await this.regenerate([], reporter)
      return { location: this.location(version), changed: true }
    })
  }

  async unpublish(version: string, reporter: Reporter): Promise<void> {
    await this.removeVersions(reporter, async () => {
      const found = await this.findVersion(version)
      if (found === undefined)
        reporter.info(`${version} is not in ${this.label}: nothing to remove`)
      return found === undefined ? [] : [found]
    })
  }

  async prune(keep: number, reporter: Reporter): Promise<string[]> {
    if (!Number.isInteger(keep) || keep < 1)
      throw new SitecycleError(
        `cannot prune ${this.label} to ${keep} versions: keep at least 1`,
        'input'
      )
    return this.removeVersions(reporter, async () => {
      const versions = await this.listVersions()
      return versions.slice(0, Math.max(0, versions.length - keep))
    })
  }

  async fetch(version: string, intoDir: string, reporter: Reporter): Promise<ResolvedRelease> {
    const found = await this.findVersion(version)
    if (found === undefined) {
      const versions = await this.listVersions()
      throw storeError(
        `version ${version} is not in ${this.label}: ${versions.length ? `it holds ${versions.join(', ')}` : 'it holds no release'}`
      )
    }
    const local = path.resolve(intoDir)
    const dest = path.join(local, found)
    if (await exists(dest))
      throw storeError(`cannot fetch ${version} from ${this.label}: ${dest} exists already`)
    await fs.mkdir(local, { recursive: true })
    const staging = await fs.mkdtemp(path.join(local, `.fetching-${found}-`))
    let done = false
    try {
      const remote = this.layout.release(found)
      await this.exec.get(posix.join(remote, MANIFEST_FILE), path.join(staging, MANIFEST_FILE))
      const fetched = await readManifest(path.join(staging, MANIFEST_FILE)).catch(e => {
        throw this.corrupt(found, e)
      })
      const files = [SHA256SUMS_FILE, ...listReleasePaths(fetched).map(f => f.path)]
      for (const f of files)
        await this.exec.get(posix.join(remote, f), path.join(staging, ...f.split('/')))
      try {
        await verifyReleaseFiles(staging, fetched)
      } catch (e) {
        throw this.corrupt(found, e)
      }
      await fs.chmod(staging, 0o755)
      await fs.rename(staging, dest)
      done = true
      try {
        const resolved = await resolveRelease({
          path: dest,
          version: found,
          packageName: fetched.name
        })
        reporter.info(`fetched ${fetched.name} ${found} from ${this.label} into ${dest}`)
        return resolved
      } catch (e) {
        await fs.rm(dest, { recursive: true, force: true })
        throw this.corrupt(found, e)
      }
    } finally {
      if (!done) await fs.rm(staging, { recursive: true, force: true })
    }
  }

  private corrupt(version: string, e: unknown): unknown {
    if (!(e instanceof SitecycleError)) return e
    return storeError(
      `release ${version} in ${this.label} is refused: ${e.message}. ` +
        `The stored copy differs from what was published; do not deploy it (republish it from the original build, or deploy another version)`
    )
  }

  /** The stored version equal to `version` by PEP 440 (`1.0` finds `1.0.0`). */
  private async findVersion(version: string): Promise<string | undefined> {
    if (!isValidVersion(version))
      throw new SitecycleError(
        `invalid version '${version}': expected a PEP 440 version such as 1.4.0`,
        'input'
      )
    return (await this.listVersions()).find(v => compareVersions(v, version) === 0)
  }

  private parseManifest(version: string, text: string): ReleaseManifest {
    const where = `${posix.join(this.layout.release(version), MANIFEST_FILE)} in ${this.label}`
    let value: unknown
    try {
      value = JSON.parse(text)
    } catch (e) {
      throw storeError(`${where} is not valid JSON: ${(e as Error).message}`)
    }
    return validateManifest(value, where)
  }

  private async readStoredManifest(version: string): Promise<ReleaseManifest> {
    const where = posix.join(this.layout.release(version), MANIFEST_FILE)
    const text = await this.exec.readFile(where)
    if (text === undefined) throw storeError(`${where} in ${this.label} is missing`)
    return this.parseManifest(version, text)
  }

  private async listDir(dir: string): Promise<string[]> {
    const r = await this.exec.run(cmd(['sh', '-c', LIST_DIR, 'sh', dir]))
    return r.stdout.split('\n').filter(n => n !== '')
  }

  /** Remove versions chosen under the lock: the index first forgets them, then they go. */
  private async removeVersions(
    reporter: Reporter,
    choose: () => Promise<string[]>
  ): Promise<string[]> {
    // An empty (or missing) store has nothing to lock or remove.
    if ((await this.listVersions()).length === 0) return choose()
    return withStoreLock(this.exec, this.layout, this.label, reporter, async () => {
      const remove = await choose()
      if (remove.length === 0) return []
      await this.regenerate(remove, reporter)
      const aside = remove.map(v => posix.join(this.layout.releases, `.removing-${v}-${token()}`))
      await this.exec.run(
        cmd([
          'sh',
          '-c',
          'while [ $# -gt 1 ]; do mv -T -- "$1" "$2"; shift 2; done',
          'sh',
          ...remove.flatMap((v, i) => [this.layout.release(v), aside[i]])
        ])
      )
      await this.exec.run(removeTree(...aside))
      for (const v of remove) reporter.info(`removed ${v} from ${this.label}`)
      return remove
    })
  }

  /**
   * Rewrite the index and the notes from the published manifests, leaving out `excluded`: every
   * page unpacked aside, then all renamed over, and pages of projects no release mentions any
   * more removed, in one command. Two round trips to the host whatever the store holds.
   */
  private async regenerate(excluded: string[], reporter: Reporter): Promise<void> {
    const state = await this.exec.run(cmd(['sh', '-c', READ_STATE, 'sh', this.layout.root]))
    const parts = state.stdout.split('\0')
    const marker = parts.indexOf('--simple--')
    const manifests: ReleaseManifest[] = []
    for (let i = 0; i + 1 < marker; i += 2) {
      const version = parts[i]
      if (version.startsWith('.') || !isValidVersion(version) || excluded.includes(version))
        continue
      try {
        manifests.push(this.parseManifest(version, parts[i + 1]))
      } catch (e) {
        if (!(e instanceof SitecycleError)) throw e
        reporter.warn(`${e.message}: version ${version} is left out of the index`)
      }
    }
    const simpleEntries = (parts[marker + 1] ?? '').split('\n').filter(n => n !== '')

    const projects = indexProjects(manifests)
    const suffix = `.tmp-${token()}`
    const pages: { name: string; content: string }[] = [
      { name: 'simple/index.html', content: renderSimpleRoot(projects) },
      ...projects.map(p => ({
        name: `simple/${p.name}/index.html`,
        content: renderProjectPage(p)
      })),
      { name: 'notes.md', content: renderNotesMarkdown(manifests) },
      { name: 'notes.html', content: renderNotesHtml(manifests) }
    ]
    const live = new Set(projects.map(p => p.name))
    // Under the lock, any other entry is a page of a removed project or a crashed run's temp file.
    const stale = simpleEntries
      .filter(n => n !== 'index.html' && !live.has(n))
      .map(n => posix.join(this.layout.simple, n))
    await this.exec.run(
      cmd(
        [
          'sh',
          '-c',
          WRITE_PAGES,
          'sh',
          this.layout.root,
          ...pages.flatMap(p => [
            posix.join(this.layout.root, `${p.name}${suffix}`),
            posix.join(this.layout.root, p.name)
          ]),
          '--',
          ...stale
        ],
        { input: tarArchive(pages.map(p => ({ name: `${p.name}${suffix}`, content: p.content }))) }
      )
    )
  }
}

async function exists(p: string): Promise<boolean> {
  try {
    await fs.lstat(p)
    return true
  } catch {
    return false
  }
}

/**
 * A directory store (see the layout above) on `config.host`, reached through
 * `deps.executorFor(config.host)`, which the caller closes.
 */
export function createDirectoryStore(config: StoreConfig, deps: StoreDeps): ReleaseStore {
  if (config.type !== 'directory')
    throw new SitecycleError(
      `a directory store cannot be made from a ${config.type} store`,
      'config'
    )
  if (!posix.isAbsolute(config.path))
    throw new SitecycleError(
      `directory store path '${config.path}' is not absolute: give the folder's full path on its host`,
      'config'
    )
  return new DirectoryStore(config, deps)
}
