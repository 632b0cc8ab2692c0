# host/watch.py: argv: site root, mode (`blue-green` or `single`), cap (most paths listed per
# kind), and optionally a JSON object of the shared links a release holds (path in it → target).
# Prints JSON: the links (live.map, slots, current), the live virtualenv, and what was found in it.
import base64, csv, glob, hashlib, importlib.util, json, marshal, os, re, sys
root, mode, cap = sys.argv[1], sys.argv[2], int(sys.argv[3])
# The links to shared entries a deploy makes in each release (shared[].link): path -> target.
shared_links = json.loads(sys.argv[4]) if len(sys.argv) > 4 else {}
out = {'liveMap': None, 'links': {}, 'venv': None, 'release': None, 'files': None, 'config': None, 'problems': []}
try:
    with open(os.path.join(root, 'live.map')) as f:
        for line in f:
            parts = line.split()
            if len(parts) == 2 and parts[0] == 'live':
                out['liveMap'] = parts[1]
except OSError:
    pass
releases = os.path.realpath(os.path.join(root, 'releases'))
def link(path):
    try:
        target = os.readlink(path)
    except OSError:
        return None
    resolved = os.path.realpath(path)
    inside = os.path.dirname(resolved) == releases
    return {'target': target, 'release': os.path.basename(resolved) if inside else None,
            'resolved': resolved, 'insideReleases': inside, 'isDir': os.path.isdir(resolved),
            'complete': os.path.isfile(os.path.join(resolved, 'release.json'))}
names = ['current'] if mode == 'single' else ['blue', 'green']
for n in names:
    out['links'][n] = link(os.path.join(root, n) if n == 'current' else os.path.join(root, 'slots', n))
live = out['links']['current' if mode == 'single' else (out['liveMap'] if out['liveMap'] in ('blue', 'green') else 'blue')]
if not live or not live['isDir']:
    print(json.dumps(out))
    sys.exit(0)
venv = live['resolved']
out['venv'] = venv
try:
    with open(os.path.join(venv, 'release.json')) as f:
        out['release'] = json.load(f)
except Exception:
    pass

def digest(path, algo):
    h = hashlib.new(algo)
    with open(path, 'rb') as f:
        for chunk in iter(lambda: f.read(1 << 20), b''):
            h.update(chunk)
    return h.digest()
def b64(d):
    return base64.urlsafe_b64encode(d).rstrip(b'=').decode()

recorded = {}
unhashed = set()
packages = []
records = (out['release'] or {}).get('records') if isinstance(out['release'], dict) else None
if not isinstance(records, dict):
    records = None
record_drift = []
for sp in sorted(glob.glob(os.path.join(venv, 'lib', 'python*', 'site-packages'))):
    if os.path.islink(sp):
        continue
    for name in sorted(os.listdir(sp)):
        d = os.path.join(sp, name)
        if not name.endswith('.dist-info') or not os.path.isdir(d):
            continue
        dist = name[:-len('.dist-info')]
        packages.append(dist)
        record = os.path.join(d, 'RECORD')
        try:
            with open(record, newline='', encoding='utf-8') as f:
                rows = list(csv.reader(f))
        except OSError:
            out['problems'].append('%s has no RECORD: its files cannot be checked' % os.path.relpath(d, venv))
            continue
        if records is not None:
            rel_record = os.path.relpath(record, venv)
            kept = records.get(rel_record)
            actual_record = digest(record, 'sha256').hex()
            if kept is None:
                record_drift.append(('added', rel_record, dist, None))
            elif kept != actual_record:
                record_drift.append(('modified', rel_record, dist, 'RECORD changed after install (sha256 %s, kept at install %s): the files it lists may have been changed with it' % (actual_record, kept)))
        for row in rows:
            if not row or not row[0]:
                continue
            p = os.path.normpath(os.path.join(sp, row[0]))
            h = row[1] if len(row) > 1 else ''
            if h and '=' in h:
                algo, _, value = h.partition('=')
                recorded[p] = (algo, value, row[2] if len(row) > 2 else '', dist)
            else:
                unhashed.add(p)

cfg = None
try:
    with open(os.path.join(venv, 'pyvenv.cfg')) as f:
        for line in f:
            k, _, v = line.partition('=')
            if k.strip() == 'home':
                cfg = os.path.realpath(v.strip())
except OSError:
    pass
OWN = {'pyvenv.cfg', 'release.json', 'app.ini', 'app.ini.sha256', 'env.json', 'BAD', 'lib64'}
VENV_BIN = re.compile(r'^bin/(activate|activate\.csh|activate\.fish|Activate\.ps1)$')
PYTHON_BIN = re.compile(r'^bin/python(3(\.\d+)?)?$')
PYC = re.compile(r'^([^.]+)\..*\.pyc$')
OPTIMIZE = {'': 0, 'opt-1': 1, 'opt-2': 2}
def pyc_differs(pyc, source):
    # Why the byte code in pyc is not what source compiles to here, or None when it is.
    parts = os.path.basename(pyc).split('.')
    if len(parts) not in (3, 4) or parts[1] != sys.implementation.cache_tag:
        return 'byte code for another interpreter (this one is %s)' % sys.implementation.cache_tag
    optimize = OPTIMIZE.get(parts[2] if len(parts) == 4 else '')
    if optimize is None:
        return 'byte code of an unknown optimization level'
    with open(pyc, 'rb') as f:
        data = f.read()
    if len(data) < 16 or data[:4] != importlib.util.MAGIC_NUMBER:
        return 'not byte code of this interpreter (magic number)'
    try:
        code = marshal.loads(data[16:])
    except Exception:
        return 'unreadable byte code'
    try:
        with open(source, 'rb') as f:
            expected = compile(f.read(), source, 'exec', dont_inherit=True, optimize=optimize)
    except Exception:
        return 'byte code for a source that does not compile'
    if code != expected:
        return 'byte code differs from what %s compiles to' % os.path.relpath(source, venv)
    return None
