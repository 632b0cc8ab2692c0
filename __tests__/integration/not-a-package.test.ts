/**
 * A Django project that is not a package (manage.py, requirements.txt, no pyproject.toml): a
 * release refuses it (input error, exit 2) with the pyproject.toml that makes it one. That very
 * text, added to the project, builds for real (`/usr/bin/python3 -m build`, setuptools from the
 * wheelhouse, offline) into a wheel holding the project package with its templates and static
 * files, an app package, the top-level templates/ and static/ folders, and the requirements.
 */
import { afterAll, beforeAll, expect, test } from '@jest/globals'
import { execFileSync } from 'node:child_process'
import fs from 'node:fs/promises'
import os from 'node:os'
import path from 'node:path'
import { runRelease } from '../../src/pipelines/release.js'
import { buildRelease } from '../../src/releases/build.js'
import { checkIsPackage } from '../../src/releases/package-check.js'
import { SitecycleError } from '../../src/util/errors.js'
import { StreamReporter } from '../../src/util/reporter.js'
import { REPO } from '../helpers/harness-repo.js'

const PYTHON = '/usr/bin/python3'
const WHEELHOUSE =
  process.env.SITECYCLE_TEST_WHEELHOUSE ?? path.resolve(REPO, '..', 'shared', 'wheelhouse')

let tmp: string
let project: string
beforeAll(async () => {
  tmp = await fs.mkdtemp(path.join(os.tmpdir(), 'sitecycle-notpkg-'))
  project = path.join(tmp, 'My Site')
  const files: Record<string, string> = {
    'manage.py':
      '#!/usr/bin/env python\nimport os, sys\n\nif __name__ == "__main__":\n    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "mysite.settings")\n',
    'requirements.txt': '# the site\nDjango>=5.2,<6\n',
    'mysite/__init__.py': '',
    'mysite/settings.py':
      'from pathlib import Path\nBASE_DIR = Path(__file__).resolve().parent.parent\nTEMPLATES_DIR = BASE_DIR / "templates"\n',
    'mysite/wsgi.py': 'application = None\n',
    'mysite/templates/mysite/home.html': '<p>home</p>\n',
    'mysite/static/mysite/site.css': 'p {}\n',
    'polls/__init__.py': '',
    'polls/templates/polls/index.html': '<p>polls</p>\n',
    'templates/base.html': '<html></html>\n',
    'templates/registration/login.html': '<form></form>\n',
    'static/css/top.css': 'body {}\n'
  }
  for (const [f, text] of Object.entries(files)) {
    await fs.mkdir(path.dirname(path.join(project, f)), { recursive: true })
    await fs.writeFile(path.join(project, f), text)
  }
})
afterAll(async () => {
  await fs.rm(tmp, { recursive: true, force: true })
})

test('a release stops before its tests, tag or build: an input error (exit 2)', async () => {
  const lines: string[] = []
  const refusal = await runRelease({
    app: { package: 'my-site', wsgi: 'mysite.wsgi:application', python: PYTHON, tests: 'false' },
    release: {
      tagPrefix: 'v',
      versionScheme: 'pep440',
      source: project,
      build: { isolation: 'auto', findLinks: [] },
      outDir: path.join(tmp, 'out'),
      stores: [],
      keepVersions: 20
    },
    stores: [],
    reporter: new StreamReporter(l => lines.push(l))
  }).then(
    () => undefined,
    (e: unknown) => e
  )
  expect(refusal).toBeInstanceOf(SitecycleError)
  expect((refusal as SitecycleError).kind).toBe('input')
  expect((refusal as SitecycleError).message).toContain('[tool.setuptools.packages.find]')
  expect(lines).toEqual([])
})

test('refused with the pyproject.toml that makes it a package; that file builds the wheel', async () => {
  const refusal = await buildRelease({ sourceDir: project, outDir: path.join(tmp, 'out') }).then(
    () => undefined,
    (e: unknown) => e
  )
  expect(refusal).toBeInstanceOf(SitecycleError)
  const error = refusal as SitecycleError
  expect(error.kind).toBe('input')
  expect(error.message).toContain(
    `cannot release ${project}: it is a Django project (manage.py: settings in package mysite) with no pyproject.toml`
  )
  await expect(checkIsPackage(project)).rejects.toThrow(error.message)
  const pyproject = error.message.slice(error.message.indexOf('\n\n') + 2)
  expect(pyproject).toContain('name = "my-site"')
  expect(pyproject).toContain('dependencies = {file = ["requirements.txt"]}')
  expect(pyproject).toContain(
    'include = ["mysite", "mysite.*", "polls", "polls.*", "templates", "templates.*", "static", "static.*"]'
  )

  await fs.writeFile(path.join(project, 'pyproject.toml'), pyproject)
  await expect(checkIsPackage(project)).resolves.toBeUndefined()
  const dist = path.join(tmp, 'dist')
  execFileSync(PYTHON, ['-m', 'build', '--wheel', '--outdir', dist, project], {
    env: {
      ...process.env,
      PIP_CONFIG_FILE: '/dev/null',
      PIP_NO_INDEX: '1',
      PIP_FIND_LINKS: WHEELHOUSE,
      PIP_INDEX_URL: '',
      PIP_EXTRA_INDEX_URL: ''
    },
    stdio: ['ignore', 'pipe', 'pipe']
  })
  const [wheel] = (await fs.readdir(dist)).filter(f => f.endsWith('.whl'))
  expect(wheel).toBe('my_site-0.1.0-py3-none-any.whl')
  const listing = execFileSync(PYTHON, [
    '-c',
    'import sys, zipfile; z = zipfile.ZipFile(sys.argv[1]); print("\\n".join(sorted(z.namelist()))); print(z.read("my_site-0.1.0.dist-info/METADATA").decode())',
    path.join(dist, wheel)
  ]).toString()
  for (const f of [
    'mysite/settings.py',
    'mysite/wsgi.py',
    'mysite/templates/mysite/home.html',
    'mysite/static/mysite/site.css',
    'polls/__init__.py',
    'polls/templates/polls/index.html',
    'templates/base.html',
    'templates/registration/login.html',
    'static/css/top.css'
  ])
    expect(listing.split('\n')).toContain(f)
  expect(listing).toContain('Requires-Dist: Django<6,>=5.2')
  // Installed, BASE_DIR is site-packages: BASE_DIR / "templates" is the top-level folder.
  expect(listing).not.toContain('manage.py')
})
