"""The layout of `niljax/`, read statically (`ast`, no import of jax or of niljax itself; well under a second):

- no import cycle, between the packages ("rooms": `niljax.train`, `niljax.cli`, ...) or between the modules of one
  package;
- no private name (`_x`) imported, or read as an attribute of an imported module, from outside the package that
  defines it (`niljax._runtime` belongs to the root package, so every part of niljax may use it; a `_name` in
  `niljax.train.run` belongs to `niljax.train`);
- every import between rooms is one the table in docs/architecture.md allows (`ALLOWED` below is that table;
  a test checks the two agree), so data and control flow one way: CLI -> tools -> stages -> core.

Every import counts, at the top of a module or inside a function (the CLI imports its commands lazily; a circle
through lazy imports is still a circle), and so does a module named in a string (the packages' lazy exports).

`check_tree(path_of_a_niljax_folder)` returns the problems as readable lines; run it on another checkout with
`python tests/test_architecture.py PATH/niljax`.
"""

from __future__ import annotations

import ast
import dataclasses
import functools
import re
import sys
from collections import defaultdict
from pathlib import Path

PACKAGE_DIR = Path(__file__).resolve().parents[1] / "niljax"
ARCHITECTURE_DOC = Path(__file__).resolve().parents[1] / "docs" / "architecture.md"

# Who may import whom, room by room (a room: the root package `niljax`, a top-level module or a subpackage).
# Kept equal to the table in docs/architecture.md by `test_docs_table_matches_allowed_imports`.
CORE = {"niljax", "niljax._runtime", "niljax._lazy", "niljax.user_errors", "niljax.data"}
STAGES = {"niljax.robots", "niljax.sim", "niljax.render", "niljax.encoders", "niljax.reward", "niljax.reference",
          "niljax.learner", "niljax.train"}
ALLOWED: dict[str, set[str]] = {
    "niljax": {"niljax._runtime"},
    "niljax._runtime": set(),
    "niljax._lazy": set(),
    "niljax.user_errors": set(),
    "niljax.data": set(),  # shipped files (mocap walks, A1 model, spec folders): a leaf
    "niljax.robots": CORE,
    "niljax.sim": CORE | {"niljax.robots"},
    "niljax.render": CORE | {"niljax.robots"},
    "niljax.encoders": CORE,
    "niljax.reward": CORE | {"niljax.encoders"},
    "niljax.reference": CORE | {"niljax.robots", "niljax.sim", "niljax.render", "niljax.encoders", "niljax.reward"},
    "niljax.learner": CORE,
    "niljax.train": CORE | {"niljax.robots", "niljax.sim", "niljax.render", "niljax.encoders", "niljax.reward",
                            "niljax.reference", "niljax.learner"},
    "niljax.diagnostics": CORE | STAGES,
    "niljax.deploy": CORE | STAGES,  # after training: export / play / sim2sim; only the CLI imports it
    "niljax.doctor": CORE | STAGES,
    "niljax.cli": CORE | STAGES | {"niljax.diagnostics", "niljax.doctor", "niljax.deploy"},
}


@dataclasses.dataclass(frozen=True)
class Import:
    importer: str  # module doing the import, e.g. "niljax.train.cli"
    target: str  # module imported, e.g. "niljax.train.run"
    name: str | None  # the name taken from it (`from target import name`), None for a whole module
    line: int
    path: Path

    def where(self) -> str:
        return f"{self.path.name}:{self.line}"


def module_names(root: Path) -> dict[str, Path]:
    """{dotted module name: file} of every module under the package folder `root` (named after the folder)."""
    modules = {}
    for path in sorted(root.rglob("*.py")):
        parts = (root.name, *path.relative_to(root).with_suffix("").parts)
        if parts[-1] == "__init__":
            parts = parts[:-1]
        modules[".".join(parts)] = path
    return modules


def _is_package(modules: dict[str, Path], name: str) -> bool:
    return modules[name].name == "__init__.py"


