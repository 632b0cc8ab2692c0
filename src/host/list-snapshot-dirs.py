# host/list-snapshot-dirs.py: argv: snapshots dir (or several). Prints JSON: each
# entry's name and whether it holds a manifest.json (a snapshot without one is incomplete); for
# several dirs, one such list per dir, in their order (a dir that does not exist lists nothing).
import json, os, sys
def entries(top):
    out = []
    try:
        names = sorted(os.listdir(top))
    except FileNotFoundError:
        names = []
    for name in names:
        p = os.path.join(top, name)
        if os.path.isdir(p) and not os.path.islink(p):
            out.append({'name': name, 'complete': os.path.isfile(os.path.join(p, 'manifest.json'))})
    return out
tops = sys.argv[1:]
print(json.dumps(entries(tops[0]) if len(tops) == 1 else [entries(t) for t in tops]))
