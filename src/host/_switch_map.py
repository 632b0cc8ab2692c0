# host/_switch_map.py: `switch_map(path, slot, expect)` writes `live <slot>` aside, makes its mtime
# differ from the old map's (mod_rewrite re-reads a txt map only when the mtime changes), renames it
# over and returns the slot that was live ('' when none). With `expect`, raises LiveSlotChanged
# without switching when another slot is live (compare and swap). Inlined in switch-map.py and
# warm-switch.py.
import os
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
        f.write('live %s\n' % slot)
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