def _named_modules(node: ast.AST) -> list[tuple[str, int]]:
    """Module names held as strings where code imports them by name: the values of a dict (a package's lazy
    exports, a registry {name: (module, function)}) and the argument of `import_module(...)`. A string elsewhere
    (`python -m niljax.cli` in a subprocess's argument list) is not an import."""
    holders: list[ast.AST] = []
    if isinstance(node, ast.Dict):
        holders = [v for v in node.values if v is not None]
    elif isinstance(node, ast.Call) and node.args and (
            getattr(node.func, "attr", None) == "import_module" or getattr(node.func, "id", None) == "import_module"):
        holders = [node.args[0]]
    found = []
    for holder in holders:
        for leaf in ast.walk(holder) if isinstance(holder, ast.Tuple) else [holder]:
            if isinstance(leaf, ast.Constant) and isinstance(leaf.value, str) and "." in leaf.value:
                found.append((leaf.value, leaf.lineno))
    return found


def collect_imports(root: Path) -> list[Import]:
    """Every import of a module of the package at `root` by another, wherever it is written."""
    return list(_collect_imports(Path(root).resolve(), _tree_stamp(Path(root))))


def _tree_stamp(root: Path) -> tuple[tuple[str, int], ...]:
    """(file, mtime_ns) of every module: the parse below is reused until a file changes."""
    return tuple((str(p), p.stat().st_mtime_ns) for p in sorted(root.rglob("*.py")))


@functools.lru_cache(maxsize=8)
def _collect_imports(root: Path, stamp: tuple[tuple[str, int], ...]) -> tuple[Import, ...]:
    modules = module_names(root)
    top = root.name
    found: list[Import] = []
    for importer, path in modules.items():
        tree = ast.parse(path.read_text(), filename=str(path))
        package = importer if _is_package(modules, importer) else importer.rpartition(".")[0]
        aliases: dict[str, str] = {}  # local name -> module, for attribute reads like `run._private`
        for node in ast.walk(tree):
            if isinstance(node, ast.Import):
                for alias in node.names:
                    if alias.name == top or alias.name.startswith(top + "."):
                        found.append(Import(importer, alias.name, None, node.lineno, path))
                        if alias.asname:
                            aliases[alias.asname] = alias.name
            elif isinstance(node, ast.ImportFrom):
                if node.level:
                    base = package.split(".")[: len(package.split(".")) - node.level + 1]
                    source = ".".join(base + ([node.module] if node.module else []))
                else:
                    source = node.module or ""
                if not (source == top or source.startswith(top + ".")):
                    continue
                for alias in node.names:
                    submodule = f"{source}.{alias.name}"
                    if submodule in modules:  # `from niljax.train import run`: the module itself
                        found.append(Import(importer, submodule, None, node.lineno, path))
                        aliases[alias.asname or alias.name] = submodule
                    else:
                        found.append(Import(importer, source, alias.name, node.lineno, path))
            for name, line in _named_modules(node):
                if name in modules:  # a module named in a string that something imports by name
                    found.append(Import(importer, name, None, line, path))
        for node in ast.walk(tree):  # `import niljax.train.run as run; run._checkpoint_manager`
            if (isinstance(node, ast.Attribute) and isinstance(node.value, ast.Name) and node.value.id in aliases
                    and node.attr.startswith("_") and not node.attr.startswith("__")):
                found.append(Import(importer, aliases[node.value.id], node.attr, node.lineno, path))
    return tuple(imp for imp in found if imp.target != imp.importer)


def room(module: str) -> str:
    """The room a module lives in: `niljax` (the root package), `niljax.cli`, `niljax.train`, ..."""
    return ".".join(module.split(".")[:2])


def _owner(module: str, name: str | None, modules: dict[str, Path]) -> str | None:
    """The package a private part of `module`.`name` belongs to (None when nothing in it is private)."""
    parts = module.split(".")
    for i, part in enumerate(parts[1:], start=1):
        if part.startswith("_") and not part.startswith("__"):
            return ".".join(parts[:i])  # a private module belongs to the package holding it
    if name is not None and name.startswith("_") and not name.startswith("__"):
        return module if _is_package(modules, module) else module.rpartition(".")[0]
    return None


