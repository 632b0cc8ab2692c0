# host/take-lock.py: one attempt at a site's lock, in one process (one spawn, or one SSH round trip):
# `.sitecycle/lock.<id>` made, holder.json written in it, renamed to `.sitecycle/lock` (host/_lock.py).
# argv: the site's state dir (.sitecycle), operation id, holder.json text. Prints one JSON line,
# exit 0: `{"taken": true}`, or `{"taken": false, "step", "errno", "strerror", "path", "detail"}`
# when it was not taken (nothing left behind): step mkdir with errno ENOENT is a site without
# .sitecycle, step rename a lock already there; src/sites/lock.ts tells the rest apart.
import json, sys
from _lock import take_lock  # inlined
state_dir, op_id, holder_text = sys.argv[1:4]
failed = take_lock(state_dir, op_id, holder_text)
out = dict(taken=True) if failed is None else dict(failed, taken=False)
sys.stdout.write(json.dumps(out) + '\n')
