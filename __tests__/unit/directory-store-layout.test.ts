/**
 * The directory store's pages and rules as pure functions: the PEP 503 pages (relative hrefs,
 * sha256 fragments, escaped Requires-Python, wheelhouse wheels under their own projects, one
 * copy of a shared wheel), the notes pages, the content comparison that decides between a
 * no-op and a refusal, and the tar that carries the pages to the host (read back by real tar).
 */
import { describe, expect, it } from '@jest/globals'
import { execFileSync } from 'node:child_process'
import fs from 'node:fs/promises'
import os from 'node:os'
import path from 'node:path'
import type { ReleaseManifest } from '../../src/releases/manifest.js'
import {
  createDirectoryStore,
  directoryStoreLayout,
  escapeHtml,
  fileHref,
  firstDifference,
  indexProjects,
  renderNotesHtml,
  renderNotesMarkdown,
  renderProjectPage,
  renderSimpleRoot,
  tarArchive
} from '../../src/stores/directory-store.js'
import { RecordingExecutor } from '../../src/hosts/recording-executor.js'

const sha = (c: string): string => c.repeat(64)

function manifest(version: string, extra: Partial<ReleaseManifest> = {}): ReleaseManifest {
  return {
    name: 'Weave_Server',
    version,
    commit: null,
    requires_python: '>=3.9,<4',
    built_at: `2024-05-0${version[0]}T10:00:00.000Z`,
    files: [
      { name: `weave_server-${version}.tar.gz`, kind: 'sdist', sha256: sha('a'), size: 10 },
      {
        name: `weave_server-${version}-py3-none-any.whl`,
        kind: 'wheel',
        sha256: sha('b'),
        size: 20
      }
    ],
    ...extra
  }
}

describe('directoryStoreLayout', () => {
  it('puts releases, pages, notes and the lock under the root; project folders are PEP 503 names', () => {
    const l = directoryStoreLayout('/srv/store')
    expect(l.release('1.0.0')).toBe('/srv/store/releases/1.0.0')
    expect(l.project('Weave_Server.Core')).toBe('/srv/store/simple/weave-server-core')
    expect([l.simple, l.notesMarkdown, l.notesHtml, l.lock]).toEqual([
      '/srv/store/simple',
      '/srv/store/notes.md',
      '/srv/store/notes.html',
      '/srv/store/.lock'
    ])
  })
})

