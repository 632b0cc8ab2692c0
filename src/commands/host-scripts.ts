/**
 * Small Python programs run on the host as `python3 -c <program> args...`. A host needs only
 * Python, pip and Apache (no agent); these give the few operations that must be atomic or
 * must poll on the host itself in one round trip. Each takes its inputs as argv, never
 * interpolated into the program text.
 */

/** Python: `switch_map(path, slot, expect)` writes `live <slot>` aside, makes its mtime differ
 * from the old map's (mod_rewrite re-reads a txt map only when the mtime changes), renames it
 * over and returns the slot that was live ('' when none). With `expect`, raises LiveSlotChanged
 * without switching when another slot is live (compare and swap). Shared by SWITCH_MAP and
 * WARM_SWITCH. */
const SWITCH_MAP_FUNCTION = `
class LiveSlotChanged(Exception):
    pass
def switch_map(path, slot, expect=None):
    old = None
    try:
        st = os.stat(path)
        with open(path) as f:
            for line in f:
                parts = line.split()
                if len(parts) == 2 and parts[0] == 'live':
                    old = parts[1]
    except FileNotFoundError:
        st = None
    if expect is not None and (old or 'blue') != expect:
        raise LiveSlotChanged('the live slot is %s, not %s: another operation changed the site' % (old, expect))
    tmp = path + '.tmp.%d' % os.getpid()
    with open(tmp, 'w') as f:
        f.write('live %s\\n' % slot)
        f.flush()
        os.fsync(f.fileno())
    os.chmod(tmp, 0o644)
    if st is not None:
        new = os.stat(tmp).st_mtime_ns
        if new // 1000 <= st.st_mtime_ns // 1000:
            bumped = st.st_mtime_ns + 1000000000
            os.utime(tmp, ns=(bumped, bumped))
    os.rename(tmp, path)
    d = os.open(os.path.dirname(path) or '.', os.O_RDONLY)
    os.fsync(d)
    os.close(d)
    return old or ''
`

/** argv: map path, slot[, expected live slot]. Switches live.map to the slot (see
 * switch_map above) and prints the slot that was live before. With an expected slot, exits 4
 * without switching when another slot is live (compare and swap). */
export const SWITCH_MAP = `
import os, sys
${SWITCH_MAP_FUNCTION}
path, slot = sys.argv[1], sys.argv[2]
expect = sys.argv[3] if len(sys.argv) > 3 else None
try:
    print(switch_map(path, slot, expect))
except LiveSlotChanged as e:
    sys.stderr.write('%s\\n' % e)
    sys.exit(4)
`

/** Python: `group_pids(rundir)`, the PIDs of a daemon group's processes (their working
 * directory is the group's run dir); `point_link(link, target)` points a slot link at a target
 * atomically (link aside, rename over); `signal_group(rundir, link, target)` points the link
 * (when given) and sends SIGINT to every daemon of the group, and returns the PIDs it signalled;
 * when none runs it waits up to `grace` seconds for Apache to respawn the group (its parent does
 * so on a once-a-second tick after a restart), and exits 3, the link untouched, when none came;
 * `await_group(rundir,
 * want, timeout, old)` waits until `want` new daemons run and none of `old`, prints the new
 * PIDs, and exits 1 at the timeout. Shared by RESTART_GROUP, SIGNAL_GROUP and AWAIT_GROUP. */
const GROUP_FUNCTIONS = `
import os, sys, time, signal
def group_pids(rundir):
    out = set()
    for name in os.listdir('/proc'):
        if name.isdigit():
            try:
                if os.readlink('/proc/%s/cwd' % name) == rundir:
                    out.add(int(name))
            except OSError:
                pass
    return out
def point_link(link, target):
    tmp = link + '.tmp.%d' % os.getpid()
    try:
        os.unlink(tmp)
    except FileNotFoundError:
        pass
    os.symlink(target, tmp)
    os.rename(tmp, link)
def signal_group(rundir, grace, link=None, target=None):
    deadline = time.time() + grace
    old = group_pids(rundir)
    while not old and time.time() < deadline:
        time.sleep(0.02)
        old = group_pids(rundir)
    if not old:
        sys.stderr.write('no daemon process of this group runs (working directory %s), none came within %ss: is Apache running with the sitecycle vhost loaded?\\n' % (rundir, grace))
        sys.exit(3)
    if link:
        point_link(link, target)
    for pid in old:
        try:
            os.kill(pid, signal.SIGINT)
        except ProcessLookupError:
            pass
    return old
def await_group(rundir, want, timeout, old):
    deadline = time.time() + timeout
    while time.time() < deadline:
        now = group_pids(rundir)
        fresh = now - old
        if len(fresh) >= want and not (now & old):
            print(' '.join(str(p) for p in sorted(fresh)))
            sys.exit(0)
        time.sleep(0.02)
    sys.stderr.write('the daemon processes of this group did not restart within %ss (old: %s, now: %s)\\n' % (timeout, sorted(old), sorted(group_pids(rundir))))
    sys.exit(1)
`

