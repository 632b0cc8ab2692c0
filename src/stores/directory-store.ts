/**
 * The directory store: a folder on this machine or on a server reached over SSH, always
 * through an Executor. Its layout serves pip as it is (PEP 503):
 *
 *   <path>/releases/<version>/     manifest.json, SHA256SUMS, sdist, wheel, wheelhouse/, requirements.lock
 *   <path>/simple/index.html       one anchor per project
 *   <path>/simple/<project>/index.html
 *                                  anchors to the files, relative (`../../releases/<version>/<file>`),
 *                                  with `#sha256=` fragments and `data-requires-python`; the
 *                                  wheelhouse wheels are listed under their own projects
 *   <path>/notes.md, notes.html    the release notes: versions, dates, notes, newest first
 *   <path>/.lock/                  held while the store changes (mkdir is atomic)
 *
 * So `pip install --index-url file://<path>/simple <name>==<version>` works, and so does
 * `pip install --no-index --find-links <path>/releases/<version> <name>==<version>`.
 *
 * The files live only in their release folder: a publish is one rename of a hidden, fully
 * uploaded and checked folder into `releases/`, so a half-published version is never visible,
 * and removing a version is removing one folder. The index and the notes are derived from the
 * manifests and rewritten after each change (each page written aside, then renamed over).
 */
import { randomBytes } from 'node:crypto'
import fs from 'node:fs/promises'
import os from 'node:os'
import path from 'node:path'
import { cmd } from '../commands/command.js'
import { removeTree } from '../commands/files.js'
import type { HostSpec, StoreConfig } from '../config/model.js'
import type { Executor } from '../hosts/executor.js'
import {
  formatSha256Sums,
  listReleasePaths,
  MANIFEST_FILE,
  readManifest,
  SHA256SUMS_FILE,
  validateManifest,
  WHEELHOUSE_DIR,
  type ReleaseManifest
} from '../releases/manifest.js'
import {
  resolveRelease,
  verifyReleaseFiles,
  type ResolvedRelease
} from '../releases/resolve-release.js'
import {
  compareVersions,
  isValidVersion,
  normalizeProjectName,
  parseReleaseFileName
} from '../releases/version.js'
import { SitecycleError } from '../util/errors.js'
import type { Reporter } from '../util/reporter.js'
import type { StoreDeps } from './registry.js'
import type { LocalRelease, PublishResult, ReleaseStore } from './store.js'

const posix = path.posix

/** Where everything is in a directory store rooted at `root` (an absolute POSIX path on its host). */
export function directoryStoreLayout(root: string) {
  return {
    root,
    releases: posix.join(root, 'releases'),
    release: (version: string) => posix.join(root, 'releases', version),
    simple: posix.join(root, 'simple'),
    /** The project's page folder: its PEP 503 normalised name. */
    project: (name: string) => posix.join(root, 'simple', normalizeProjectName(name)),
    notesMarkdown: posix.join(root, 'notes.md'),
    notesHtml: posix.join(root, 'notes.html'),
    lock: posix.join(root, '.lock')
  }
}

/** One file as a project page links it. */
export interface IndexedFile {
  /** The file name (the anchor's text). */
  name: string
  /** The version folder it lives in. */
  releaseVersion: string
  /** Path below the release folder: `<name>` or `wheelhouse/<name>`. */
  pathInRelease: string
  sha256: string
  /** Requires-Python of the app's own files; null for wheelhouse wheels (pip reads their metadata). */
  requiresPython: string | null
}

/** A project of the index: its normalised name (the page folder) and its files. */
export interface IndexedProject {
  name: string
  files: IndexedFile[]
}

