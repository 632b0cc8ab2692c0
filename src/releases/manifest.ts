/**
 * The release manifest: manifest.json written next to a release's files, naming the
 * distribution, its version, the commit it was built from, its Python requirement and the
 * sha256 and size of every file; plus a SHA256SUMS file that `sha256sum -c` can check.
 * A release with dependencies also lists its wheelhouse (`wheelhouse/<wheel>`, one entry per
 * dependency) and the checksum of its `requirements.lock`.
 */
import { createHash } from 'node:crypto'
import { createReadStream } from 'node:fs'
import fs from 'node:fs/promises'
import path from 'node:path'
import { z } from '../util/zod.js'
import { SitecycleError } from '../util/errors.js'
import { isValidVersion } from './version.js'

/** File name of the manifest inside a release directory. */
export const MANIFEST_FILE = 'manifest.json'
/** File name of the checksum list inside a release directory. */
export const SHA256SUMS_FILE = 'SHA256SUMS'
/** Folder of dependency wheels inside a release directory. */
export const WHEELHOUSE_DIR = 'wheelhouse'
/** File name of the hash-pinned requirements (app wheel and every dependency) inside a release directory. */
export const REQUIREMENTS_LOCK_FILE = 'requirements.lock'

const fileNamePattern = /^[A-Za-z0-9][A-Za-z0-9._+!-]*$/

const releaseFileSchema = z
  .object({
    name: z
      .string()
      .regex(
        fileNamePattern,
        'expected a plain file name (no directories), such as pkg-1.0.0.tar.gz'
      ),
    kind: z.enum(['sdist', 'wheel']),
    sha256: z.string().regex(/^[0-9a-f]{64}$/, 'expected 64 lower-case hex digits'),
    size: z.number().int().nonnegative()
  })
  .refine(f => (f.kind === 'wheel') === f.name.endsWith('.whl'), {
    message: 'kind does not match the file name: wheels end in .whl, sdists in .tar.gz or .zip',
    path: ['kind']
  })
  .refine(f => f.kind === 'wheel' || f.name.endsWith('.tar.gz') || f.name.endsWith('.zip'), {
    message: 'an sdist must end in .tar.gz or .zip',
    path: ['name']
  })

const sha256Schema = z.string().regex(/^[0-9a-f]{64}$/, 'expected 64 lower-case hex digits')

const wheelhouseFileSchema = z.object({
  name: z
    .string()
    .regex(fileNamePattern, 'expected a plain file name (no directories)')
    .refine(n => n.endsWith('.whl'), {
      message: 'a wheelhouse holds wheels: the name ends in .whl'
    }),
  sha256: sha256Schema,
  size: z.number().int().nonnegative()
})

const manifestSchema = z
  .object({
    name: z
      .string()
      .regex(
        /^([A-Za-z0-9]|[A-Za-z0-9][A-Za-z0-9._-]*[A-Za-z0-9])$/,
        'expected a Python distribution name such as sitecycle-sample'
      ),
    version: z.string().refine(isValidVersion, {
      message: 'expected a PEP 440 version such as 1.4.0, 1.4.0rc1, 1.4.0.post1 or 2.0.0.dev3'
    }),
    commit: z
      .string()
      .regex(/^[0-9a-f]{7,64}$/, 'expected a git commit sha (hex) or null')
      .nullable()
      .default(null),
    requires_python: z.string().nullable().default(null),
    built_at: z.iso.datetime({ offset: true, message: 'expected an ISO 8601 date and time' }),
    files: z
      .array(releaseFileSchema)
      .min(1, 'a release has at least one file')
      .refine(files => new Set(files.map(f => f.name)).size === files.length, {
        message: 'a file is listed twice'
      }),
    notes: z.string().optional(),
    tests: z.enum(['passed', 'skipped', 'none']).optional(),
    dirty: z.boolean().optional(),
    dirty_changes: z.array(z.string()).optional(),
    wheelhouse: z
      .array(wheelhouseFileSchema)
      .refine(files => new Set(files.map(f => f.name)).size === files.length, {
        message: 'a wheel is listed twice'
      })
      .optional(),
    requirements_lock: z
      .object({ sha256: sha256Schema, size: z.number().int().nonnegative() })
      .optional()
  })
  .refine(m => (m.wheelhouse === undefined) === (m.requirements_lock === undefined), {
    message: `a release with a wheelhouse has a ${REQUIREMENTS_LOCK_FILE}, and only such a release`,
    path: ['requirements_lock']
  })

/** One file of a release as the manifest lists it. */
export interface ReleaseFile {
  /** Plain file name, in the same directory as manifest.json. */
  name: string
  kind: 'sdist' | 'wheel'
  /** sha256 of the file, lower-case hex. */
  sha256: string
  /** Size in bytes. */
  size: number
}

/** One dependency wheel of a release's wheelhouse, as the manifest lists it. */
export interface WheelhouseFile {
  /** Plain file name, in the `wheelhouse/` folder beside manifest.json. */
  name: string
  /** sha256 of the wheel, lower-case hex. */
  sha256: string
  /** Size in bytes. */
  size: number
}