/** argv: run dir of the group (its daemons' working directory), expected process count,
 * timeout seconds, respawn grace seconds. Sends SIGINT to every daemon of the group (waiting up
 * to the grace for one to run) and waits until the same number of new ones run. Prints the new
 * PIDs. Exit 3 when no daemon of the group was found. */
export const RESTART_GROUP = `${GROUP_FUNCTIONS}
rundir, want, timeout = os.path.realpath(sys.argv[1]), int(sys.argv[2]), float(sys.argv[3])
await_group(rundir, want, timeout, signal_group(rundir, float(sys.argv[4])))
`

/** argv: run dir of the group, respawn grace seconds[, slot link, target]. RESTART_GROUP
 * without the wait: points the link, sends SIGINT to the group's daemons and prints their PIDs at
 * once. Apache's parent respawns them on its next maintenance tick (within a second);
 * AWAIT_GROUP waits for that. Exit 3 when no daemon of the group was found within the grace. */
export const SIGNAL_GROUP = `${GROUP_FUNCTIONS}
print(' '.join(str(p) for p in sorted(signal_group(os.path.realpath(sys.argv[1]), float(sys.argv[2]), *sys.argv[3:5]))))
`

/** argv: run dir of the group, expected process count, timeout seconds, the PIDs SIGNAL_GROUP
 * printed. Waits until that many new daemons run and none of the old; prints the new PIDs. */
export const AWAIT_GROUP = `${GROUP_FUNCTIONS}
rundir, want, timeout = os.path.realpath(sys.argv[1]), int(sys.argv[2]), float(sys.argv[3])
await_group(rundir, want, timeout, set(int(p) for p in sys.argv[4].split()))
`

/** argv: rundir. Prints the PIDs of the group's daemons (may be empty). */
export const LIST_GROUP = `
import os, sys
rundir = os.path.realpath(sys.argv[1])
out = []
for name in os.listdir('/proc'):
    if name.isdigit():
        try:
            if os.readlink('/proc/%s/cwd' % name) == rundir:
                out.append(name)
        except OSError:
            pass
print(' '.join(sorted(out)))
`

/** argv: url, host header, slot header ('' for the public route), expected version ('' for
 * any), timeout seconds, successes needed. GETs the url one request at a time (low
 * concurrency: warm-up must not fill Apache's workers) until it answers 200 with the
 * version the given number of times in a row. Prints a JSON line with the last answer. */
export const PROBE_HTTP = `
import json, sys, time, urllib.request, urllib.error
url, host, slot, version, timeout, need = sys.argv[1], sys.argv[2], sys.argv[3], sys.argv[4], float(sys.argv[5]), int(sys.argv[6])
def matches(body):
    b = body.strip()
    if b == version:
        return True
    try:
        return json.loads(b).get('version') == version
    except Exception:
        return False
deadline = time.time() + timeout
last = {'status': None, 'body': '', 'error': None}
ok = 0
definite = None
while True:
    req = urllib.request.Request(url, headers={'Host': host, 'Connection': 'close', 'User-Agent': 'sitecycle-verify'})
    if slot:
        req.add_header('X-Sitecycle-Slot', slot)
    try:
        with urllib.request.urlopen(req, timeout=10) as r:
            last = {'status': r.status, 'body': r.read(4000).decode('utf-8', 'replace'), 'error': None}
    except urllib.error.HTTPError as e:
        last = {'status': e.code, 'body': e.read(4000).decode('utf-8', 'replace'), 'error': None}
    except Exception as e:
        last = {'status': None, 'body': '', 'error': '%s: %s' % (type(e).__name__, e)}
    good = last['status'] == 200 and (not version or matches(last['body']))
    ok = ok + 1 if good else 0
    if ok >= need:
        print(json.dumps(last))
        sys.exit(0)
    # A server still starting answers 502-504 or not at all: wait for it up to the timeout.
    # Any other answer comes from the application itself: give it a short grace, then fail.
    if not good and last['status'] not in (None, 502, 503, 504):
        definite = definite or time.time()
        if time.time() - definite >= min(3.0, timeout):
            print(json.dumps(last))
            sys.exit(1)
    else:
        definite = None
    if time.time() >= deadline:
        print(json.dumps(last))
        sys.exit(1)
    time.sleep(0.02 if good else 0.25)
`

