import{g as e,K as t,S as s,J as o}from"./version-BICtr0Gd.js";import{c as i,t as n,a,b as r}from"./markdown-CSHBT7JI.js";const d=String.raw`
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
`;async function watchSite(i){const{site:n,exec:a}=i,r=e(n.root),l=await a.tryRun(t(i.config.app.python,d,[n.root,n.apache.mode,String(i.cap??200),JSON.stringify(Object.fromEntries((n.shared??[]).filter(e=>void 0!==e.link).map(e=>[e.link,e.absolute])))]));if(0!==l.code)throw new s(`watch could not read site ${n.name} at ${n.root} on ${a.name}: ${l.stderr.trim().split("\n").slice(-3).join(" ")}`,"host");return function judge(e,t,s){const{site:o}=e,i=[],n="single"===o.apache.mode,a=n?"current":"green"===t.liveMap||"blue"===t.liveMap?t.liveMap:null,r=t.links[a??"blue"]??null,d=r?.insideReleases&&r.isDir?r.release:null;let l="ok";n||null===t.liveMap||null!==a||i.push(`live.map names slot ${t.liveMap}, which is neither blue nor green`);for(const[e,s]of Object.entries(t.links)){if(!s)continue;const t=n?"the current link":`slot ${e}`;s.insideReleases?s.isDir?s.complete||"_empty"===s.release||i.push(`${t} points at ${s.release}, which has no release.json (not a complete release)`):i.push(`${t} points at ${s.target}, which does not exist`):i.push(`${t} points outside releases/: ${s.target} (${s.resolved})`)}const p=t.release?.version;d&&"_empty"!==d&&p&&p!==d&&i.push(`the live release directory ${d} holds release.json of version ${p}`);const c=s.version,shown=e=>e??"nothing",h="_empty"===r?.release?null:d;"unfinished"===s.status?l="unknown":"known"===s.status&&c!==h?i.push(`${n?"the current link":`the live slot ${a??"blue"}`} serves ${shown(h)}${r&&!r.insideReleases?` (${r.target})`:""}, but the journal's last ${s.operation} left ${shown(c)} live`):"none"===s.status&&null!==h&&i.push(`the live slot serves ${h}, but the journal records no deploy that made any release live`);i.length&&(l="drifted");const f=t.files,u={status:f?"ok":"unchecked",checked:f?.checked??0,packages:f?.packages??[],counts:f?.counts??{modified:0,added:0,removed:0},modified:f?.modified??[],added:f?.added??[],removed:f?.removed??[],problems:t.problems};if(f){const e=f.counts;for(const e of f.modified)i.push(`modified: ${e.path} (${e.package})${e.reason?`: ${e.reason}`:e.actual?`: ${e.actual}, RECORD says ${e.expected}`:""}`);e.modified>f.modified.length&&i.push(`... and ${e.modified-f.modified.length} more modified files`);for(const e of f.added)i.push(`added: ${e} (in no RECORD)`);e.added>f.added.length&&i.push(`... and ${e.added-f.added.length} more added files`);for(const e of f.removed)i.push(`removed: ${e.path} (${e.package})`);e.removed>f.removed.length&&i.push(`... and ${e.removed-f.removed.length} more removed files`);for(const e of t.problems)i.push(e);e.modified+e.added+e.removed+t.problems.length>0&&(u.status="drifted")}else null!==s.version&&i.push("no live virtualenv to check: the live link does not reach a release directory");const m=t.config;let v;const g=t.venv&&m?`${t.venv}/app.ini`:null;m&&(m.present||m.recorded||o.config)?m.recorded?m.present?m.sha256!==m.recorded?(v={status:"modified",path:g,expectedSha256:m.recorded,actualSha256:m.sha256},i.push(`config: ${g} was changed after it was rendered (sha256 ${m.sha256}, rendered ${m.recorded})`)):v={status:"unchanged",path:g,expectedSha256:m.recorded,actualSha256:m.sha256}:(v={status:"missing",path:g,expectedSha256:m.recorded,actualSha256:null},i.push(`config: ${g} is missing (it was rendered at deploy time)`)):v={status:"unrecorded",path:g,expectedSha256:null,actualSha256:m.sha256}:v={status:"none",path:null,expectedSha256:null,actualSha256:null};return{site:o.name,host:e.exec.name,root:o.root,checkedAt:(new Date).toISOString(),drifted:i.length>0,findings:i,live:{slot:a,release:h,venv:t.venv,version:"string"==typeof t.release?.version?t.release.version:null},links:{status:l,expected:s,slots:Object.fromEntries(Object.entries(t.links).map(([e,t])=>[e,t?{target:t.target,release:t.release}:null]))},files:u,config:v}}(i,JSON.parse(l.stdout),function expectedLiveFromJournal(e){let t={status:"none",version:null};const s=new Map;for(const o of e)if("start"===o.event?s.set(o.id,o):"end"!==o.event&&"recovered"!==o.event||s.delete(o.id),"end"===o.event&&Object.hasOwn(o,"live")){const e=o.live;t={status:"known",version:"string"==typeof e?e:null,operation:`${o.op} ${o.id}`}}const o=[...s.values()].pop();return o?{...t,status:"unfinished",operation:`${o.op} ${o.id}`}:t}(await new o(a,r.journal).events()))}function renderWatchMarkdown(e,t=e=>e){const s=e.drifted?`⚠️ Site ${e.site} has drifted: ${e.findings.length} finding${1===e.findings.length?"":"s"}`:`✅ Site ${e.site} is as sitecycle installed it`,status=e=>"ok"===e||"unchanged"===e?`✅ ${e}`:"drifted"===e||"modified"===e||"missing"===e?`❌ ${e}`:`➖ ${e}`,o=[`## ${i(s)}`,"",...n(["",""],[["**Site**",i(`${e.site} on ${e.host} (${e.root})`)],["**Live**",i(`${e.live.release??"nothing"}${e.live.slot?` (slot ${e.live.slot})`:""}`)],["**Links**",`${status(e.links.status)}${"unknown"===e.links.status?i(`: ${e.links.expected.operation??""} is unfinished`):i(`: the journal says ${e.links.expected.version??"nothing"}`)}`],["**Files**",`${status(e.files.status)}: ${e.files.checked} checked in ${e.files.packages.length} package${1===e.files.packages.length?"":"s"}; ${e.files.counts.modified} modified, ${e.files.counts.added} added, ${e.files.counts.removed} removed`],["**Config**",status(e.config.status)],["**Checked at**",i(e.checkedAt)]]),""];return e.findings.length&&o.push("### Findings","",...a(e.findings.map(e=>i(e)),100),""),"unrecorded"===e.config.status&&o.push(`> The live release was installed before sitecycle recorded the hash of its config (${r("app.ini.sha256")}): the config is checked from its next deploy on.`,""),t(o.join("\n"))}function formatWatchText(e){const t=[e.drifted?`site ${e.site} on ${e.host} has drifted (${e.findings.length} finding${1===e.findings.length?"":"s"}):`:`site ${e.site} on ${e.host} is as installed: ${e.files.checked} files in ${e.files.packages.length} packages match their RECORDs, config ${e.config.status}, links ${e.links.status} (${e.live.release??"nothing"} live)`];for(const s of e.findings)t.push(`  ${s}`);return t.join("\n")}export{formatWatchText as f,renderWatchMarkdown as r,watchSite as w};
