# host/build-backend.py: argv: project dir. Prints, as JSON, the [build-system] of its pyproject.toml
# and the requirements this Python does not satisfy (by installed distribution and version).
import json, pathlib, sys
src = pathlib.Path(sys.argv[1])
system = {}
pp = src / "pyproject.toml"
if pp.is_file():
    try:
        import tomllib
    except ImportError:
        import tomli as tomllib
    system = tomllib.loads(pp.read_text(encoding="utf-8")).get("build-system", {})
requires = system.get("requires", ["setuptools>=40.8.0"])
backend = system.get("build-backend", "setuptools.build_meta:__legacy__")
missing = []
try:
    from importlib import metadata
    from packaging.requirements import Requirement
except ImportError:
    metadata = None
for line in requires:
    if metadata is None:
        name = line.split(";")[0].strip()
        for sep in "<>=!~[ ":
            name = name.split(sep)[0]
        import importlib.util
        if importlib.util.find_spec(name.replace("-", "_")) is None:
            missing.append(line)
        continue
    req = Requirement(line)
    if req.marker is not None and not req.marker.evaluate():
        continue
    try:
        version = metadata.version(req.name)
    except metadata.PackageNotFoundError:
        missing.append(line)
        continue
    if req.specifier and not req.specifier.contains(version, prereleases=True):
        missing.append(line)
if not system.get("backend-path"):
    import importlib.util
    top = backend.split(":")[0].split(".")[0]
    if importlib.util.find_spec(top) is None and not missing:
        missing.append(top)
print(json.dumps({"backend": backend, "requires": requires, "missing": missing}))