/** argv: link path, target. Points a symlink at target atomically (link aside, rename over). */
export const POINT_LINK = `
import os, sys
link, target = sys.argv[1], sys.argv[2]
tmp = link + '.tmp.%d' % os.getpid()
try:
    os.unlink(tmp)
except FileNotFoundError:
    pass
os.symlink(target, tmp)
os.rename(tmp, link)
`

/** argv: releases dir. Prints a JSON object: release name -> {complete, release.json content or null, bad}. */
export const LIST_RELEASES = `
import json, os, sys
d = sys.argv[1]
out = {}
for name in (sorted(os.listdir(d)) if os.path.isdir(d) else []):
    p = os.path.join(d, name)
    if not os.path.isdir(p) or os.path.islink(p):
        continue
    info = None
    try:
        with open(os.path.join(p, 'release.json')) as f:
            info = json.load(f)
    except Exception:
        pass
    out[name] = {'complete': info is not None, 'info': info, 'bad': os.path.exists(os.path.join(p, 'BAD'))}
print(json.dumps(out))
`

/** Python: `read_state(root)`: slot -> release (or null), 'live' from live.map, whether the
 * slots' releases are complete and marked bad, and whether the site is initialized. Shared by
 * READ_STATE and WARM_SWITCH. */
const READ_STATE_FUNCTION = `
def read_state(root):
    out = {'slots': {}, 'live': None, 'current': None}
    out['releases'] = {}
    for s in ('blue', 'green'):
        try:
            out['slots'][s] = os.path.basename(os.readlink(os.path.join(root, 'slots', s)))
        except OSError:
            out['slots'][s] = None
        if out['slots'][s]:
            rel = os.path.join(root, 'releases', out['slots'][s])
            out['releases'][out['slots'][s]] = {
                'complete': os.path.exists(os.path.join(rel, 'release.json')),
                'bad': os.path.exists(os.path.join(rel, 'BAD')),
            }
    try:
        out['current'] = os.path.basename(os.readlink(os.path.join(root, 'current')))
    except OSError:
        pass
    try:
        with open(os.path.join(root, 'live.map')) as f:
            for line in f:
                parts = line.split()
                if len(parts) == 2 and parts[0] == 'live':
                    out['live'] = parts[1]
    except OSError:
        pass
    out['initialized'] = os.path.exists(os.path.join(root, '.sitecycle', 'site.json'))
    return out
`

/** argv: site root. Prints read_state's JSON (above). */
export const READ_STATE = `
import json, os, sys
${READ_STATE_FUNCTION}
print(json.dumps(read_state(sys.argv[1])))
`

/**
 * The rollback to the release kept warm in the idle slot, up to users being on it, in one
 * process (one spawn, or one SSH round trip): take the site lock, check the journal, read the
 * state, write the journal's start line, switch live.map (compare and swap), write the switch
 * step's line. argv: site root, operation id, holder.json text, the start line's fields (JSON),
 * the release names a requested version may have (JSON list; [] for the previous release).
 *
 * The lock is taken as src/sites/lock.ts takes it (`.sitecycle/lock.<id>` holding holder.json,
 * renamed to `.sitecycle/lock`), so the lock's other users see an ordinary holder. Prints one
 * JSON line, exit 0:
 * - `{"result": "busy", "reason"}`: the lock was not taken (held, no .sitecycle, or its holder file
 *   could not be written, e.g. no space left): nothing changed;
 * - `{"result": "fallback", "reason", "state"}`: the lock is held for the caller, nothing else
 *   changed: the journal has an unfinished run to recover first, or the idle release is not a
 *   good warm target for this request; the caller goes on with its full path;
 * - `{"result": "switched", "state", "target", "liveSlot", "idleSlot", "ms"}`: users are on
 *   the idle slot's release; lock held, start and switch lines journaled;
 * - `{"result": "error", "error", "started"}`: lock held, not switched; `started`: the start
 *   line was written.
 */
