import{dirname as e}from"node:path";import{au as n,av as s,a2 as a,af as t,a6 as o,S as r,K as i,aw as l,g as c}from"./version-BICtr0Gd.js";import{r as p}from"./render-config-BDCwb_kN.js";import{c as f,t as m,a as u,b as d}from"./markdown-CSHBT7JI.js";function parseIni(e){const n=[];let s,a="";for(const t of e.split(/\r?\n/)){const e=t.replace(/\s+$/,""),o=e.trim();if(""===o||o.startsWith("#")||o.startsWith(";"))continue;if(/^\s/.test(e)&&s){s.value+=`\n${o}`;continue}const r=/^\[([^\]]*)\]$/.exec(o);if(r){a=r[1].trim(),s=void 0;continue}const i=/^([^=:]+?)\s*[=:]\s*(.*)$/.exec(o);s=i?{section:a,key:i[1],value:i[2]}:{section:a,key:o,value:""},n.push(s)}return n}const h=/\{\{\s*([a-z]+)\.([A-Za-z_][A-Za-z0-9_]*)\s*\}\}/g;function entryName(e){return e.section?`[${e.section}] ${e.key}`:e.key}function secretKeysOfTemplate(e){const n=new Set;for(const s of parseIni(e))/\{\{\s*secret\.[A-Za-z_][A-Za-z0-9_]*\s*\}\}/.test(s.value)&&n.add(entryName(s));return n}function secretNamesOfTemplate(e){const n=new Set;for(const s of e.matchAll(h))"secret"===s[1]&&n.add(s[2]);return[...n]}function escapeRegExp(e){return e.replace(/[.*+?^${}()|[\]\\]/g,"\\$&")}function normalizeValue(e,n,s){const a=[];let t=0;for(const e of n.matchAll(h)){a.push({literal:n.slice(t,e.index)});const o=e[1],r={site:s.site,release:s.release},i=r[o]?.[e[2]];void 0!==i?a.push({token:`{{ ${o}.${e[2]} }}`,concrete:i}):a.push({free:!0}),t=e.index+e[0].length}if(a.push({literal:n.slice(t)}),!a.some(e=>e.token))return e;const o=a.map(e=>void 0!==e.literal?escapeRegExp(e.literal):e.free?"([\\s\\S]*?)":`(${escapeRegExp(e.concrete)})`).join(""),r=new RegExp(`^${o}$`).exec(e);if(!r)return e;let i=1;return a.map(e=>{if(void 0!==e.literal)return e.literal;const n=r[i++];return e.free?n:e.token}).join("")}async function schemaOf(e,r){let i;return i="sqlite"===r.engine?(await e.run(n(r.python??s,"\nimport json, os, sqlite3, sys\npath = sys.argv[1]\nif not os.path.isfile(path):\n    sys.stderr.write('%s: no such database file\\n' % path)\n    sys.exit(2)\ncon = sqlite3.connect('file:%s?mode=ro' % path.replace('?', '%3f').replace('#', '%23'), uri=True, timeout=60)\nout = []\nfor (name,) in con.execute(\"SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite\\\\_%' ESCAPE '\\\\' ORDER BY name\"):\n    for cid, col, ty, notnull, default, pk in con.execute('PRAGMA table_info(\"%s\")' % name.replace('\"', '\"\"')):\n        out.append([name, col, ty, not notnull and not pk])\ncon.close()\nprint(json.dumps(out))\n",[r.name]))).stdout:"postgres"===r.engine?(await e.run(a(t(r),r.name,"\nSELECT coalesce(json_agg(json_build_array(t, c, ty, n) ORDER BY t, o), '[]'::json)\nFROM (\n  SELECT CASE WHEN ns.nspname = 'public' THEN cl.relname\n              ELSE ns.nspname || '.' || cl.relname END AS t,\n         a.attname AS c, format_type(a.atttypid, a.atttypmod) AS ty, NOT a.attnotnull AS n,\n         a.attnum AS o\n  FROM pg_attribute a\n  JOIN pg_class cl ON cl.oid = a.attrelid\n  JOIN pg_namespace ns ON ns.oid = cl.relnamespace\n  WHERE cl.relkind = 'r' AND a.attnum > 0 AND NOT a.attisdropped\n    AND ns.nspname NOT IN ('pg_catalog', 'information_schema') AND ns.nspname NOT LIKE 'pg\\_%'\n) s;\n"))).stdout:function unescapeMysqlBatch(e){return e.replace(/\\([tn0\\])/g,(e,n)=>"t"===n?"\t":"n"===n?"\n":"0"===n?"\0":"\\")}((await e.run(o(t(r),r.name,"\nSET SESSION group_concat_max_len = 1073741824;\nSELECT coalesce(JSON_ARRAYAGG(JSON_ARRAY(c.TABLE_NAME, c.COLUMN_NAME, c.COLUMN_TYPE, c.IS_NULLABLE = 'YES')), '[]')\nFROM (SELECT c.* FROM information_schema.COLUMNS c\n      JOIN information_schema.TABLES t ON t.TABLE_SCHEMA = c.TABLE_SCHEMA AND t.TABLE_NAME = c.TABLE_NAME\n      WHERE c.TABLE_SCHEMA = DATABASE() AND t.TABLE_TYPE = 'BASE TABLE'\n      ORDER BY c.TABLE_NAME, c.ORDINAL_POSITION) c;\n"))).stdout.trim()),function groupColumns(e){const n=new Map;for(const[s,a,t,o]of e){const e=n.get(s)??[];e.push({name:a,type:t,nullable:Boolean(o)}),n.set(s,e)}return[...n.entries()].sort(([e],[n])=>e<n?-1:e>n?1:0).map(([e,n])=>({table:e,columns:n}))}(JSON.parse(i.trim()||"[]"))}const g=String.raw`
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
`;async function compareSites(e){const n=e.env??process.env,s=e.cap??100,a=await Promise.all([templateOf(e.a),templateOf(e.b)]),t=function collectSecrets(e,n,s,a){const t=new Set;for(const e of n)for(const n of secretNamesOfTemplate(e??""))t.add(n);for(const n of e)n.database?.passwordEnv&&t.add(n.database.passwordEnv),n.pip?.indexUrlEnv&&t.add(n.pip.indexUrlEnv),n.access?.basicAuth?.passwordEnv&&t.add(n.access.basicAuth.passwordEnv);const o=[...t].map(e=>s[e]).filter(e=>"string"==typeof e);return[...new Set([...o,...a])].filter(e=>e.length>=3)}([e.a.site,e.b.site],a,n,e.secrets??[]);for(const n of t)e.reporter?.addSecret(n);const redact=e=>function redactAll(e,n){let s=e;for(const e of[...n].sort((e,n)=>n.length-e.length))s=s.split(e).join("***");return s}(e,t);e.reporter?.info(`comparing site ${e.a.site.name} on ${e.a.exec.name} with site ${e.b.site.name} on ${e.b.exec.name}`);const[o,r,i,l]=await Promise.all([readFacts(e.a),readFacts(e.b),readDatabase(e.a,n),readDatabase(e.b,n)]),c={same:o.record?.version===r.record?.version&&o.record?.sha256===r.record?.sha256},p=function comparePackages(e,n){const key=e=>e.toLowerCase().replace(/[-_.]+/g,"-"),s=new Map(n.map(e=>[key(e.name),e])),a=new Map(e.map(e=>[key(e.name),e])),t=[],o=[],r=[];let i=0;for(const[e,n]of[...a.entries()].sort()){const a=s.get(e);a?a.version!==n.version?r.push({name:n.name,a:n.version,b:a.version}):i++:t.push(`${n.name} ${n.version}`)}for(const[e,n]of[...s.entries()].sort())a.has(e)||o.push(`${n.name} ${n.version}`);return{same:t.length+o.length+r.length===0,onlyA:t,onlyB:o,changed:r,sameCount:i}}(o.packages,r.packages),f=comparePaths(byReleasePath(o.files),byReleasePath(r.files),s),m=[];for(let e=0;e<Math.max(o.data.length,r.data.length);e++){const n=o.data[e],a=r.data[e];m.push({a:n?.path??null,b:a?.path??null,exists:{a:n?.exists??!1,b:a?.exists??!1},...comparePaths(n?.files??{},a?.files??{},s)})}const u=function compareConfigs(e,n,s){const a=new Set([...secretKeysOfTemplate(e.template??""),...secretKeysOfTemplate(n.template??"")]),view=e=>{const n=new Map(parseIni(e.template??"").map(e=>[entryName(e),e.value])),s=new Map;for(const t of parseIni(e.text??"")){const o=entryName(t),r=n.get(o),i=void 0!==r&&e.values&&!a.has(o)?normalizeValue(t.value,r,e.values):t.value;s.set(o,{raw:t.value,normalized:i})}return s},t=view(e),o=view(n),r=[];let i=0;for(const e of[...new Set([...t.keys(),...o.keys()])].sort()){const n=t.get(e),l=o.get(e);if(n&&l&&n.normalized===l.normalized){i++;continue}const c=a.has(e),show=e=>void 0===e?null:c?"***":s(e.raw);r.push({key:e,a:show(n),b:show(l),secret:c})}const l={a:null!==e.text,b:null!==n.text};return{same:0===r.length&&l.a===l.b,present:l,differences:r,sameKeys:i}}({text:o.config,template:a[0],values:siteValues(e.a.site,o.release)},{text:r.config,template:a[1],values:siteValues(e.b.site,r.release)},redact),d=i||l?function compareDatabases(e,n){const s=null!==e&&null!==n&&e.engine===n.engine,a=new Map((e?.tables??[]).map(e=>[e.table,e])),t=new Map((n?.tables??[]).map(e=>[e.table,e])),o=new Map((e?.schema??[]).map(e=>[e.table,e.columns])),r=new Map((n?.schema??[]).map(e=>[e.table,e.columns])),i=[...new Set([...a.keys(),...t.keys(),...o.keys(),...r.keys()])],l=[];let c=0;for(const e of i.sort()){const n=a.get(e),i=t.get(e),p=o.get(e)??[],f=r.get(e)??[],m=new Map(f.map(e=>[e.name,e])),u={onlyA:p.filter(e=>!m.has(e.name)).map(e=>e.name),onlyB:f.filter(e=>!p.some(n=>n.name===e.name)).map(e=>e.name),changed:p.filter(e=>{const n=m.get(e.name);return n&&(n.type!==e.type||n.nullable!==e.nullable)}).map(e=>{const n=m.get(e.name),show=e=>`${e.type}${e.nullable?"":" not null"}`;return`${e.name}: ${show(e)} → ${show(n)}`})},d=void 0!==n&&void 0!==i,h=d&&s?n.checksum===i.checksum?"same":"different":"not-comparable";!d||n.rows!==i.rows||"different"===h||u.onlyA.length+u.onlyB.length+u.changed.length>0?l.push({table:e,rows:{a:n?.rows??null,b:i?.rows??null},checksum:h,columns:u}):c++}const p={a:e?.engine??null,b:n?.engine??null};return{same:0===l.length&&p.a===p.b,engines:p,sameTables:c,tables:l}}(i,l):null,h=(c.same?0:1)+p.onlyA.length+p.onlyB.length+p.changed.length+countOf(f)+m.reduce((e,n)=>e+countOf(n)+(null===n.a||null===n.b?1:0),0)+u.differences.length+(u.present.a!==u.present.b?1:0)+(d?d.tables.length+(d.engines.a!==d.engines.b?1:0):0),side=(e,n)=>({site:e.site.name,host:e.exec.name,root:e.site.root,release:n.release,version:n.record?.version??null,sha256:n.record?.sha256??null});return function redactStrings(e,n){const walk=e=>"string"==typeof e?n(e):Array.isArray(e)?e.map(walk):null!==e&&"object"==typeof e?Object.fromEntries(Object.entries(e).map(([e,s])=>[n(e),walk(s)])):e;return walk(e)}({a:side(e.a,o),b:side(e.b,r),same:0===h,differences:h,release:c,packages:p,files:f,data:m,config:u,database:d},redact)}async function templateOf({config:n,site:s}){if(!s.config)return null;try{return await p(s.config.template,e(n.file))}catch(e){throw new r(`site ${s.name}: ${e.message}`,"config")}}function siteValues(e,n){return n?{site:{name:e.name,root:e.root,url:e.url},release:{version:n,dir:c(e.root).release(n)}}:null}async function readFacts(e){const{site:n,exec:s}=e,a=await s.tryRun(i(e.config.app.python,g,[n.root,n.apache.mode,JSON.stringify(n.data??[])]));if(0!==a.code)throw new r(`compare could not read site ${n.name} at ${n.root} on ${s.name}: ${a.stderr.trim().split("\n").slice(-3).join(" ")}`,"host");return JSON.parse(a.stdout)}async function readDatabase(e,n){const s=e.site.database;if(!s)return null;if(s.passwordEnv&&!n[s.passwordEnv])throw new r(`the database password of site ${e.site.name} is not set: set the environment variable ${s.passwordEnv} (sites.${e.site.name}.database.password_env)`,"config");const a={...s,python:e.config.app.python},t=l(a.engine),[o,i]=await Promise.all([t.checksums(e.exec,a),schemaOf(e.exec,a)]);return{engine:a.engine,tables:o,schema:i}}function countOf(e){return e.counts.changed+e.counts.onlyA+e.counts.onlyB}function byReleasePath(e){return Object.fromEntries(Object.entries(e).map(([e,n])=>{return[(s=e,s.replace(/(^|\/)([^/-]+)-[^/]+\.dist-info\//,"$1$2-*.dist-info/")),n];var s}))}function comparePaths(e,n,s){const a=[],t=[],o=[];let r=0;for(const s of Object.keys(e).sort())Object.hasOwn(n,s)?e[s]!==n[s]?a.push(s):r++:t.push(s);for(const s of Object.keys(n).sort())Object.hasOwn(e,s)||o.push(s);return{same:a.length+t.length+o.length===0,counts:{same:r,changed:a.length,onlyA:t.length,onlyB:o.length},changed:a.slice(0,s),onlyA:t.slice(0,s),onlyB:o.slice(0,s)}}function side(e){return`${e.site} (${e.release??"no live release"}${e.sha256?`, sha256 ${e.sha256.slice(0,12)}…`:""})`}function renderCompareMarkdown(e,n=e=>e){const s=e.same?`✅ Sites ${e.a.site} and ${e.b.site} are the same`:`🔍 Sites ${e.a.site} and ${e.b.site}: ${e.differences} difference${1===e.differences?"":"s"}`,mark=e=>e?"✅ same":"❌ differs",a=e.database,t=[`## ${f(s)}`,"",...m(["",f(`A: ${e.a.site}`),f(`B: ${e.b.site}`),""],[["**Host**",f(`${e.a.host}:${e.a.root}`),f(`${e.b.host}:${e.b.root}`),""],["**Live release**",f(side(e.a)),f(side(e.b)),mark(e.release.same)],["**Packages**","","",`${mark(e.packages.same)} (${e.packages.sameCount} same)`],["**Release files**","","",`${mark(e.files.same)} (${e.files.counts.same} same)`],...e.data.map(e=>["**Data folder**",f(e.a??"none"),f(e.b??"none"),`${mark(e.same&&null!==e.a&&null!==e.b)} (${e.counts.same} same)`]),["**Config**","","",`${mark(e.config.same)} (${e.config.sameKeys} keys same)`],...a?[["**Database**",f(a.engines.a??"none"),f(a.engines.b??"none"),`${mark(a.same)} (${a.sameTables} tables same)`]]:[]]),""],o=e.packages;o.same||t.push("### Packages","",...u([...o.changed.map(e=>`${d(e.name)}: ${f(e.a)} on A, ${f(e.b)} on B`),...o.onlyA.map(e=>`only on A: ${d(e)}`),...o.onlyB.map(e=>`only on B: ${d(e)}`)],60),""),e.files.same||t.push("### Release files","",...paths(e.files),"");for(const n of e.data)n.same||t.push(`### Data: ${f(n.a??"none")} ↔ ${f(n.b??"none")}`,"",...n.exists.a?[]:["- missing on A"],...n.exists.b?[]:["- missing on B"],...paths(n),"");return e.config.same||t.push("### Config","",...e.config.present.a?[]:["- A has no rendered config"],...e.config.present.b?[]:["- B has no rendered config"],...e.config.differences.length?m(["Key","A","B"],e.config.differences.map(e=>[d(e.key),e.secret?"*secret, differs*":null===e.a?"*absent*":d(e.a),e.secret?"*secret, differs*":null===e.b?"*absent*":d(e.b)])):[],""),a&&!a.same&&t.push("### Database","",...a.engines.a!==a.engines.b?[`Engines differ (${a.engines.a??"none"} / ${a.engines.b??"none"}): checksums are not compared.`,""]:[],...a.tables.length?m(["Table","Rows A","Rows B","Checksum","Columns"],a.tables.map(e=>[d(e.table),null===e.rows.a?"*absent*":String(e.rows.a),null===e.rows.b?"*absent*":String(e.rows.b),e.checksum,f([...e.columns.onlyA.map(e=>`only A: ${e}`),...e.columns.onlyB.map(e=>`only B: ${e}`),...e.columns.changed].join("\n"))])):[],""),n(t.join("\n"))}function paths(e){return[...section("changed",e.changed,e.counts.changed),...section("only on A",e.onlyA,e.counts.onlyA),...section("only on B",e.onlyB,e.counts.onlyB)]}function section(e,n,s){return 0===s?[]:[`**${e}** (${s}):`,"",...u(n.map(e=>d(e)),30,s),""]}function formatCompareText(e){const n=[e.same?`sites ${e.a.site} and ${e.b.site} are the same: ${side(e.a)}`:`sites ${e.a.site} and ${e.b.site}: ${e.differences} difference${1===e.differences?"":"s"}`];e.release.same||n.push(`  release: ${side(e.a)} / ${side(e.b)}`);for(const s of e.packages.changed)n.push(`  package ${s.name}: ${s.a} / ${s.b}`);for(const s of e.packages.onlyA)n.push(`  package only on ${e.a.site}: ${s}`);for(const s of e.packages.onlyB)n.push(`  package only on ${e.b.site}: ${s}`);const pathLines=(s,a)=>{for(const e of a.changed)n.push(`  ${s} changed: ${e}`);for(const t of a.onlyA)n.push(`  ${s} only on ${e.a.site}: ${t}`);for(const t of a.onlyB)n.push(`  ${s} only on ${e.b.site}: ${t}`);const t=a.counts.changed+a.counts.onlyA+a.counts.onlyB-a.changed.length-a.onlyA.length-a.onlyB.length;t>0&&n.push(`  ${s}: ... and ${t} more`)};pathLines("file",e.files);for(const n of e.data)pathLines(`data ${n.a??"none"} / ${n.b??"none"}`,n);for(const s of e.config.differences)n.push(s.secret?`  config ${s.key}: secret, differs`:`  config ${s.key}: ${s.a??"(absent)"} / ${s.b??"(absent)"}`);if(e.config.present.a!==e.config.present.b&&n.push(`  config: only ${e.config.present.a?e.a.site:e.b.site} has one`),e.database){e.database.engines.a!==e.database.engines.b&&n.push(`  database engines: ${e.database.engines.a??"none"} / ${e.database.engines.b??"none"}`);for(const s of e.database.tables)n.push(`  table ${s.table}: rows ${s.rows.a??"absent"} / ${s.rows.b??"absent"}, checksum ${s.checksum}`+[...s.columns.onlyA.map(n=>`, column only on ${e.a.site}: ${n}`),...s.columns.onlyB.map(n=>`, column only on ${e.b.site}: ${n}`),...s.columns.changed.map(e=>`, column ${e}`)].join(""))}return n.join("\n")}export{compareSites as c,formatCompareText as f,renderCompareMarkdown as r};