/** Text for HTML element content and attribute values. */
export function escapeHtml(text: string): string {
  return text
    .replace(/&/g, '&amp;')
    .replace(/</g, '&lt;')
    .replace(/>/g, '&gt;')
    .replace(/"/g, '&quot;')
    .replace(/'/g, '&#39;')
}

/**
 * The projects of the index from the manifests of the published releases: the app's sdist and
 * wheel under the app's name, each wheelhouse wheel under its own project. A wheel carried by
 * several releases (the same dependency) is listed once, from the newest release holding it.
 */
export function indexProjects(manifests: ReleaseManifest[]): IndexedProject[] {
  const newestFirst = [...manifests].sort((a, b) => compareVersions(b.version, a.version))
  const projects = new Map<string, Map<string, IndexedFile>>()
  const add = (project: string, file: IndexedFile): void => {
    const key = normalizeProjectName(project)
    const files = projects.get(key) ?? new Map<string, IndexedFile>()
    projects.set(key, files)
    if (!files.has(file.name)) files.set(file.name, file)
  }
  for (const m of newestFirst) {
    for (const f of m.files)
      add(m.name, {
        name: f.name,
        releaseVersion: m.version,
        pathInRelease: f.name,
        sha256: f.sha256,
        requiresPython: m.requires_python
      })
    for (const w of m.wheelhouse ?? [])
      add(parseReleaseFileName(w.name).name, {
        name: w.name,
        releaseVersion: m.version,
        pathInRelease: `${WHEELHOUSE_DIR}/${w.name}`,
        sha256: w.sha256,
        requiresPython: null
      })
  }
  const byVersionThenName = (a: IndexedFile, b: IndexedFile): number =>
    compareVersions(parseReleaseFileName(a.name).version, parseReleaseFileName(b.name).version) ||
    (a.name < b.name ? -1 : a.name > b.name ? 1 : 0)
  return [...projects.entries()]
    .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))
    .map(([name, files]) => ({ name, files: [...files.values()].sort(byVersionThenName) }))
}

function page(title: string, body: string[]): string {
  return [
    '<!DOCTYPE html>',
    '<html>',
    '  <head>',
    '    <meta name="pypi:repository-version" content="1.0">',
    `    <title>${escapeHtml(title)}</title>`,
    '  </head>',
    '  <body>',
    `    <h1>${escapeHtml(title)}</h1>`,
    ...body.map(line => `    ${line}`),
    '  </body>',
    '</html>',
    ''
  ].join('\n')
}

/** The href of a file from its project page (`simple/<project>/`): relative, so the store can move. */
export function fileHref(file: IndexedFile): string {
  const segments = ['..', '..', 'releases', file.releaseVersion, ...file.pathInRelease.split('/')]
  return `${segments.map(s => (s === '..' ? s : encodeURIComponent(s))).join('/')}#sha256=${file.sha256}`
}

/** `simple/index.html`: one anchor per project (PEP 503). */
export function renderSimpleRoot(projects: IndexedProject[]): string {
  return page(
    'Simple index',
    projects.map(
      p => `<a href="${escapeHtml(encodeURIComponent(p.name))}/">${escapeHtml(p.name)}</a><br>`
    )
  )
}

/** `simple/<project>/index.html`: one anchor per file, with its sha256 and Requires-Python. */
export function renderProjectPage(project: IndexedProject): string {
  return page(
    `Links for ${project.name}`,
    project.files.map(f => {
      const rp =
        f.requiresPython !== null ? ` data-requires-python="${escapeHtml(f.requiresPython)}"` : ''
      return `<a href="${escapeHtml(fileHref(f))}"${rp}>${escapeHtml(f.name)}</a><br>`
    })
  )
}

function dateOf(m: ReleaseManifest): string {
  return m.built_at.slice(0, 10)
}

function releaseNames(manifests: ReleaseManifest[]): string {
  const names = [...new Set(manifests.map(m => m.name))]
  return names.join(', ') || 'releases'
}

/** `notes.md`: every published version, newest first, with its date and notes. */
export function renderNotesMarkdown(manifests: ReleaseManifest[]): string {
  const newestFirst = [...manifests].sort((a, b) => compareVersions(b.version, a.version))
  const lines = [`# ${releaseNames(manifests)}: release notes`, '']
  if (newestFirst.length === 0) lines.push('No version is published.', '')
  for (const m of newestFirst) {
    lines.push(`## ${m.version} (${dateOf(m)})`, '')
    lines.push(m.notes?.trim() ? m.notes.trim() : '_No notes._', '')
    const deps = m.wheelhouse?.length
      ? `; dependencies: ${m.wheelhouse.map(w => w.name).join(', ')}`
      : ''
    lines.push(
      `Files: ${m.files.map(f => f.name).join(', ')}${deps}${m.commit ? `; commit ${m.commit}` : ''}.`,
      ''
    )
  }
  return lines.join('\n')
}

