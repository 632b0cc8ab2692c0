# host/_children.py: the processes a host program starts end with it. When the program gets
# SIGTERM (the resident Python passes it on when a sitecycle run is killed; each program started
# on its own gets it through `setpriv --pdeathsig`: src/util/die-with-parent.ts), every child it
# started and that still runs gets SIGTERM too, and the program ends at once with 128 + 15. The
# handler waits for nothing and takes no lock (os.kill, os._exit): the code it interrupts may hold
# subprocess's own (a handler that called Popen.wait there deadlocked). Inlined where used.
import os, signal, subprocess
_children = []
# A SIGTERM while Popen starts a child (forked, perhaps not yet exec'd, not yet in _children) is
# held until the child is in the list: ending then would leave it running.
_starting = [False]
_held = []


def start(argv, **kwargs):
    """subprocess.Popen(argv, **kwargs), ended with this program."""
    _starting[0] = True
    try:
        p = subprocess.Popen(argv, **kwargs)
        _children.append(p)
        return p
    finally:
        _starting[0] = False
        if _held:
            _end_with_children(_held[0], None)


def _end_with_children(signum, frame):
    if _starting[0]:
        _held.append(signum)
        return
    for p in _children:
        try:
            os.kill(p.pid, signal.SIGTERM)
        except ProcessLookupError:
            pass
    os._exit(128 + signum)


signal.signal(signal.SIGTERM, _end_with_children)
