# host/point-link.py: argv: link path, target. Points a symlink at target atomically (link aside,
# rename over).
import os, sys
link, target = sys.argv[1], sys.argv[2]
tmp = link + '.tmp.%d' % os.getpid()
try:
    os.unlink(tmp)
except FileNotFoundError:
    pass
os.symlink(target, tmp)
os.rename(tmp, link)