def private_imports(root: Path) -> list[str]:
    """Private names (`_x`, or anything inside a `_x` module) used outside the package that defines them."""
    modules = module_names(root)
    problems = []
    for imp in collect_imports(root):
        owner = _owner(imp.target, imp.name, modules)
        if owner is not None and not (imp.importer == owner or imp.importer.startswith(owner + ".")):
            what = f"{imp.target}.{imp.name}" if imp.name else imp.target
            problems.append(f"private name {what} (private to {owner}) used by {imp.importer} ({imp.where()})")
    return sorted(set(problems))


def _cycles(edges: dict[str, set[str]]) -> list[list[str]]:
    """Strongly connected components with more than one node (Tarjan), each sorted, as a sorted list."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: list[list[str]] = []

    def visit(v: str) -> None:
        index[v] = low[v] = len(index)
        stack.append(v)
        on_stack.add(v)
        for w in sorted(edges.get(v, ())):
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in on_stack:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            component = []
            while True:
                w = stack.pop()
                on_stack.discard(w)
                component.append(w)
                if w == v:
                    break
            if len(component) > 1:
                found.append(sorted(component))

    for v in sorted(edges):
        if v not in index:
            visit(v)
    return sorted(found)


def _path_in(component: list[str], edges: dict[str, set[str]]) -> str:
    """One circle through a strongly connected component, as `a -> b -> a`, to show a reader where it runs."""
    members = set(component)
    start = component[0]
    path, seen = [start], {start}
    while True:
        nxt = sorted(w for w in edges.get(path[-1], ()) if w in members)
        back = [w for w in nxt if w == start]
        if back and len(path) > 1:
            return " -> ".join(path + [start])
        fresh = [w for w in nxt if w not in seen]
        if not fresh:  # every way on was seen: close at the first one seen (still a circle)
            w = nxt[0]
            return " -> ".join(path[path.index(w):] + [w])
        path.append(fresh[0])
        seen.add(fresh[0])


def import_cycles(root: Path) -> list[str]:
    """Circles between rooms, and between the modules of one room (a package's `__init__` naming its own modules
    for lazy export is not an arrow back: the submodules never need it)."""
    modules = module_names(root)
    room_edges: dict[str, set[str]] = defaultdict(set)
    module_edges: dict[str, set[str]] = defaultdict(set)
    for imp in collect_imports(root):
        a, b = room(imp.importer), room(imp.target)
        if a != b:
            room_edges[a].add(b)
        elif not (_is_package(modules, imp.importer) and imp.target.startswith(imp.importer + ".")):
            module_edges[imp.importer].add(imp.target)
    problems = [f"import cycle between packages {', '.join(c)}, e.g. {_path_in(c, room_edges)}"
                for c in _cycles(room_edges)]
    problems += [f"import cycle between modules {', '.join(c)}, e.g. {_path_in(c, module_edges)}"
                 for c in _cycles(module_edges)]
    return problems


def layer_violations(root: Path, allowed: dict[str, set[str]] | None = None) -> list[str]:
    """Imports between rooms that the table `allowed` ({room: rooms it may import}) does not list."""
    allowed = ALLOWED if allowed is None else allowed
    problems: dict[tuple[str, str], str] = {}  # one line per forbidden arrow, naming its first import
    for imp in sorted(collect_imports(root), key=lambda i: (i.importer, i.line)):
        a, b = room(imp.importer), room(imp.target)
        if a == b:
            continue
        if a not in allowed:
            problems.setdefault((a, ""), f"{a} is not in the table of docs/architecture.md (add its row)")
        elif b not in allowed[a]:
            problems.setdefault((a, b), f"{a} may not import {b} ({imp.importer} imports {imp.target}, {imp.where()})")
    return sorted(problems.values())


def check_tree(root: Path) -> list[str]:
    """Every problem of the package folder `root`: import cycles, private names across packages, layering."""
    return import_cycles(root) + private_imports(root) + layer_violations(root)


def docs_table(path: Path = ARCHITECTURE_DOC) -> dict[str, set[str]]:
    """The "package | layer | may import" table of docs/architecture.md as {room: rooms it may import}."""
    table: dict[str, set[str]] = {}
    rows = iter(path.read_text().splitlines())
    for line in rows:
        if re.match(r"^\|\s*package\s*\|\s*layer\s*\|\s*may import\s*\|", line):
            next(rows)  # the |---| line
            for row in rows:
                if not row.startswith("|"):
                    break
                cells = [c.strip() for c in row.strip().strip("|").split("|")]
                allowed: set[str] = set()
                for token in (t.strip() for t in cells[2].split(",")):
                    if token == "core":
                        allowed |= CORE
                    elif token == "every stage":
                        allowed |= STAGES
                    elif token not in ("—", "-", ""):
                        allowed.add(token.strip("`"))
                table[cells[0].strip("`")] = allowed
            break
    return table


# ---------------------------------------------------------------------------------------------------------- tests


def test_no_import_cycle() -> None:
    assert import_cycles(PACKAGE_DIR) == []


def test_no_private_name_across_packages() -> None:
    assert private_imports(PACKAGE_DIR) == []


def test_imports_follow_the_table() -> None:
    assert layer_violations(PACKAGE_DIR) == []


def test_docs_table_matches_allowed_imports() -> None:
    """docs/architecture.md's "Who may import whom" table is the `ALLOWED` this test enforces."""
    documented = docs_table()
    assert documented, "no `| package | layer | may import |` table in docs/architecture.md"
    assert {k: sorted(v) for k, v in documented.items()} == {k: sorted(v) for k, v in ALLOWED.items()}