describe('the simple index', () => {
  const m1 = manifest('1.0.0', {
    wheelhouse: [{ name: 'Dep_Lib-0.1.0-py3-none-any.whl', sha256: sha('c'), size: 5 }],
    requirements_lock: { sha256: sha('d'), size: 9 }
  })
  const m2 = manifest('2.0.0', {
    wheelhouse: [
      // The same dependency wheel, rebuilt with other bytes, and a newer one.
      { name: 'Dep_Lib-0.1.0-py3-none-any.whl', sha256: sha('e'), size: 5 },
      { name: 'dep_lib-0.2.0-py3-none-any.whl', sha256: sha('f'), size: 5 }
    ],
    requirements_lock: { sha256: sha('d'), size: 9 }
  })

  it('lists the app under its name and each wheelhouse wheel under its own project, once', () => {
    const projects = indexProjects([m2, m1])
    expect(projects.map(p => p.name)).toEqual(['dep-lib', 'weave-server'])
    const dep = projects[0]
    expect(dep.files.map(f => [f.name, f.releaseVersion, f.pathInRelease, f.sha256])).toEqual([
      [
        'Dep_Lib-0.1.0-py3-none-any.whl',
        '2.0.0',
        'wheelhouse/Dep_Lib-0.1.0-py3-none-any.whl',
        sha('e')
      ],
      [
        'dep_lib-0.2.0-py3-none-any.whl',
        '2.0.0',
        'wheelhouse/dep_lib-0.2.0-py3-none-any.whl',
        sha('f')
      ]
    ])
    expect(projects[1].files.map(f => f.name)).toEqual([
      'weave_server-1.0.0-py3-none-any.whl',
      'weave_server-1.0.0.tar.gz',
      'weave_server-2.0.0-py3-none-any.whl',
      'weave_server-2.0.0.tar.gz'
    ])
  })

  it('renders anchors with relative hrefs, sha256 fragments and escaped data-requires-python', () => {
    const [dep, app] = indexProjects([m1, m2])
    const page = renderProjectPage(app)
    expect(page).toContain('<meta name="pypi:repository-version" content="1.0">')
    expect(page).toContain(
      `<a href="../../releases/1.0.0/weave_server-1.0.0.tar.gz#sha256=${sha('a')}" data-requires-python="&gt;=3.9,&lt;4">weave_server-1.0.0.tar.gz</a><br>`
    )
    expect(page).not.toContain('>=3.9')
    const depPage = renderProjectPage(dep)
    expect(depPage).toContain(
      `<a href="../../releases/2.0.0/wheelhouse/Dep_Lib-0.1.0-py3-none-any.whl#sha256=${sha('e')}">`
    )
    expect(depPage).not.toContain('data-requires-python')
    const root = renderSimpleRoot([dep, app])
    expect(root).toContain('<a href="dep-lib/">dep-lib</a><br>')
    expect(root).toContain('<a href="weave-server/">weave-server</a><br>')
  })

  it('encodes what a URL path cannot hold as it is (local versions)', () => {
    expect(
      fileHref({
        name: 'x-1.0+local.1-py3-none-any.whl',
        releaseVersion: '1.0+local.1',
        pathInRelease: 'x-1.0+local.1-py3-none-any.whl',
        sha256: sha('a'),
        requiresPython: null
      })
    ).toBe(`../../releases/1.0%2Blocal.1/x-1.0%2Blocal.1-py3-none-any.whl#sha256=${sha('a')}`)
  })

  it('escapes HTML specials', () => {
    expect(escapeHtml(`<a href="x">'&'</a>`)).toBe(
      '&lt;a href=&quot;x&quot;&gt;&#39;&amp;&#39;&lt;/a&gt;'
    )
  })
})

describe('the notes pages', () => {
  const ms = [
    manifest('1.0.0', { notes: 'First <release>.\n\n- fixes & more' }),
    manifest('2.0.0', { commit: 'abcdef1' })
  ]

  it('Markdown: newest first, with dates and notes', () => {
    const md = renderNotesMarkdown(ms)
    expect(md.startsWith('# Weave_Server: release notes\n')).toBe(true)
    expect(md.indexOf('## 2.0.0 (2024-05-02)')).toBeLessThan(md.indexOf('## 1.0.0 (2024-05-01)'))
    expect(md).toContain('First <release>.\n\n- fixes & more')
    expect(md).toContain('_No notes._')
    expect(md).toContain('commit abcdef1')
  })

  it('HTML: the same, escaped, linking the files', () => {
    const html = renderNotesHtml(ms)
    expect(html).toContain('First &lt;release&gt;.\n\n- fixes &amp; more')
    expect(html).not.toContain('<release>')
    expect(html).toContain('<time datetime="2024-05-01T10:00:00.000Z">2024-05-01</time>')
    expect(html).toContain('<a href="releases/2.0.0/weave_server-2.0.0.tar.gz">')
    expect(html.indexOf('id="v2.0.0"')).toBeLessThan(html.indexOf('id="v1.0.0"'))
  })

  it('says when nothing is published', () => {
    expect(renderNotesMarkdown([])).toContain('No version is published.')
    expect(renderNotesHtml([])).toContain('No version is published.')
  })
})

