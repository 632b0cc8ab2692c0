# host/read-state.py: argv: site root. Prints read_state's JSON (_read_state.py).
import json, sys
from _read_state import read_state  # inlined
print(json.dumps(read_state(sys.argv[1])))