made = (out['release'] or {}).get('made') if isinstance(out['release'], dict) else None
if not isinstance(made, dict):
    made = {}
made_seen = set()
def made_drift(p, rel):
    # A file the release held at install (its hooks made it): None when it is still as recorded.
    made_seen.add(rel)
    try:
        actual = 'link:' + os.readlink(p) if os.path.islink(p) else digest(p, 'sha256').hex()
    except OSError as e:
        return {'path': rel, 'package': MADE, 'reason': str(e)}
    if actual == made[rel]:
        return None
    return {'path': rel, 'package': MADE, 'reason': 'changed since the release was installed (%s, recorded at install %s)' % (actual, made[rel])}
MADE = '(made at install)'
modified, added, removed = [], [], []
for kind, rel_record, dist, reason in record_drift:
    if kind == 'added':
        added.append(rel_record)
    else:
        modified.append({'path': rel_record, 'package': dist, 'reason': reason})
if records is not None:
    for rel_record in sorted(records):
        if not os.path.lexists(os.path.join(venv, rel_record)):
            removed.append({'path': rel_record, 'package': os.path.basename(os.path.dirname(rel_record))[:-len('.dist-info')], 'expected': 'sha256 %s' % records[rel_record]})
seen = set()
checked = 0
for dirpath, dirnames, filenames in os.walk(venv):
    dirnames.sort()
    entries = sorted(filenames) + sorted(d for d in dirnames if os.path.islink(os.path.join(dirpath, d)))
    for name in entries:
        p = os.path.join(dirpath, name)
        rel = os.path.relpath(p, venv)
        if p in recorded:
            seen.add(p)
            checked += 1
            algo, value, size, dist = recorded[p]
            try:
                actual = b64(digest(p, algo))
            except (OSError, ValueError) as e:
                modified.append({'path': rel, 'package': dist, 'reason': str(e)})
                continue
            if actual != value:
                modified.append({'path': rel, 'package': dist, 'expected': '%s=%s' % (algo, value),
                                 'actual': '%s=%s' % (algo, actual), 'expectedSize': size,
                                 'size': os.path.getsize(p)})
            continue
        m = PYC.match(name)
        if m and os.path.basename(dirpath) == '__pycache__':
            source = os.path.join(os.path.dirname(dirpath), m.group(1) + '.py')
            if source in recorded and not os.path.lexists(source):
                # The source's removal is reported; Python does not load this without it.
                continue
            if source in recorded:
                checked += 1
                try:
                    why = pyc_differs(p, source)
                except OSError as e:
                    why = str(e)
                if why:
                    modified.append({'path': rel, 'package': recorded[source][3], 'reason': why})
                continue
        if rel in made and p not in recorded:
            checked += 1
            drift = made_drift(p, rel)
            if drift:
                modified.append(drift)
            continue
        if m and os.path.basename(dirpath) == '__pycache__':
            added.append(rel)
            continue
        if p in unhashed or rel in OWN or VENV_BIN.match(rel):
            continue
        if PYTHON_BIN.match(rel):
            target = os.path.realpath(p)
            if not os.path.islink(p) or not os.path.basename(target).startswith('python') or (cfg and os.path.dirname(target) != cfg):
                modified.append({'path': rel, 'package': '(venv)', 'reason': 'the interpreter link points at %s, not at a python in %s (pyvenv.cfg home)' % (target, cfg)})
            continue
        if rel in shared_links and os.path.islink(p) and os.readlink(p) == shared_links[rel]:
            continue
        added.append(rel)
for rel in sorted(set(made) - made_seen):
    if not os.path.lexists(os.path.join(venv, rel)):
        removed.append({'path': rel, 'package': MADE, 'expected': made[rel]})
for p, (algo, value, size, dist) in sorted(recorded.items()):
    if p in seen:
        continue
    rel = os.path.relpath(p, venv)
    if os.path.lexists(p):
        checked += 1
        try:
            if b64(digest(p, algo)) == value:
                continue
        except (OSError, ValueError):
            pass
        modified.append({'path': rel, 'package': dist, 'expected': '%s=%s' % (algo, value)})
    else:
        removed.append({'path': rel, 'package': dist, 'expected': '%s=%s' % (algo, value)})
out['files'] = {'checked': checked, 'recorded': len(recorded), 'packages': packages,
                'counts': {'modified': len(modified), 'added': len(added), 'removed': len(removed)},
                'modified': modified[:cap], 'added': added[:cap], 'removed': removed[:cap]}
ini = os.path.join(venv, 'app.ini')
conf = {'present': os.path.isfile(ini), 'sha256': None, 'recorded': None}
if conf['present']:
    conf['sha256'] = digest(ini, 'sha256').hex()
try:
    with open(ini + '.sha256') as f:
        conf['recorded'] = (f.read().split() or [None])[0]
except OSError:
    pass
out['config'] = conf
print(json.dumps(out))
