# host/path-identities.py: argv: paths. Prints a JSON list with, for each path,
# `device:inode` of what is there (not following a last symlink), or null when nothing is.
import json, os, sys
out = []
for p in sys.argv[1:]:
    try:
        st = os.lstat(p)
        out.append('%d:%d' % (st.st_dev, st.st_ino))
    except FileNotFoundError:
        out.append(None)
print(json.dumps(out))
