# host/_durable.py: writes that survive a power loss. `fsync_path(path)`: fsync of a file or a
# folder by its path. `commit(path, data, mode=None, gid=None)`: `data` into `<path>.tmp` (created
# with `mode`, exactly; None: 0666 less the umask; its group `gid` when given), fsync, rename onto
# `path`, fsync of its folder: a reader finds the old file or the whole new one, before and after
# a crash. Inlined where used.
import os


def fsync_path(path):
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def commit(path, data, mode=None, gid=None):
    tmp = path + '.tmp'
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o666 if mode is None else mode)
    try:
        if gid is not None:
            os.fchown(fd, -1, gid)
        if mode is not None:
            os.fchmod(fd, mode)
        view = memoryview(data)
        while view:
            view = view[os.write(fd, view):]
        os.fsync(fd)
    finally:
        os.close(fd)
    os.replace(tmp, path)
    fsync_path(os.path.dirname(os.path.abspath(path)))