def test_checker_finds_each_kind_of_problem(tmp_path: Path) -> None:
    """A small package with one of each problem: a circle between two rooms (through a lazy import inside a
    function), one between two modules of a room, a private name taken across rooms, an arrow the table does not
    allow, and a private name read off an imported module."""
    pkg = tmp_path / "niljax"
    files = {
        "__init__.py": "",
        "_runtime.py": "def configure(): pass\n",
        "cli.py": "def main():\n    from niljax.train.cli import train_main\n    return train_main()\n",
        "train/__init__.py": "",
        "train/cli.py": "def train_main():\n    from niljax.cli import main\n    from niljax import _runtime\n",
        "train/run.py": "from niljax.train import loop\ndef _manager(): pass\n",
        "train/loop.py": "import niljax.train.run\n",
        "sim/__init__.py": "",
        "sim/env.py": "from niljax.train.run import _manager\nimport niljax.train.run as run\nx = run._manager\n",
    }
    for name, text in files.items():
        (pkg / name).parent.mkdir(parents=True, exist_ok=True)
        (pkg / name).write_text(text)
    allowed = {"niljax": set(), "niljax._runtime": set(), "niljax.cli": {"niljax.train"},
               "niljax.train": {"niljax._runtime"}, "niljax.sim": set()}
    cycles = import_cycles(pkg)
    assert any("between packages niljax.cli, niljax.train" in c for c in cycles), cycles
    assert any("between modules niljax.train.loop, niljax.train.run" in c for c in cycles), cycles
    private = private_imports(pkg)
    assert len(private) == 2 and all("niljax.train.run._manager (private to niljax.train) used by niljax.sim.env"
                                     in p for p in private), private
    assert "niljax._runtime" not in " ".join(private)  # the root's private module is for every part of niljax
    layers = layer_violations(pkg, allowed)
    assert layers == ["niljax.sim may not import niljax.train (niljax.sim.env imports niljax.train.run, env.py:1)",
                      "niljax.train may not import niljax.cli (niljax.train.cli imports niljax.cli, cli.py:2)"]


if __name__ == "__main__":
    target = Path(sys.argv[1]) if len(sys.argv) > 1 else PACKAGE_DIR
    found = check_tree(target)
    print("\n".join(found) or "no problems")
    sys.exit(1 if found else 0)
