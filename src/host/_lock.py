# host/_lock.py: `take_lock(state_dir, op_id, holder_text)` takes a site's lock as src/sites/lock.ts
# describes it: `<state_dir>/lock.<op_id>` made, holder.json written in it (mode 0600 while written,
# then 0644), renamed to `<state_dir>/lock` (rename(2) of a directory fails onto a non-empty one), so
# the lock never exists without its holder. Returns None when taken; otherwise nothing is left
# behind and it returns what failed: `step` (mkdir, write or rename), `errno` (its name, e.g.
# EROFS), `strerror`, `path` (what the failed call named) and `detail` (the line mkdir(1) or mv(1)
# would print, or for the holder's write the message Node's fs gives). Inlined in take-lock.py and
# warm-switch.py.
import errno, os
def _failed(step, e, path, detail):
    return dict(step=step, errno=errno.errorcode.get(e.errno, str(e.errno)), strerror=e.strerror, path=path, detail=detail)
def _remove_attempt(tmp, holder_file):
    for remove, path in ((os.unlink, holder_file), (os.rmdir, tmp)):
        try:
            remove(path)
        except OSError:
            pass
def take_lock(state_dir, op_id, holder_text):
    tmp = os.path.join(state_dir, 'lock.' + op_id)
    lock = os.path.join(state_dir, 'lock')
    try:
        os.mkdir(tmp)
    except OSError as e:
        return _failed('mkdir', e, tmp, "mkdir: cannot create directory '%s': %s" % (tmp, e.strerror))
    holder_file = os.path.join(tmp, 'holder.json')
    call = 'open'
    try:
        fd = os.open(holder_file, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        try:
            call = 'write'
            data = holder_text.encode('utf-8')
            while data:
                data = data[os.write(fd, data):]
        finally:
            os.close(fd)
        call = 'chmod'
        os.chmod(holder_file, 0o644)
    except OSError as e:
        _remove_attempt(tmp, holder_file)
        code = errno.errorcode.get(e.errno, str(e.errno))
        text = e.strerror[:1].lower() + e.strerror[1:]
        return _failed('write', e, holder_file, '%s: %s, %s' % (code, text, call if call == 'write' else "%s '%s'" % (call, holder_file)))
    try:
        os.rename(tmp, lock)
    except OSError as e:
        _remove_attempt(tmp, holder_file)
        return _failed('rename', e, lock, "mv: cannot move '%s' to '%s': %s" % (tmp, lock, e.strerror))
    return None