/** `notes.html`: the same as notes.md, as a page (notes shown as written, escaped). */
export function renderNotesHtml(manifests: ReleaseManifest[]): string {
  const newestFirst = [...manifests].sort((a, b) => compareVersions(b.version, a.version))
  const body: string[] = []
  if (newestFirst.length === 0) body.push('<p>No version is published.</p>')
  for (const m of newestFirst) {
    body.push(
      `<section id="v${escapeHtml(m.version)}">`,
      `  <h2>${escapeHtml(m.version)} <small><time datetime="${escapeHtml(m.built_at)}">${escapeHtml(dateOf(m))}</time></small></h2>`,
      m.notes?.trim()
        ? `  <div class="notes" style="white-space: pre-wrap">${escapeHtml(m.notes.trim())}</div>`
        : '  <p><em>No notes.</em></p>',
      `  <p>Files: ${m.files
        .map(
          f =>
            `<a href="releases/${escapeHtml(encodeURIComponent(m.version))}/${escapeHtml(encodeURIComponent(f.name))}">${escapeHtml(f.name)}</a>`
        )
        .join(', ')}${m.commit ? `; commit <code>${escapeHtml(m.commit)}</code>` : ''}</p>`,
      '</section>'
    )
  }
  return page(`${releaseNames(manifests)}: release notes`, body)
}

/**
 * The first file in which two releases of the same version differ (by path in the release and
 * sha256), or undefined when their content is the same. The name differs too when the
 * distributions differ.
 */
export function firstDifference(
  existing: ReleaseManifest,
  incoming: ReleaseManifest
): string | undefined {
  if (normalizeProjectName(existing.name) !== normalizeProjectName(incoming.name))
    return `the distribution (${existing.name} is published, this is ${incoming.name})`
  const a = new Map(listReleasePaths(existing).map(f => [f.path, f.sha256]))
  const b = new Map(listReleasePaths(incoming).map(f => [f.path, f.sha256]))
  for (const [p, sha] of b) {
    if (!a.has(p)) return `${p} (not in the published release)`
    if (a.get(p) !== sha) return `${p} (published sha256 ${a.get(p)}, this one ${sha})`
  }
  for (const p of a.keys()) if (!b.has(p)) return `${p} (only in the published release)`
  return undefined
}

function storeError(message: string): SitecycleError {
  return new SitecycleError(message, 'release')
}

function hostLabel(host: HostSpec): string {
  return host.kind === 'local' ? '' : ` on ssh://${host.user}@${host.hostname}:${host.port}`
}

function token(): string {
  return randomBytes(6).toString('hex')
}

/**
 * A ustar archive of small text files (the index pages), so that all of them reach the store's
 * host in one command (`tar -x`) instead of one round trip each. Names are relative paths.
 */
export function tarArchive(entries: { name: string; content: string; mode?: number }[]): Buffer {
  const blocks: Buffer[] = []
  const mtime = Math.floor(Date.now() / 1000)
  for (const e of entries) {
    const data = Buffer.from(e.content, 'utf8')
    let name = e.name
    let prefix = ''
    if (Buffer.byteLength(name) > 100) {
      const cut = name.lastIndexOf('/', 155)
      prefix = name.slice(0, cut)
      name = name.slice(cut + 1)
      if (cut <= 0 || Buffer.byteLength(name) > 100 || Buffer.byteLength(prefix) > 155)
        throw new SitecycleError(`path ${e.name} is too long for the store's index`, 'release')
    }
    const header = Buffer.alloc(512)
    const field = (text: string, offset: number, length: number): void => {
      header.write(text, offset, length, 'utf8')
    }
    const octal = (n: number, offset: number, length: number): void =>
      field(`${n.toString(8).padStart(length - 1, '0')}\0`, offset, length)
    field(name, 0, 100)
    octal(e.mode ?? 0o644, 100, 8)
    octal(0, 108, 8)
    octal(0, 116, 8)
    octal(data.length, 124, 12)
    octal(mtime, 136, 12)
    header.fill(' ', 148, 156) // the checksum is computed over spaces in its own field
    field('0', 156, 1)
    field('ustar\0', 257, 6)
    field('00', 263, 2)
    field(prefix, 345, 155)
    let sum = 0
    for (const byte of header) sum += byte
    field(`${sum.toString(8).padStart(6, '0')}\0 `, 148, 8)
    blocks.push(header, data, Buffer.alloc((512 - (data.length % 512)) % 512))
  }
  blocks.push(Buffer.alloc(1024))
  return Buffer.concat(blocks)
}

