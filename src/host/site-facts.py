# host/site-facts.py: argv: site root, mode (`blue-green` or `single`), JSON list of data folders
# (or shared files). Prints JSON.
import hashlib, json, os, re, sys, glob
root, mode, data = sys.argv[1], sys.argv[2], json.loads(sys.argv[3])
out = {'liveSlot': None, 'release': None, 'venv': None, 'record': None, 'packages': [], 'files': {}, 'config': None, 'data': []}
live = 'blue'
try:
    with open(os.path.join(root, 'live.map')) as f:
        for line in f:
            parts = line.split()
            if len(parts) == 2 and parts[0] == 'live' and parts[1] in ('blue', 'green'):
                live = parts[1]
except OSError:
    pass
link = os.path.join(root, 'current') if mode == 'single' else os.path.join(root, 'slots', live)
out['liveSlot'] = 'current' if mode == 'single' else live
def sha(path, transform=None):
    h = hashlib.sha256()
    if transform is None:
        with open(path, 'rb') as f:
            for chunk in iter(lambda: f.read(1 << 20), b''):
                h.update(chunk)
    else:
        with open(path, 'rb') as f:
            h.update(transform(f.read()))
    return h.hexdigest()
venv = os.path.realpath(link) if os.path.lexists(link) else None
if venv and os.path.isdir(venv) and os.path.basename(venv) != '_empty':
    out['venv'] = venv
    out['release'] = os.path.basename(venv)
    try:
        with open(os.path.join(venv, 'release.json')) as f:
            out['record'] = json.load(f)
    except Exception:
        pass
    import importlib.metadata as md
    sps = [p for p in sorted(glob.glob(os.path.join(venv, 'lib', 'python*', 'site-packages'))) if not os.path.islink(p)]
    seen = set()
    for d in md.distributions(path=sps):
        name = d.metadata['Name'] or '?'
        key = re.sub(r'[-_.]+', '-', name).lower()
        if key not in seen:
            seen.add(key)
            out['packages'].append({'name': name, 'version': d.version})
    own = {'pyvenv.cfg', 'release.json', 'app.ini', 'app.ini.sha256', 'env.json', 'BAD', 'lib64'}
    machinery = re.compile(r'^bin/(python(3(\.\d+)?)?|activate|activate\.csh|activate\.fish|Activate\.ps1)$')
    vb = venv.encode()
    def unvenv(b):
        return b.replace(vb, b'<venv>')
    def direct_url(b):
        try:
            d = json.loads(b)
            if isinstance(d, dict):
                if isinstance(d.get('url'), str):
                    d['url'] = d['url'].rsplit('/', 1)[-1]
                return json.dumps(d, sort_keys=True).encode()
        except ValueError:
            pass
        return b
    for dirpath, dirnames, filenames in os.walk(venv):
        dirnames[:] = sorted(d for d in dirnames if d != '__pycache__')
        for name in sorted(filenames):
            p = os.path.join(dirpath, name)
            rel = os.path.relpath(p, venv)
            if rel in own or machinery.match(rel) or name.endswith('.pyc'):
                continue
            if name == 'RECORD' and dirpath.endswith('.dist-info'):
                continue
            try:
                if name == 'direct_url.json' and dirpath.endswith('.dist-info'):
                    out['files'][rel] = sha(p, direct_url)
                elif rel.startswith('bin/') and os.path.getsize(p) < (1 << 20):
                    out['files'][rel] = sha(p, unvenv)
                else:
                    out['files'][rel] = sha(p)
            except OSError as e:
                out['files'][rel] = 'unreadable: %s' % e.strerror
    ini = os.path.join(venv, 'app.ini')
    if os.path.isfile(ini):
        with open(ini, encoding='utf-8', errors='replace') as f:
            out['config'] = f.read()
for folder in data:
    entry = {'path': folder, 'exists': os.path.isdir(folder), 'files': {}}
    if os.path.isfile(folder):
        # A shared entry of kind file: the one file, by its name.
        entry['exists'] = True
        try:
            entry['files'][os.path.basename(folder)] = sha(folder)
        except OSError as e:
            entry['files'][os.path.basename(folder)] = 'unreadable: %s' % e.strerror
    elif entry['exists']:
        for dirpath, dirnames, filenames in os.walk(folder):
            dirnames.sort()
            for name in sorted(filenames):
                p = os.path.join(dirpath, name)
                try:
                    entry['files'][os.path.relpath(p, folder)] = sha(p)
                except OSError as e:
                    entry['files'][os.path.relpath(p, folder)] = 'unreadable: %s' % e.strerror
    out['data'].append(entry)
print(json.dumps(out))
