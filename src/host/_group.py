# host/_group.py: `group_pids(rundir)`, the PIDs of a daemon group's processes (their working
# directory is the group's run dir); `point_link(link, target)` points a slot link at a target
# atomically (link aside, rename over); `signal_group(rundir, grace, link, target)` points the link
# (when given) and sends SIGINT to every daemon of the group, and returns the PIDs it signalled;
# when none runs it waits up to `grace` seconds for Apache to respawn the group (its parent does so
# on a once-a-second tick after a restart), and exits 3, the link untouched, when none came;
# `await_group(rundir, want, timeout, old)` waits until `want` new daemons run and none of `old`,
# prints the new PIDs, and exits 1 at the timeout. Inlined in restart-group.py, signal-group.py and
# await-group.py.
import os, sys, time, signal
def group_pids(rundir):
    out = set()
    for name in os.listdir('/proc'):
        if name.isdigit():
            try:
                if os.readlink('/proc/%s/cwd' % name) == rundir:
                    out.add(int(name))
            except OSError:
                pass
    return out
def point_link(link, target):
    tmp = link + '.tmp.%d' % os.getpid()
    try:
        os.unlink(tmp)
    except FileNotFoundError:
        pass
    os.symlink(target, tmp)
    os.rename(tmp, link)
def signal_group(rundir, grace, link=None, target=None):
    deadline = time.time() + grace
    old = group_pids(rundir)
    while not old and time.time() < deadline:
        time.sleep(0.02)
        old = group_pids(rundir)
    if not old:
        sys.stderr.write('no daemon process of this group runs (working directory %s), none came within %ss: is Apache running with the sitecycle vhost loaded?\n' % (rundir, grace))
        sys.exit(3)
    if link:
        point_link(link, target)
    for pid in old:
        try:
            os.kill(pid, signal.SIGINT)
        except ProcessLookupError:
            pass
    return old
def await_group(rundir, want, timeout, old):
    deadline = time.time() + timeout
    while time.time() < deadline:
        now = group_pids(rundir)
        fresh = now - old
        if len(fresh) >= want and not (now & old):
            print(' '.join(str(p) for p in sorted(fresh)))
            sys.exit(0)
        time.sleep(0.02)
    sys.stderr.write('the daemon processes of this group did not restart within %ss (old: %s, now: %s)\n' % (timeout, sorted(old), sorted(group_pids(rundir))))
    sys.exit(1)
