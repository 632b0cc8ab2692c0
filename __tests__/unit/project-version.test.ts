import { promises as fs } from 'node:fs'
import * as path from 'node:path'
import { LocalExecutor } from '../../src/hosts/local-executor.js'
import { readProjectVersion } from '../../src/pipelines/release.js'
import { makeTempDir } from '../helpers/sample-app.js'

// readProjectVersion runs its program with Debian's Python against real project trees: the
// version each PEP 517 backend would build, read without building.

const exec = new LocalExecutor()

async function project(files: Record<string, string>): Promise<string> {
  const dir = await makeTempDir('sitecycle-project-version-')
  for (const [name, text] of Object.entries(files)) {
    await fs.mkdir(path.dirname(path.join(dir, name)), { recursive: true })
    await fs.writeFile(path.join(dir, name), text)
  }
  return dir
}

const FLIT = '[build-system]\nrequires = ["flit_core>=3.4"]\nbuild-backend = "flit_core.buildapi"\n'
const HATCH = '[build-system]\nrequires = ["hatchling"]\nbuild-backend = "hatchling.build"\n'
const SETUPTOOLS =
  '[build-system]\nrequires = ["setuptools"]\nbuild-backend = "setuptools.build_meta"\n'

test('a static project.version', async () => {
  const dir = await project({
    'pyproject.toml': `${SETUPTOOLS}[project]\nname = "a"\nversion = "1.2.3"\n`
  })
  expect(await readProjectVersion(exec, dir)).toBe('1.2.3')
})

test('flit_core: the __version__ of the module named like the project, a package or a module, in src/ or not', async () => {
  const pkg = await project({
    'pyproject.toml': `${FLIT}[project]\nname = "flask-notes"\ndynamic = ["version", "description"]\n`,
    'flask_notes/__init__.py': '"""Notes."""\nimport os\n__version__ = "2.0.1"\nVERSION = "9"\n'
  })
  expect(await readProjectVersion(exec, pkg)).toBe('2.0.1')
  const single = await project({
    'pyproject.toml': `${FLIT}[project]\nname = "tool"\ndynamic = ["version"]\n`,
    'src/tool.py': '__version__: str = "0.4"\n'
  })
  expect(await readProjectVersion(exec, single)).toBe('0.4')
})

test('flit_core: tool.flit.module.name names the module', async () => {
  const dir = await project({
    'pyproject.toml': `${FLIT}[project]\nname = "notes-app"\ndynamic = ["version"]\n[tool.flit.module]\nname = "notes"\n`,
    'notes/__init__.py': '__version__ = "3.1"\n',
    'notes_app/__init__.py': '__version__ = "0.0"\n'
  })
  expect(await readProjectVersion(exec, dir)).toBe('3.1')
})

test('hatchling: the file of tool.hatch.version.path', async () => {
  const dir = await project({
    'pyproject.toml': `${HATCH}[project]\nname = "h"\ndynamic = ["version"]\n[tool.hatch.version]\npath = "src/h/__about__.py"\n`,
    'src/h/__about__.py': 'VERSION = "5.0.0"\n'
  })
  expect(await readProjectVersion(exec, dir)).toBe('5.0.0')
})

test('setuptools: attr and file', async () => {
  const attr = await project({
    'pyproject.toml': `${SETUPTOOLS}[project]\nname = "s"\ndynamic = ["version"]\n[tool.setuptools.dynamic]\nversion = { attr = "s.about.V" }\n`,
    's/about.py': 'V = "1.0.0rc1"\n'
  })
  expect(await readProjectVersion(exec, attr)).toBe('1.0.0rc1')
  const file = await project({
    'pyproject.toml': `${SETUPTOOLS}[project]\nname = "s"\ndynamic = ["version"]\n[tool.setuptools.dynamic]\nversion = { file = "VERSION" }\n`,
    VERSION: '4.4\n'
  })
  expect(await readProjectVersion(exec, file)).toBe('4.4')
})

test('a version no backend states statically is not guessed', async () => {
  // flit without the attribute, hatchling from VCS (no path), and no pyproject.toml at all.
  const flit = await project({
    'pyproject.toml': `${FLIT}[project]\nname = "x"\ndynamic = ["version"]\n`,
    'x/__init__.py': 'from ._v import __version__\n'
  })
  expect(await readProjectVersion(exec, flit)).toBeUndefined()
  const vcs = await project({
    'pyproject.toml': `${HATCH}[project]\nname = "h"\ndynamic = ["version"]\n[tool.hatch.version]\nsource = "vcs"\n`
  })
  expect(await readProjectVersion(exec, vcs)).toBeUndefined()
  expect(await readProjectVersion(exec, await project({ 'setup.py': '' }))).toBeUndefined()
})
