# host/list-releases.py: argv: releases dir. Prints a JSON object: release name -> {complete,
# release.json content or null, bad}.
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
