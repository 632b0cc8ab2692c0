# host/switch-map.py: argv: map path, slot[, expected live slot]. Switches live.map to the slot
# (switch_map in _switch_map.py) and prints the slot that was live before. With an expected slot,
# exits 4 without switching when another slot is live (compare and swap).
import sys
from _switch_map import LiveSlotChanged, switch_map  # inlined
path, slot = sys.argv[1], sys.argv[2]
expect = sys.argv[3] if len(sys.argv) > 3 else None
try:
    print(switch_map(path, slot, expect))
except LiveSlotChanged as e:
    sys.stderr.write('%s\n' % e)
    sys.exit(4)
