# host/project-version.py: argv: a project's source folder. Prints the static version of the
# project (project.version, or a dynamic one as setuptools, flit_core or hatchling read it without
# building); exit 3 when it has none or it cannot be told.
import ast, pathlib, sys
src = pathlib.Path(sys.argv[1])
try:
    import tomllib
except ImportError:
    sys.exit(3)


def found(text):
    print(text.strip())
    sys.exit(0)


def constant(files, names):
    # The first module-level NAME = "string" of one of names, as the backends read it.
    for candidate in files:
        if not candidate.is_file():
            continue
        for node in ast.parse(candidate.read_text(encoding="utf-8")).body:
            targets = node.targets if isinstance(node, ast.Assign) else [node.target] if isinstance(node, ast.AnnAssign) else []
            value = getattr(node, "value", None)
            if any(isinstance(t, ast.Name) and t.id in names for t in targets) and isinstance(value, ast.Constant) and isinstance(value.value, str):
                found(value.value)


def module_files(roots, module):
    for root in roots:
        base = root.joinpath(*module.split("."))
        yield base.with_suffix(".py")
        yield base / "__init__.py"


pp = src / "pyproject.toml"
if not pp.is_file():
    sys.exit(3)
data = tomllib.loads(pp.read_text(encoding="utf-8"))
project = data.get("project", {})
if isinstance(project.get("version"), str):
    found(project["version"])
if "version" not in project.get("dynamic", []):
    sys.exit(3)
tool = data.get("tool", {})
backend = data.get("build-system", {}).get("build-backend", "")
if backend.startswith("flit_core"):
    # flit: __version__ of the module named like the project (or tool.flit.module.name).
    module = tool.get("flit", {}).get("module", {}).get("name") or str(project.get("name", "")).replace("-", "_")
    constant(module_files([src, src / "src"], module), ("__version__",))
    sys.exit(3)
if backend.startswith("hatchling"):
    # hatch: the file of tool.hatch.version.path, its __version__ or VERSION.
    path = tool.get("hatch", {}).get("version", {}).get("path")
    if isinstance(path, str):
        constant([src / path], ("__version__", "VERSION"))
    sys.exit(3)
setuptools = tool.get("setuptools", {})
dynamic = setuptools.get("dynamic", {}).get("version", {})
if not isinstance(dynamic, dict):
    sys.exit(3)
if isinstance(dynamic.get("file"), (str, list)):
    files = dynamic["file"] if isinstance(dynamic["file"], list) else [dynamic["file"]]
    found((src / files[0]).read_text(encoding="utf-8"))
attr = dynamic.get("attr")
if not isinstance(attr, str) or "." not in attr:
    sys.exit(3)
module, _, name = attr.rpartition(".")
dirs = setuptools.get("package-dir", {})
constant(module_files([src / dirs.get("", "."), src / "src"], module), (name,))
sys.exit(3)
