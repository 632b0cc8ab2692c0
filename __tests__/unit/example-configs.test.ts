import { readFileSync } from 'node:fs'
import { join } from 'node:path'
import { parseConfig } from '../../src/config/load-config.js'

// The examples' configs are what users copy: each parses, and says what its README promises.

const REPO = join(import.meta.dirname, '..', '..')
const load = (example: string) => {
  const file = join(REPO, 'examples', example, 'sitecycle.yml')
  return parseConfig(readFileSync(file, 'utf8'), file)
}

test('the Flask example: a factory entry point and its SQLite database in the environment', () => {
  const config = load('flask-app')
  expect(config.app.wsgi).toBe('notes:create_app()')
  expect(config.sites.v1.database?.engine).toBe('sqlite')
  expect(config.sites.v1.env?.map(e => e.name)).toContain('NOTES_DATABASE')
  // The login cookies' key is a secret of the deploy's environment, never a value in the file.
  expect(config.sites.v1.env?.find(e => e.name === 'NOTES_SECRET_KEY')?.value).toBe(
    '{{ secret.NOTES_SECRET_KEY }}'
  )
  expect(config.sites.v1.static?.map(e => [e.prefix, e.folder])).toEqual([['/static/', 'static']])
  expect(config.sites.v1.hooks.afterInstall).toEqual([
    "python -m flask --app 'notes:create_app()' collect-static"
  ])
})

test('the examples deploy by version from the directory store their releases go to', () => {
  for (const example of ['flask-app', 'django-project']) {
    const config = load(example)
    expect(config.sites.v1.store).toEqual(config.release!.stores[0])
  }
})

test('the Django example: static files and media served by Apache, its database made by init, migrations frozen', () => {
  const site = load('django-project').sites.v1
  expect(site.static?.map(e => [e.prefix, e.folder])).toEqual([['/static/', 'static']])
  expect(site.shared?.map(e => [e.path, e.url])).toEqual([['media', '/media/']])
  expect(site.env?.find(e => e.name === 'DJANGO_MEDIA_ROOT')?.value).toBe('{{ shared.media }}')
  expect(site.database).toMatchObject({ engine: 'postgres', admin: { user: 'postgres' } })
  expect(site.hooks.freeze).toBe(true)
})

test('the sample config parses', () => {
  const file = join(REPO, 'examples', 'sitecycle.yml')
  expect(Object.keys(parseConfig(readFileSync(file, 'utf8'), file).sites).length).toBeGreaterThan(0)
})
