/**
 * `sitecycle run` runs a command as the site's Apache user: root switches to it with setpriv, the
 * user itself runs it as it is, anyone else is refused before anything runs.
 */
import { parseConfig } from '../../src/config/load-config.js'
import { argvStartsWith, RecordingExecutor } from '../../src/hosts/recording-executor.js'
import { asSiteUser } from '../../src/sites/site-user.js'
import { SitecycleError } from '../../src/util/errors.js'

const config = parseConfig(
  `app: { package: demo-app, wsgi: "demo.wsgi:application" }
sites:
  v1: { root: /srv/demo/v1, url: "http://127.0.0.1:8080", apache: { user: app, group: appgroup } }
`,
  '/repo/sitecycle.yml'
)
const site = config.sites.v1

function host(me: string, app: string | undefined): RecordingExecutor {
  return new RecordingExecutor('ssh://deploy@web1:22')
    .respond(
      argvStartsWith('id', '-u', '--', 'app'),
      app === undefined ? { code: 1, stderr: "id: 'app': no such user\n" } : { stdout: `${app}\n` }
    )
    .respond(c => c.argv.join(' ') === 'id -u', { stdout: `${me}\n` })
}

test('as root: setpriv to the site user and group, with its groups', async () => {
  expect(await asSiteUser(host('0', '33'), site)).toEqual([
    'setpriv',
    '--reuid=app',
    '--regid=appgroup',
    '--init-groups',
    '--'
  ])
})

test('as the site user already: the command runs as it is', async () => {
  expect(await asSiteUser(host('33', '33'), site)).toEqual([])
})

test('as another user: refused, saying who may run it', async () => {
  const e = await asSiteUser(host('1000', '33'), site).catch((x: unknown) => x)
  expect(e).toBeInstanceOf(SitecycleError)
  expect((e as Error).message).toBe(
    "sitecycle run runs commands as the site's user app on ssh://deploy@web1:22: run it as root or as app (this is uid 1000)"
  )
})

test('a site user that does not exist on the host is named with its key', async () => {
  const e = await asSiteUser(host('0', undefined), site).catch((x: unknown) => x)
  expect((e as Error).message).toBe(
    "the site's user app (sites.v1.apache.user) does not exist on ssh://deploy@web1:22"
  )
})
