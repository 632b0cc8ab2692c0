// zod is configured once (src/util/zod.ts) to parse without its JIT: a CLI run parses one config
// and a few manifests, and compiling a `new Function` per object schema cost more than it saved.
// The global Function constructor is watched from before the modules load to after a full
// config's parse and a snapshot manifest's round trip: zod's JIT (and its probe for `new
// Function`) would construct one.
import { readFileSync } from 'node:fs'
import { fileURLToPath } from 'node:url'

const FULL = fileURLToPath(new URL('../fixtures/config/full.yml', import.meta.url))

test('config and manifests are parsed without compiling a Function', async () => {
  const original = globalThis.Function
  const made: string[] = []
  globalThis.Function = new Proxy(original, {
    construct(target, args: string[]) {
      made.push(String(args[args.length - 1] ?? '').slice(0, 80))
      return Reflect.construct(target, args)
    },
    apply(target, self, args: string[]) {
      made.push(String(args[args.length - 1] ?? '').slice(0, 80))
      return Reflect.apply(target, self, args)
    }
  })
  try {
    const { parseConfig } = await import('../../src/config/load-config.js')
    const { parseManifest, renderManifest } = await import('../../src/snapshots/manifest.js')
    const config = parseConfig(readFileSync(FULL, 'utf8'), 'full.yml')
    expect(Object.keys(config.sites).length).toBeGreaterThan(1)
    const manifest = parseManifest(
      JSON.stringify({
        format: 1,
        id: '20260101T000000Z',
        site: 'prod',
        host: 'local',
        root: '/srv/prod',
        createdAt: '2026-01-01T00:00:00.000Z',
        finishedAt: '2026-01-01T00:00:01.000Z',
        live: null,
        sitecycleVersion: '0.1.0',
        previous: null,
        database: {
          engine: 'sqlite',
          name: '/srv/prod/shared/db.sqlite3',
          dump: 'database.sqlite3',
          format: 'sqlite',
          size: 4096,
          sha256: 'ab'.repeat(32),
          databaseSize: 4096,
          tables: [{ table: 'users', rows: 3, checksum: '' }],
          checksumsFrom: 'file'
        },
        files: { count: 0, bytes: 0, folders: [] }
      }),
      'manifest.json'
    )
    expect(parseManifest(renderManifest(manifest), 'again').site).toBe('prod')
  } finally {
    globalThis.Function = original
  }
  expect(made).toEqual([])
})