export const WARM_SWITCH = `
import json, os, shutil, sys, time
${READ_STATE_FUNCTION}
${SWITCH_MAP_FUNCTION}
t0 = time.monotonic()
root, op_id, holder_text, start_text, accept_text = sys.argv[1:6]
start, accept = json.loads(start_text), json.loads(accept_text)
state_dir = os.path.join(root, '.sitecycle')
journal = os.path.join(state_dir, 'journal.jsonl')
def done(result, **fields):
    fields['result'] = result
    sys.stdout.write(json.dumps(fields) + '\\n')
    sys.stdout.flush()
    sys.exit(0)
def append(event):
    t = time.time()
    line = dict(at=time.strftime('%Y-%m-%dT%H:%M:%S', time.gmtime(t)) + '.%03dZ' % int(t % 1 * 1000))
    line.update(event)
    fd = os.open(journal, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
    try:
        os.write(fd, (json.dumps(line, ensure_ascii=False, separators=(',', ':')) + '\\n').encode('utf-8'))
    finally:
        os.close(fd)
tmp = os.path.join(state_dir, 'lock.' + op_id)
try:
    os.mkdir(tmp)
except OSError as e:
    done('busy', reason='cannot make %s: %s' % (tmp, e.strerror))
holder_file = os.path.join(tmp, 'holder.json')
try:
    fd = os.open(holder_file, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    try:
        os.write(fd, holder_text.encode('utf-8'))
    finally:
        os.close(fd)
    os.chmod(holder_file, 0o644)
except OSError as e:
    # No space, say: the full path's lock names the problem.
    shutil.rmtree(tmp, ignore_errors=True)
    done('busy', reason='cannot write %s: %s' % (holder_file, e.strerror))
try:
    os.rename(tmp, os.path.join(state_dir, 'lock'))
except OSError:
    os.unlink(holder_file)
    os.rmdir(tmp)
    done('busy', reason='the lock is held')
started = False
try:
    ops = {}
    try:
        with open(journal, encoding='utf-8') as f:
            for text in f:
                try:
                    e = json.loads(text)
                except ValueError:
                    continue
                if not isinstance(e, dict):
                    continue
                if e.get('id') not in ops:
                    if e.get('event') == 'start':
                        ops[e.get('id')] = False
                elif e.get('event') in ('end', 'recovered'):
                    ops[e.get('id')] = True
    except FileNotFoundError:
        pass
    unfinished = [i for i, closed in ops.items() if not closed]
    state = read_state(root)
    if unfinished:
        done('fallback', reason='the journal has an unfinished operation (%s)' % ', '.join(map(str, unfinished)), state=state)
    live_slot = 'green' if state['live'] == 'green' else 'blue'
    idle_slot = 'blue' if live_slot == 'green' else 'green'
    real = lambda r: r if r and r != '_empty' else None
    live, idle = real(state['slots'][live_slot]), real(state['slots'][idle_slot])
    info = state['releases'].get(idle) or {}
    if not state['initialized']:
        done('fallback', reason='the site is not initialized', state=state)
    if idle is None or idle == live or not info.get('complete') or info.get('bad'):
        done('fallback', reason='no good release is warm in the idle slot', state=state)
    if accept and idle not in accept:
        done('fallback', reason='the requested version is not the one warm in the idle slot', state=state)
    event = dict(start)
    event.update(target=idle, liveSlot=live_slot, live=live, idle=idle)
    append(event)
    started = True
    switch_map(os.path.join(root, 'live.map'), idle_slot, live_slot)
    ms = int((time.monotonic() - t0) * 1000)
    try:
        append(dict(id=op_id, op=start.get('op'), event='step', step='switch', phase='run', status='ok', ms=ms, note='%s -> %s' % (live or 'none', idle)))
    except OSError:
        pass  # users are on the release: the end line will say so
    done('switched', state=state, target=idle, liveSlot=live_slot, idleSlot=idle_slot, ms=ms)
except SystemExit:
    raise
except BaseException as e:
    done('error', error='%s: %s' % (type(e).__name__, e), started=started)
`