/** manifest.json as written and read (field names are the JSON's). */
export interface ReleaseManifest {
  /** Python distribution name, as in the wheel's METADATA. */
  name: string
  /** PEP 440 version, as in the wheel's METADATA. */
  version: string
  /** Git commit the release was built from, or null when unknown. */
  commit: string | null
  /** The package's Requires-Python, or null when it declares none. */
  requires_python: string | null
  /** When it was built, ISO 8601. */
  built_at: string
  files: ReleaseFile[]
  /** Release notes (Markdown), shown on the directory store's notes page. */
  notes?: string
  /**
   * The application's tests before this release: `passed`, `skipped` (--skip-tests) or `none`
   * (no app.tests configured). Absent in manifests written before sitecycle recorded it.
   */
  tests?: 'passed' | 'skipped' | 'none'
  /**
   * True when the release was built from a work tree with uncommitted changes (--allow-dirty):
   * its files may differ from `commit`. Absent in manifests written before sitecycle recorded it.
   */
  dirty?: boolean
  /** The changed paths of a dirty work tree (as `git status --short`), at most 50. */
  dirty_changes?: string[]
  /** The dependency wheels in `wheelhouse/`; absent when the release was built without one. */
  wheelhouse?: WheelhouseFile[]
  /** sha256 and size of `requirements.lock`; present exactly when `wheelhouse` is. */
  requirements_lock?: { sha256: string; size: number }
}

/** Every file of a release as a path relative to its directory, with its checksum and size. */
export function listReleasePaths(
  manifest: ReleaseManifest
): { path: string; sha256: string; size: number }[] {
  const paths = manifest.files.map(f => ({ path: f.name, sha256: f.sha256, size: f.size }))
  for (const w of manifest.wheelhouse ?? [])
    paths.push({ path: `${WHEELHOUSE_DIR}/${w.name}`, sha256: w.sha256, size: w.size })
  if (manifest.requirements_lock)
    paths.push({ path: REQUIREMENTS_LOCK_FILE, ...manifest.requirements_lock })
  return paths
}

function describeIssues(error: z.ZodError): string {
  return error.issues
    .map(issue => {
      const where = issue.path.reduce<string>(
        (acc, p) =>
          typeof p === 'number' ? `${acc}[${p}]` : acc ? `${acc}.${String(p)}` : String(p),
        ''
      )
      return `${where || '(top level)'}: ${issue.message}`
    })
    .join('; ')
}

/** Validate a manifest value; throws SitecycleError naming `source` and every problem. */
export function validateManifest(value: unknown, source: string): ReleaseManifest {
  const result = manifestSchema.safeParse(value)
  if (!result.success) {
    throw new SitecycleError(
      `manifest ${source} is invalid: ${describeIssues(result.error)}`,
      'release'
    )
  }
  return result.data
}

/** Read and validate a manifest.json; errors name the file and what is wrong. */
export async function readManifest(manifestPath: string): Promise<ReleaseManifest> {
  let text: string
  try {
    text = await fs.readFile(manifestPath, 'utf8')
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code
    throw new SitecycleError(
      code === 'ENOENT'
        ? `manifest ${manifestPath} not found: a release directory holds its files and a manifest.json`
        : `cannot read manifest ${manifestPath}: ${(err as Error).message}`,
      'release'
    )
  }
  let value: unknown
  try {
    value = JSON.parse(text)
  } catch (err) {
    throw new SitecycleError(
      `manifest ${manifestPath} is not valid JSON: ${(err as Error).message}`,
      'release'
    )
  }
  return validateManifest(value, manifestPath)
}

/**
 * The SHA256SUMS text for a manifest: `<hex>  <path>` lines, as sha256sum prints them, for the
 * files, the wheelhouse's wheels (`wheelhouse/<name>`) and requirements.lock.
 */
export function formatSha256Sums(manifest: ReleaseManifest): string {
  return listReleasePaths(manifest)
    .map(f => `${f.sha256}  ${f.path}\n`)
    .join('')
}

/** Parse SHA256SUMS text into name → sha256; lines that are not `<hex>  <name>` are errors. */
export function parseSha256Sums(text: string, source = SHA256SUMS_FILE): Map<string, string> {
  const sums = new Map<string, string>()
  text.split('\n').forEach((line, i) => {
    if (line.trim() === '') return
    const m = /^([0-9a-fA-F]{64}) [ *](.+)$/.exec(line)
    if (!m) {
      throw new SitecycleError(
        `${source} line ${i + 1} is not '<sha256>  <file name>': ${line}`,
        'release'
      )
    }
    sums.set(m[2], m[1].toLowerCase())
  })
  return sums
}

async function writeFileAtomic(file: string, content: string): Promise<void> {
  const aside = `${file}.tmp-${process.pid}-${Date.now()}`
  await fs.writeFile(aside, content, { mode: 0o644 })
  await fs.rename(aside, file)
}

/**
 * Write manifest.json and SHA256SUMS into `dir` (each written aside, then renamed).
 * The manifest is validated first. Returns the manifest's path.
 */
export async function writeManifest(dir: string, manifest: ReleaseManifest): Promise<string> {
  const valid = validateManifest(manifest, path.join(dir, MANIFEST_FILE))
  await fs.mkdir(dir, { recursive: true })
  await writeFileAtomic(path.join(dir, SHA256SUMS_FILE), formatSha256Sums(valid))
  const manifestPath = path.join(dir, MANIFEST_FILE)
  await writeFileAtomic(manifestPath, `${JSON.stringify(valid, null, 2)}\n`)
  return manifestPath
}

/** The sha256 (lower-case hex) and size of a file, read as a stream. */
export async function digestFile(file: string): Promise<{ sha256: string; size: number }> {
  const hash = createHash('sha256')
  let size = 0
  for await (const chunk of createReadStream(file)) {
    hash.update(chunk as Buffer)
    size += (chunk as Buffer).length
  }
  return { sha256: hash.digest('hex'), size }
}

/** The sha256 of a file, lower-case hex, read as a stream. */
export async function sha256File(file: string): Promise<string> {
  return (await digestFile(file)).sha256
}
