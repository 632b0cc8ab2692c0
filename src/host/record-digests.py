# host/record-digests.py: argv: a release's virtualenv. Prints JSON `{records, made}`, kept in
# release.json at install: `records`, the sha256 (hex) of each installed distribution's RECORD by
# path relative to the virtualenv, so that watch can tell a RECORD edited together with a file it
# lists; `made`, every other file the release holds then (what the after_install hooks made:
# collected static files, compiled translations) with its sha256 (hex), or `link:<target>` for a
# symbolic link, so that watch takes them as part of the release and still sees them change. Left
# out of `made`, as watch leaves them out: what RECORDs list, what `python -m venv` and sitecycle
# write, and byte code of a recorded source (watch compiles those).
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
VENV_BIN = re.compile(r'^bin/(activate|activate\.csh|activate\.fish|Activate\.ps1|python(3(\.\d+)?)?)$')
PYC = re.compile(r'^([^.]+)\..*\.pyc$')
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
