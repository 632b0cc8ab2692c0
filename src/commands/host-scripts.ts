/**
 * Small Python programs run on the host as `python3 -c <program> args...`. A host needs only
 * Python, pip and Apache (no agent); these give the few operations that must be atomic or
 * must poll on the host itself in one round trip. Each takes its inputs as argv, never
 * interpolated into the program text.
 */

/** argv: map path, slot[, expected live slot]. Writes `live <slot>` aside, makes its mtime differ from the old map's
 * (mod_rewrite re-reads a txt map only when the mtime changes), renames it over. Prints the
 * slot that was live before. With an expected slot, exits 4 without switching when another slot
 * is live (compare and swap). */
export const SWITCH_MAP = `
import os, sys
path, slot = sys.argv[1], sys.argv[2]
expect = sys.argv[3] if len(sys.argv) > 3 else None
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
    sys.stderr.write('the live slot is %s, not %s: another operation changed the site\\n' % (old, expect))
    sys.exit(4)
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
print(old or '')
`

/** argv: run dir of the group (its daemons' working directory), expected process count,
 * timeout seconds. Sends SIGINT to every daemon of the group and waits until the same number
 * of new ones run. Prints the new PIDs. Exit 3 when no daemon of the group was found. */
export const RESTART_GROUP = `
import os, sys, time, signal
rundir, want, timeout = os.path.realpath(sys.argv[1]), int(sys.argv[2]), float(sys.argv[3])
def pids():
    out = set()
    for name in os.listdir('/proc'):
        if name.isdigit():
            try:
                if os.readlink('/proc/%s/cwd' % name) == rundir:
                    out.add(int(name))
            except OSError:
                pass
    return out
old = pids()
if not old:
    sys.stderr.write('no daemon process of this group runs (working directory %s): is Apache running with the sitecycle vhost loaded?\\n' % rundir)
    sys.exit(3)
for pid in old:
    try:
        os.kill(pid, signal.SIGINT)
    except ProcessLookupError:
        pass
deadline = time.time() + timeout
while time.time() < deadline:
    now = pids()
    fresh = now - old
    if len(fresh) >= want and not (now & old):
        print(' '.join(str(p) for p in sorted(fresh)))
        sys.exit(0)
    time.sleep(0.02)
sys.stderr.write('the daemon processes of this group did not restart within %ss (old: %s, now: %s)\\n' % (timeout, sorted(old), sorted(pids())))
sys.exit(1)
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

/** argv: site root. Prints JSON: slot -> release (or null), 'live' from live.map, whether the
 * slots' releases are complete and marked bad, and whether the site is initialized. */
export const READ_STATE = `
import json, os, sys
root = sys.argv[1]
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
print(json.dumps(out))
`

/** argv: path. Prints JSON: the Python version, whether pip is importable, and the free space
 * in MiB under path (one Python start for the whole preflight; needs the site module). */
export const HOST_FACTS = `
import importlib.util, json, os, sys
p = sys.argv[1]
while not os.path.exists(p):
    p = os.path.dirname(p) or '/'
s = os.statvfs(p)
print(json.dumps({
    'python': '%d.%d.%d' % sys.version_info[:3],
    'pip': importlib.util.find_spec('pip') is not None,
    'free_mb': s.f_bavail * s.f_frsize // (1024 * 1024),
}))
`
