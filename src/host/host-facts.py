# host/host-facts.py: argv: path. Prints JSON: the Python version, whether pip is importable, pip's
# `__pip-runner__.py` (null when this pip has none: older than 22.3), and the free space in MiB
# under path (one Python start for the whole preflight; needs the site module).
import importlib.util, json, os, sys
p = sys.argv[1]
while not os.path.exists(p):
    p = os.path.dirname(p) or '/'
s = os.statvfs(p)
pip = importlib.util.find_spec('pip')
runner = None
if pip is not None and pip.submodule_search_locations:
    candidate = os.path.join(os.path.realpath(list(pip.submodule_search_locations)[0]), '__pip-runner__.py')
    if os.path.isfile(candidate):
        runner = candidate
print(json.dumps({
    'python': '%d.%d.%d' % sys.version_info[:3],
    'pip': pip is not None,
    'pip_runner': runner,
    'free_mb': s.f_bavail * s.f_frsize // (1024 * 1024),
}))
