/**
 * A project that is not a Python package (a Django project with manage.py and
 * requirements.txt, no pyproject.toml, setup.py or setup.cfg) cannot be released: pip installs
 * packages. The refusal shows the pyproject.toml that makes it one, tailored to what is there.
 */
import fs from 'node:fs/promises'
import path from 'node:path'
import { SitecycleError } from '../util/errors.js'

const PACKAGE_FILES = ['pyproject.toml', 'setup.py', 'setup.cfg'] as const

/** The folders of the project's data that Django finds beside its package (BASE_DIR / name). */
const DATA_FOLDERS = ['templates', 'static'] as const

async function exists(p: string): Promise<boolean> {
  return fs.stat(p).then(
    () => true,
    () => false
  )
}

/** The settings package named by `DJANGO_SETTINGS_MODULE` in manage.py (`mysite.settings` → mysite). */
export function djangoProjectPackage(managePy: string): string | undefined {
  const m = /DJANGO_SETTINGS_MODULE['"]\s*,\s*['"]([A-Za-z_][\w.]*)['"]/.exec(managePy)
  return m?.[1].split('.')[0]
}

/** A distribution name from a folder name (PEP 508: letters, digits, `.`, `_`, `-`). */
export function distributionNameOf(folder: string): string {
  const name = folder
    .replace(/[^A-Za-z0-9._-]+/g, '-')
    .replace(/^[^A-Za-z0-9]+|[^A-Za-z0-9]+$/g, '')
    .toLowerCase()
  return name || 'app'
}

/** What a project folder holds, as far as its packaging goes. */
export interface ProjectLayout {
  /** The folder's name, the distribution name suggested. */
  name: string
  /** Top-level packages (folders with `__init__.py`), the Django project's first. */
  packages: string[]
  /** The Django project package, from manage.py. */
  djangoPackage?: string
  requirements: boolean
  /** Top-level templates/ and static/ folders. */
  dataFolders: string[]
  /** Packages holding a templates/ or static/ folder. */
  packagesWithData: string[]
}

/** Read what `dir` holds (top level only, and one level into each package). */
export async function readProjectLayout(dir: string): Promise<ProjectLayout> {
  const entries = await fs.readdir(dir, { withFileTypes: true })
  const packages: string[] = []
  const dataFolders: string[] = []
  for (const e of entries.filter(x => x.isDirectory()).sort((a, b) => (a.name < b.name ? -1 : 1)))
    if (await exists(path.join(dir, e.name, '__init__.py'))) packages.push(e.name)
    else if ((DATA_FOLDERS as readonly string[]).includes(e.name)) dataFolders.push(e.name)
  const managePy = await fs.readFile(path.join(dir, 'manage.py'), 'utf8').catch(() => undefined)
  const djangoPackage = managePy === undefined ? undefined : djangoProjectPackage(managePy)
  if (djangoPackage && packages.includes(djangoPackage)) {
    packages.splice(packages.indexOf(djangoPackage), 1)
    packages.unshift(djangoPackage)
  }
  const packagesWithData: string[] = []
  for (const p of packages)
    for (const d of DATA_FOLDERS)
      if (await exists(path.join(dir, p, d))) {
        packagesWithData.push(p)
        break
      }
  return {
    name: distributionNameOf(path.basename(dir)),
    packages: packages.length ? packages : djangoPackage ? [djangoPackage] : [],
    djangoPackage,
    requirements: await exists(path.join(dir, 'requirements.txt')),
    dataFolders: DATA_FOLDERS.filter(d => dataFolders.includes(d)),
    packagesWithData
  }
}

const q = (s: string) => JSON.stringify(s)

/** The pyproject.toml that makes the project of `layout` a package setuptools builds. */
export function suggestPyproject(layout: ProjectLayout): string {
  const lines = [
    '[build-system]',
    'requires = ["setuptools>=64"]',
    'build-backend = "setuptools.build_meta"',
    '',
    '[project]',
    `name = ${q(layout.name)}`,
    '# a static version; or dynamic = ["version"] and [tool.setuptools.dynamic] version = {attr = "<package>.__version__"}',
    'version = "0.1.0"'
  ]
  if (layout.requirements)
    lines.push(
      '# the dependencies are the lines of requirements.txt (no -r, -e or --option lines there)',
      'dynamic = ["dependencies"]',
      '',
      '[tool.setuptools.dynamic]',
      'dependencies = {file = ["requirements.txt"]}'
    )
  const include = [...layout.packages, ...layout.dataFolders].flatMap(p => [p, `${p}.*`])
  lines.push('', '[tool.setuptools.packages.find]')
  if (layout.dataFolders.length)
    lines.push(
      `# ${layout.dataFolders.map(d => `${d}/`).join(' and ')} go beside the package (site-packages/${layout.dataFolders[0]}), where BASE_DIR / ${q(layout.dataFolders[0])} finds them`
    )
  lines.push(`include = [${include.map(q).join(', ')}]`)
  const data = [
    ...layout.packagesWithData.map(
      p => `${q(p)} = [${DATA_FOLDERS.map(d => q(`${d}/**/*`)).join(', ')}]`
    ),
    ...layout.dataFolders.map(d => `${q(d)} = ["**/*"]`)
  ]
  if (data.length) lines.push('', '[tool.setuptools.package-data]', ...data)
  return lines.join('\n') + '\n'
}

/**
 * Refuse (exit 2, nothing built) a project folder that has none of pyproject.toml, setup.py and
 * setup.cfg, with the pyproject.toml that makes it a package.
 */
export async function checkIsPackage(dir: string): Promise<void> {
  for (const f of PACKAGE_FILES) if (await exists(path.join(dir, f))) return
  const layout = await readProjectLayout(dir)
  const what = layout.djangoPackage
    ? `a Django project (manage.py: settings in package ${layout.djangoPackage})`
    : 'a folder'
  throw new SitecycleError(
    `cannot release ${dir}: it is ${what} with no pyproject.toml, setup.py or setup.cfg, so not a package pip can install. ` +
      `Add this pyproject.toml beside ${layout.djangoPackage ? 'manage.py' : 'the code'}, check it with \`python3 -m build\`, and commit it:\n\n` +
      suggestPyproject(layout),
    'input'
  )
}