/** argv: path. Prints JSON: the Python version, whether pip is importable, pip's
 * `__pip-runner__.py` (null when this pip has none: older than 22.3), and the free space in MiB
 * under path (one Python start for the whole preflight; needs the site module). */
export const HOST_FACTS = `
import importlib.util, json, os, sys
p = sys.argv[1]
while not os.path.exists(p):
    p = os.path.dirname(p) or '/'
s = os.statvfs(p)
pip = importlib.util.find_spec('pip')
runner = None
if pip is not None and pip.submodule_search_locations:
    candidate = os.path.join(os.path.realpath(list(pip.submodule_search_locations)[0]), '__pip-runner__.py')
    if os.path.isfile(candidate):
        runner = candidate
print(json.dumps({
    'python': '%d.%d.%d' % sys.version_info[:3],
    'pip': pip is not None,
    'pip_runner': runner,
    'free_mb': s.f_bavail * s.f_frsize // (1024 * 1024),
}))
`

/** argv: a release's virtualenv. Prints JSON `{records, made}`, kept in release.json at install:
 * `records`, the sha256 (hex) of each installed distribution's RECORD by path relative to the
 * virtualenv, so that watch can tell a RECORD edited together with a file it lists; `made`, every
 * other file the release holds then (what the after_install hooks made: collected static files,
 * compiled translations) with its sha256 (hex), or `link:<target>` for a symbolic link, so that
 * watch takes them as part of the release and still sees them change. Left out of `made`, as
 * watch leaves them out: what RECORDs list, what `python -m venv` and sitecycle write, and byte
 * code of a recorded source (watch compiles those). */
export const RECORD_DIGESTS = `
import csv, glob, hashlib, json, os, re, sys
venv = sys.argv[1]
records = {}
listed = set()
for record in sorted(glob.glob(os.path.join(venv, 'lib', 'python*', 'site-packages', '*.dist-info', 'RECORD'))):
    sp = os.path.dirname(os.path.dirname(record))
    if os.path.islink(sp):
        continue
    with open(record, 'rb') as f:
        records[os.path.relpath(record, venv)] = hashlib.sha256(f.read()).hexdigest()
    try:
        with open(record, newline='', encoding='utf-8') as f:
            for row in csv.reader(f):
                if row and row[0]:
                    listed.add(os.path.normpath(os.path.join(sp, row[0])))
    except (OSError, UnicodeDecodeError, csv.Error):
        pass
OWN = {'pyvenv.cfg', 'release.json', 'release.json.tmp', 'app.ini', 'app.ini.sha256', 'env.json', 'BAD', 'lib64'}
VENV_BIN = re.compile(r'^bin/(activate|activate\\.csh|activate\\.fish|Activate\\.ps1|python(3(\\.\\d+)?)?)$')
PYC = re.compile(r'^([^.]+)\\..*\\.pyc$')
made = {}
for dirpath, dirnames, filenames in os.walk(venv):
    entries = filenames + [d for d in dirnames if os.path.islink(os.path.join(dirpath, d))]
    for name in entries:
        p = os.path.join(dirpath, name)
        rel = os.path.relpath(p, venv)
        if p in listed or rel in OWN or VENV_BIN.match(rel):
            continue
        m = PYC.match(name)
        if m and os.path.basename(dirpath) == '__pycache__' and os.path.join(os.path.dirname(dirpath), m.group(1) + '.py') in listed:
            continue
        if os.path.islink(p):
            made[rel] = 'link:' + os.readlink(p)
            continue
        h = hashlib.sha256()
        try:
            with open(p, 'rb') as f:
                for chunk in iter(lambda: f.read(1 << 20), b''):
                    h.update(chunk)
        except OSError:
            continue
        made[rel] = h.hexdigest()
print(json.dumps({'records': records, 'made': made}))
`
