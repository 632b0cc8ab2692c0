# host/_read_state.py: `read_state(root)`: slot -> release (or null), 'live' from live.map, whether
# the slots' releases are complete and marked bad, and whether the site is initialized (when this
# user may not look, `unreadable` holds the error: permission denied). Inlined in
# read-state.py and warm-switch.py.
import os
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
    try:
        os.stat(os.path.join(root, '.sitecycle', 'site.json'))
        out['initialized'] = True
    except PermissionError as e:
        # Not "not initialized": this user cannot see (the caller says so in one sentence).
        out['initialized'] = False
        out['unreadable'] = str(e)
    except OSError:
        out['initialized'] = False
    return out
