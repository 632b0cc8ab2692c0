# host/warm-switch.py: the rollback to the release kept warm in the idle slot, up to users being on
# it, in one process (one spawn, or one SSH round trip): take the site lock, check the journal, read
# the state, write the journal's start line, switch live.map (compare and swap), write the switch
# step's line. argv: site root, operation id, holder.json text, the start line's fields (JSON), the
# release names a requested version may have (JSON list; [] for the previous release).
#
# The lock is taken as host/take-lock.py takes it for src/sites/lock.ts (the same host/_lock.py), so
# the lock's other users see an ordinary holder. Prints one JSON line, exit 0:
# - `{"result": "busy", "reason"}`: the lock was not taken (held, no .sitecycle, or its holder file
#   could not be written, e.g. no space left): nothing changed;
# - `{"result": "fallback", "reason", "state"}`: the lock is held for the caller, nothing else
#   changed: the journal has an unfinished run to recover first, or the idle release is not a good
#   warm target for this request; the caller goes on with its full path;
# - `{"result": "switched", "state", "target", "liveSlot", "idleSlot", "ms"}`: users are on the idle
#   slot's release; lock held, start and switch lines journaled;
# - `{"result": "error", "error", "started"}`: lock held, not switched; `started`: the start line
#   was written.
import json, os, sys, time
from _lock import take_lock  # inlined
from _read_state import read_state  # inlined
from _switch_map import switch_map  # inlined
t0 = time.monotonic()
root, op_id, holder_text, start_text, accept_text = sys.argv[1:6]
start, accept = json.loads(start_text), json.loads(accept_text)
state_dir = os.path.join(root, '.sitecycle')
journal = os.path.join(state_dir, 'journal.jsonl')
def done(result, **fields):
    fields['result'] = result
    sys.stdout.write(json.dumps(fields) + '\n')
    sys.stdout.flush()
    sys.exit(0)
def append(event):
    t = time.time()
    line = dict(at=time.strftime('%Y-%m-%dT%H:%M:%S', time.gmtime(t)) + '.%03dZ' % int(t % 1 * 1000))
    line.update(event)
    fd = os.open(journal, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
    try:
        os.write(fd, (json.dumps(line, ensure_ascii=False, separators=(',', ':')) + '\n').encode('utf-8'))
    finally:
        os.close(fd)
failed = take_lock(state_dir, op_id, holder_text)
if failed is not None:
    # No space, say: the full path's lock names the problem.
    if failed['step'] == 'mkdir':
        done('busy', reason='cannot make %s: %s' % (failed['path'], failed['strerror']))
    if failed['step'] == 'write':
        done('busy', reason='cannot write %s: %s' % (failed['path'], failed['strerror']))
    done('busy', reason='the lock is held')
started = False
try:
    ops = {}
    try:
        with open(journal, encoding='utf-8') as f:
            for text in f:
                try:
                    e = json.loads(text)
                except ValueError:
                    continue
                if not isinstance(e, dict):
                    continue
                if e.get('id') not in ops:
                    if e.get('event') == 'start':
                        ops[e.get('id')] = False
                elif e.get('event') in ('end', 'recovered'):
                    ops[e.get('id')] = True
    except FileNotFoundError:
        pass
    unfinished = [i for i, closed in ops.items() if not closed]
    state = read_state(root)
    if unfinished:
        done('fallback', reason='the journal has an unfinished operation (%s)' % ', '.join(map(str, unfinished)), state=state)
    live_slot = 'green' if state['live'] == 'green' else 'blue'
    idle_slot = 'blue' if live_slot == 'green' else 'green'
    real = lambda r: r if r and r != '_empty' else None
    live, idle = real(state['slots'][live_slot]), real(state['slots'][idle_slot])
    info = state['releases'].get(idle) or {}
    if not state['initialized']:
        done('fallback', reason='the site is not initialized', state=state)
    if idle is None or idle == live or not info.get('complete') or info.get('bad'):
        done('fallback', reason='no good release is warm in the idle slot', state=state)
    if accept and idle not in accept:
        done('fallback', reason='the requested version is not the one warm in the idle slot', state=state)
    event = dict(start)
    event.update(target=idle, liveSlot=live_slot, live=live, idle=idle)
    append(event)
    started = True
    switch_map(os.path.join(root, 'live.map'), idle_slot, live_slot)
    ms = int((time.monotonic() - t0) * 1000)
    try:
        append(dict(id=op_id, op=start.get('op'), event='step', step='switch', phase='run', status='ok', ms=ms, note='%s -> %s' % (live or 'none', idle)))
    except OSError:
        pass  # users are on the release: the end line will say so
    done('switched', state=state, target=idle, liveSlot=live_slot, idleSlot=idle_slot, ms=ms)
except SystemExit:
    raise
except BaseException as e:
    done('error', error='%s: %s' % (type(e).__name__, e), started=started)