describe('firstDifference', () => {
  it('is undefined for the same files, whatever the build time or notes', () => {
    expect(
      firstDifference(manifest('1.0.0'), {
        ...manifest('1.0.0'),
        built_at: '2030-01-01T00:00:00Z',
        notes: 'x'
      })
    ).toBeUndefined()
  })

  it('names the first differing, added or missing file', () => {
    const other = manifest('1.0.0')
    other.files[1] = { ...other.files[1], sha256: sha('9') }
    expect(firstDifference(manifest('1.0.0'), other)).toBe(
      `weave_server-1.0.0-py3-none-any.whl (published sha256 ${sha('b')}, this one ${sha('9')})`
    )
    const withWheelhouse = manifest('1.0.0', {
      wheelhouse: [{ name: 'dep-1-py3-none-any.whl', sha256: sha('c'), size: 1 }],
      requirements_lock: { sha256: sha('d'), size: 1 }
    })
    expect(firstDifference(manifest('1.0.0'), withWheelhouse)).toBe(
      'wheelhouse/dep-1-py3-none-any.whl (not in the published release)'
    )
    expect(firstDifference(withWheelhouse, manifest('1.0.0'))).toBe(
      'wheelhouse/dep-1-py3-none-any.whl (only in the published release)'
    )
    expect(firstDifference(manifest('1.0.0'), { ...manifest('1.0.0'), name: 'other' })).toMatch(
      /^the distribution/
    )
  })
})

describe('tarArchive', () => {
  it('is read back by GNU tar: names (long ones too), contents and modes', async () => {
    const dir = await fs.mkdtemp(path.join(os.tmpdir(), 'sitecycle-tar-'))
    try {
      const long = `simple/${'p'.repeat(120)}/index.html.tmp-abc`
      const archive = tarArchive([
        { name: 'simple/index.html.tmp-abc', content: '<html>é</html>\n' },
        { name: long, content: 'x'.repeat(1000) },
        { name: 'notes.md', content: '' }
      ])
      expect(archive.length % 512).toBe(0)
      execFileSync('tar', ['--no-same-owner', '-x', '-f', '-', '-C', dir], { input: archive })
      expect(await fs.readFile(path.join(dir, 'simple/index.html.tmp-abc'), 'utf8')).toBe(
        '<html>é</html>\n'
      )
      expect(await fs.readFile(path.join(dir, long), 'utf8')).toBe('x'.repeat(1000))
      expect((await fs.stat(path.join(dir, 'notes.md'))).size).toBe(0)
      expect((await fs.stat(path.join(dir, 'notes.md'))).mode & 0o777).toBe(0o644)
    } finally {
      await fs.rm(dir, { recursive: true, force: true })
    }
  })
})

describe('createDirectoryStore', () => {
  const deps = { executorFor: () => new RecordingExecutor(), env: {} }

  it('refuses a relative path', () => {
    expect(() =>
      createDirectoryStore({ type: 'directory', path: 'releases', host: { kind: 'local' } }, deps)
    ).toThrow(/directory store path 'releases' is not absolute/)
  })

  it('names its host in its label and connects nowhere until used', () => {
    let asked = 0
    const s = createDirectoryStore(
      {
        type: 'directory',
        path: '/srv/store/',
        host: { kind: 'ssh', user: 'deploy', hostname: 'web1', port: 2222 }
      },
      { executorFor: () => (asked++, new RecordingExecutor()), env: {} }
    )
    expect(s.kind).toBe('directory')
    expect(s.label).toBe('directory /srv/store on ssh://deploy@web1:2222')
    expect(asked).toBe(0)
  })

  it('lists versions in PEP 440 order, skipping hidden (half-written) and non-version entries', async () => {
    const exec = new RecordingExecutor().respond(c => c.argv[0] === 'sh', {
      stdout: '2.0.0\n1.0.0rc1\n.publishing-3.0.0-abc\n10.0.0\n1.0.0\nnotes\n'
    })
    const s = createDirectoryStore(
      { type: 'directory', path: '/srv/store', host: { kind: 'local' } },
      { executorFor: () => exec, env: {} }
    )
    expect(await s.listVersions()).toEqual(['1.0.0rc1', '1.0.0', '2.0.0', '10.0.0'])
    expect(exec.calls[0].argv?.slice(-1)).toEqual(['/srv/store/releases'])
  })
})