/** How long a change waits for another run's lock on the store before giving up. */
const LOCK_WAIT_MS = 60_000

/** Lists a folder's entries, one a line; nothing when the folder does not exist. */
const LIST_DIR = '[ -d "$1" ] || exit 0; exec ls -1A -- "$1"'

/** argv: releases dir, lock dir, holder text. Creates the store and takes its lock (mkdir is atomic). */
const TAKE_LOCK = 'mkdir -p -- "$1" && mkdir -m 700 -- "$2" && printf "%s\\n" "$3" > "$2/holder"'

/**
 * argv: store root. Prints, NUL-separated, `version`, its manifest.json, ... for every published
 * version, then `--simple--` and the entries of simple/ one a line: all a regeneration reads.
 */
const READ_STATE = `
cd "$1" || exit 1
if [ -d releases ]; then
  for v in releases/*; do
    [ -f "$v/manifest.json" ] || continue
    printf '%s\\0' "\${v#releases/}"
    cat -- "$v/manifest.json" || exit 1
    printf '\\0'
  done
fi
printf -- '--simple--\\0'
[ -d simple ] && ls -1A -- simple
exit 0
`

/**
 * argv: store root, then pairs of (written-aside path, final path), then `--`, then paths to
 * remove. Unpacks the pages (stdin, a tar) aside, renames each over its final name, removes
 * the stale ones.
 */
const WRITE_PAGES = `
set -e
tar --no-same-owner -x -f - -C "$1"
shift
while [ "$1" != -- ]; do mv -f -T -- "$1" "$2"; shift 2; done
shift
if [ $# -gt 0 ]; then rm -rf -- "$@"; fi
`

/** argv: staging dir, final dir. Checks every uploaded file against SHA256SUMS, then renames. */
const CHECK_AND_RENAME =
  'cd "$1" && sha256sum --quiet --strict -c SHA256SUMS && chmod 755 . && mv -T -- "$1" "$2"'

class DirectoryStore implements ReleaseStore {
  readonly kind = 'directory'
  readonly label: string
  private readonly layout: ReturnType<typeof directoryStoreLayout>
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

    return this.withLock(reporter, async () => {
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
    return this.withLock(reporter, async () => {
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

  /** Hold the store's lock (`mkdir <path>/.lock`) while `fn` runs; wait up to a minute for another run. */
  private async withLock<T>(reporter: Reporter, fn: () => Promise<T>): Promise<T> {
    const lock = this.layout.lock
    const deadline = Date.now() + LOCK_WAIT_MS
    const me = `pid ${process.pid} on ${os.hostname()} since ${new Date().toISOString()}`
    let waited = false
    for (;;) {
      const r = await this.exec.tryRun(
        cmd(['sh', '-c', TAKE_LOCK, 'sh', this.layout.releases, lock, me])
      )
      if (r.code === 0) break
      if (!/exists/i.test(r.stderr))
        throw storeError(`cannot lock ${this.label}: ${r.stderr.trim()}`)
      const holder = (await this.exec.readFile(posix.join(lock, 'holder')))?.trim()
      if (Date.now() > deadline)
        throw new SitecycleError(
          `${this.label} is locked by another run (${holder ?? 'holder unknown'}): if that run is gone, remove ${lock} on its host and retry`,
          'lock'
        )
      if (!waited)
        reporter.info(`waiting for the lock on ${this.label} (${holder ?? 'holder unknown'})`)
      waited = true
      await new Promise(resolve => setTimeout(resolve, 250))
    }
    try {
      return await fn()
    } finally {
      await this.exec.tryRun(removeTree(lock))
    }
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
