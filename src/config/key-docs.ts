/**
 * What each key of sitecycle.yml means, by its path (`sites.<name>.apache.ctl`, list items as
 * `[]`). The README's config reference is generated from the schema and this table
 * (tools/docs/config-reference.ts); a key of the schema missing here fails `npm run docs` and
 * its test. Defaults computed from other keys are said here; static ones come from the schema.
 */
export const CONFIG_KEY_DOCS: Record<string, string> = {
  app: 'The application, the same on every site.',
  'app.package': 'Python distribution name of the application (what pip installs).',
  'app.wsgi':
    'WSGI entry point: `module:attribute`, or a factory call with Python literals such as `"myapp:create_app(\'production\')"`.',
  'app.python': 'Python interpreter on the hosts that makes the virtualenvs.',
  'app.tests': 'Command line that runs the tests before a release; absent: no tests.',
  'app.env':
    'Environment of the application on every site: NAME: one-line value, with `{{ secret.NAME }}` and `{{ database.url }}`.',
  'app.static':
    'URL prefixes served by Apache from folders of the release, per slot: `{ /static/: static }` (see Static files).',
  'app.shared':
    'Folders and files under `<root>/shared/` that outlive releases: a path, or `{ path, kind, mode, url, link, name, snapshot }` (see Persistent data).',
  ssh: 'How `ssh://` hosts are reached.',
  'ssh.key_file': 'Private key file (relative to the config file, or absolute).',
  'ssh.known_hosts': 'Pinned host keys (a known_hosts file); required for SSH hosts.',
  release: 'How `sitecycle release` builds and publishes; absent: every default.',
  'release.tag_prefix': "Prefix of release tags (`v1.2.0`); `''` for none.",
  'release.version_scheme': 'How versions are compared and checked.',
  'release.source': "Folder of the Python project; default: the config file's folder.",
  'release.no_isolation': 'Legacy spelling of `build.isolation: false`.',
  'release.build': 'How `python -m build` runs.',
  'release.build.isolation':
    '`auto`: without isolation when the build Python has the backend, else isolated; `true`: always isolated; `false`: never.',
  'release.build.find_links': 'Folders of wheels an isolated build takes its backend from.',
  'release.build.index_url_env':
    'Environment variable holding the package index URL of an isolated build (a secret).',
  'release.out_dir': 'Folder of built releases; default `dist-releases` in the source folder.',
  'release.wheelhouse': "Build a wheelhouse of the release's dependencies beside it; absent: none.",
  'release.wheelhouse.requirements':
    'Requirements or constraints file the wheelhouse is made from (relative to the source folder).',
  'release.wheelhouse.find_links': 'Folders of wheels pip takes the dependencies from.',
  'release.wheelhouse.index_url_env': 'Environment variable holding the index URL (a secret).',
  'release.stores': 'Where releases are published, in order.',
  'release.stores[].type': 'The kind of store.',
  'release.stores[].path': 'directory: the folder (a PEP 503 simple index).',
  'release.stores[].host': 'directory: `local` or `ssh://user@host:port` holding the folder.',
  'release.stores[].repository': 'github-release: `owner/name`; default: the current repository.',
  'release.stores[].token_env':
    'github-release: environment variable holding the token; default `GITHUB_TOKEN`.',
  'release.stores[].name': 'actions-artifact: artifact name; `{version}` is replaced.',
  'release.stores[].retention_days': 'actions-artifact: days the artifact is kept (1 to 90).',
  'release.keep_versions': 'Releases kept in each store; older ones are pruned.',
  alerts: 'Where a failed unattended run is reported; absent: nowhere.',
  'alerts.email': 'A mail through an SMTP server.',
  'alerts.email.smtp_host': 'SMTP server host name or address.',
  'alerts.email.smtp_port': 'SMTP port: 587 (STARTTLS), 465 (TLS from the first byte) or 25.',
  'alerts.email.starttls': 'Upgrade with STARTTLS, refusing a server without it (not on port 465).',
  'alerts.email.user': 'SMTP login, when the server wants one.',
  'alerts.email.password_env': 'Environment variable holding the SMTP password (a secret).',
  'alerts.email.from': 'Sender address.',
  'alerts.email.to': 'Recipient addresses.',
  'alerts.github_issues': 'Keep one open issue per site and operation while it fails.',
  sites: 'The sites, by name (`v1`, `v2`: a virtualenv cannot be renamed).',
  'sites.<name>.role': 'What the site is for; preview and mirror sites get basic auth by default.',
  'sites.<name>.host': '`local`, or `ssh://user@host:port`.',
  'sites.<name>.hosts': 'Several hosts of the same site (a matrix deploys them one by one).',
  'sites.<name>.root': 'Absolute folder of the site on its host.',
  'sites.<name>.url': 'Public URL of the site (health checks, the vhost name and port).',
  'sites.<name>.health': 'How a release is verified over HTTP.',
  'sites.<name>.health.path': 'Path requested; must answer 200.',
  'sites.<name>.health.expect_version': "The answer must hold the release's version.",
  'sites.<name>.health.timeout': 'Seconds to wait for the answer.',
  'sites.<name>.config': "The application's config file, rendered at each deploy.",
  'sites.<name>.config.template': 'Template file in the repository.',
  'sites.<name>.config.env':
    'Environment variable that tells the application where the rendered file is.',
  'sites.<name>.env': 'Environment of the application on this site, over `app.env` per key.',
  'sites.<name>.static': 'Static files of this site, over `app.static` per prefix.',
  'sites.<name>.shared': 'Shared folders and files of this site, over `app.shared` per path.',
  'sites.<name>.hooks': 'Commands run in a new release, as the site user.',
  'sites.<name>.hooks.after_install':
    'Command lines run after installing, before the switch (migrate, collectstatic).',
  'sites.<name>.hooks.freeze':
    'Freeze the site (maintenance page) and dump the database before the hooks, so a rollback restores it.',
  'sites.<name>.keep_releases': 'Releases kept on the host (the two slots are never removed).',
  'sites.<name>.releases':
    'Local folder of releases (`<version>/manifest.json`) deploys take from.',
  'sites.<name>.store': 'Store deploys take releases from (same settings as `release.stores[]`).',
  'sites.<name>.store.type': 'The kind of store.',
  'sites.<name>.store.path': 'directory: the folder.',
  'sites.<name>.store.host': 'directory: `local` or `ssh://user@host:port` holding the folder.',
  'sites.<name>.store.repository': 'github-release: `owner/name`; default: the current repository.',
  'sites.<name>.store.token_env':
    'github-release: environment variable holding the token; default `GITHUB_TOKEN`.',
  'sites.<name>.store.name': 'actions-artifact: artifact name; `{version}` is replaced.',
  'sites.<name>.store.retention_days': 'actions-artifact: days the artifact is kept.',
  'sites.<name>.pip': 'Where pip on the host finds dependencies.',
  'sites.<name>.pip.index_url_env':
    'Environment variable holding the package index URL (a secret).',
  'sites.<name>.preflight': 'Checks before a deploy touches the site.',
  'sites.<name>.preflight.min_free_mb': 'Free megabytes the site root needs before a deploy.',
  'sites.<name>.apache': 'The Apache vhost and its mod_wsgi daemons.',
  'sites.<name>.apache.listen':
    'Address and port of the vhost (`*:80`); default from `url` (its port; its address when it is an IP). Apache must `Listen` there.',
  'sites.<name>.apache.server_name': 'ServerName of the vhost; default: the host of `url`.',
  'sites.<name>.apache.conf_dir': 'Folder the vhost file is written to.',
  'sites.<name>.apache.enable_dir':
    'Folder Apache includes, where init links the vhost; `null`: no link (`conf_dir` is included itself).',
  'sites.<name>.apache.ctl':
    'The apachectl command (configtest, graceful), as a string or a list of words, such as `sudo apache2ctl`.',
  'sites.<name>.apache.user':
    'User of the daemon processes (and of the data that outlives releases).',
  'sites.<name>.apache.group': 'Group of the daemon processes.',
  'sites.<name>.apache.processes': 'Processes per daemon group (slot).',
  'sites.<name>.apache.threads': 'Threads per process.',
  'sites.<name>.apache.shutdown_timeout':
    'Seconds a request still running on a daemon group being restarted may take to finish.',
  'sites.<name>.apache.mode':
    '`blue-green`: two daemon groups, switched by a rename; `single`: one group (half the memory, a stall at each switch).',
  'sites.<name>.database': "The site's database (snapshots, restores, `{{ database.url }}`, init).",
  'sites.<name>.database.engine': 'The database engine (`mysql`: MariaDB or MySQL).',
  'sites.<name>.database.name': 'Database name; sqlite: the absolute path of the file.',
  'sites.<name>.database.host':
    'Server host, or socket (postgres: its folder; mysql: the socket file); default: the local socket.',
  'sites.<name>.database.port': 'Server port.',
  'sites.<name>.database.user':
    "User the site logs in as, the database's owner; default: the client's default.",
  'sites.<name>.database.password_env':
    "Environment variable holding that user's password (a secret).",
  'sites.<name>.database.admin':
    'A login that may create databases and roles: init creates the database and its owner with it; absent: init prints the SQL to run.',
  'sites.<name>.database.admin.user': 'Admin user, such as `postgres` or `root`.',
  'sites.<name>.database.admin.password_env':
    "Environment variable holding the admin's password (a secret); absent: none (socket login).",
  'sites.<name>.database.reader':
    "A mirror's read-only login (postgres, mysql): `{{ database.url }}` logs in as it; each refresh grants it read only and checks, as it, that it can read every table and write none, itself or through a role.",
  'sites.<name>.database.reader.user':
    'The read-only user, such as `weave_reader`; `init` creates it with the admin login.',
  'sites.<name>.database.reader.password_env':
    'Environment variable holding its password (a secret).',
  'sites.<name>.data':
    'Data folders snapshotted with the database (relative to the root, or absolute); the shared folders and files are added unless `snapshot: false`.',
  'sites.<name>.snapshots': 'Snapshot retention (grandfather-father-son).',
  'sites.<name>.snapshots.keep_last': 'The newest N snapshots, whatever their age.',
  'sites.<name>.snapshots.daily': 'The newest snapshot of each of the last N days.',
  'sites.<name>.snapshots.weekly': 'The newest snapshot of each of the last N weeks.',
  'sites.<name>.snapshots.monthly': 'The newest snapshot of each of the last N months.',
  'sites.<name>.access': 'Who may reach the site.',
  'sites.<name>.access.basic_auth':
    'Basic auth over the whole site but its health path: `true`, `false`, or a mapping; default on for preview and mirror sites.',
  'sites.<name>.access.basic_auth.user': 'The one user name.',
  'sites.<name>.access.basic_auth.password_env':
    'Environment variable holding the password at init (a secret; stored as a bcrypt hash).',
  'sites.<name>.maintenance': 'The maintenance page shown while the site is frozen.',
  'sites.<name>.maintenance.allow':
    'Client addresses or CIDR ranges that still reach the live slot.',
  'sites.<name>.maintenance.retry_after': 'Seconds sent in `Retry-After` with the 503.',
  'sites.<name>.from': 'preview, mirror: the site whose data this one copies.',
  'sites.<name>.lag': 'mirror: how old its copy is, such as `1d`, `7d` or `1w2d` (a number: days).',
  'sites.<name>.anonymize': 'preview: SQL file run on the copy before anyone sees it.'
}
