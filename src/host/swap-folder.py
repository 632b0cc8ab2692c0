# host/swap-folder.py: argv: staged, target, aside. Put the folder `staged` in the place of
# `target`: with one renameat2(RENAME_EXCHANGE) where the kernel and filesystem allow it (readers
# see the old folder or the new one, never none), else two renames; the previous content ends at
# `aside`. Prints moved (no target before), exchanged or renamed.
import ctypes, os, sys
staged, target, aside = sys.argv[1], sys.argv[2], sys.argv[3]
if not os.path.lexists(target):
    os.makedirs(os.path.dirname(target), exist_ok=True)
    os.rename(staged, target)
    print('moved')
    sys.exit(0)
try:
    f = ctypes.CDLL(None, use_errno=True).renameat2
except (AttributeError, OSError):
    f = None
if f is not None and f(-100, os.fsencode(staged), -100, os.fsencode(target), 2) == 0:
    os.rename(staged, aside)
    print('exchanged')
    sys.exit(0)
os.rename(target, aside)
os.rename(staged, target)
print('renamed')
