"""Reads a package's imports with ast and names what breaks its declared shape.

That is: import circles, imports up the order of rooms, tools imported by the product, imports
hidden in functions, and modules too long to read at once.
"""

from __future__ import annotations

import ast
from dataclasses import dataclass, field
from pathlib import Path

TOP = "top"


@dataclass(frozen=True)
class Import:
    """One import statement's reach into the package (or outside it), with where it is written."""

    importer: str
    target: str | None
    source: str
    written: str
    names: tuple[str, ...]
    file: str
    line: int
    function: str | None
    type_only: bool = False

    @property
    def where(self) -> str:
        """The file:line a reader opens to find this import."""
        return f"{self.file}:{self.line}"

    def describe(self) -> str:
        """One line naming the import, the module it reaches and where it is written."""
        what = f"import {self.written}"
        if self.names:
            what = f"from {self.written} import {', '.join(self.names)}"
        resolved = f" (= {self.source})" if self.written.startswith(".") else ""
        inside = f" inside {self.function}()" if self.function else ""
        guarded = " under TYPE_CHECKING" if self.type_only else ""
        return f"{self.where}: {self.importer} has `{what}`{resolved}{inside}{guarded}"


@dataclass(frozen=True)
class Shape:
    """A package's declared order: rooms lowest first, the top modules, the tools and who starts them."""

    package: str
    rooms: tuple[str, ...]
    top: frozenset[str] = frozenset({"", "cli", "__main__"})
    tools: frozenset[str] = frozenset()
    tool_starters: frozenset[str] = frozenset()

    def room_of(self, module: str) -> str | None:
        """A module's room: the first name under the package, TOP for the top modules, None if undeclared."""
        rest = module[len(self.package) + 1 :] if module != self.package else ""
        first = rest.split(".")[0]
        if rest in self.top:
            return TOP
        if first in self.rooms or first in self.tools:
            return first
        return None

    def rank(self, room: str) -> int:
        """Height of a product room: its place in the declared order, the top above them all."""
        return len(self.rooms) if room == TOP else self.rooms.index(room)


@dataclass
class PackageImports:
    """Every module of a package and every import written in it."""

    package: str
    root: Path
    modules: dict[str, Path] = field(default_factory=dict)
    imports: list[Import] = field(default_factory=list)

    def edges(self) -> dict[str, list[Import]]:
        """Module -> its imports of the package's own modules (the graph the circles are looked for in)."""
        graph: dict[str, list[Import]] = {name: [] for name in self.modules}
        for imp in self.imports:
            if imp.target is not None:
                graph[imp.importer].append(imp)
        return graph


def module_name(package: str, root: Path, path: Path) -> str:
    """Dotted name of a file under the package root (a folder's __init__ names the folder)."""
    parts = list(path.relative_to(root).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join([package, *parts])


def read_package(root: Path, package: str) -> PackageImports:
    """Parse every .py under root (the folder of the package called package) and record its imports."""
    found = PackageImports(package=package, root=root)
    files = sorted(root.rglob("*.py"))
    for path in files:
        found.modules[module_name(package, root, path)] = path
    for path in files:
        name = module_name(package, root, path)
        tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
        shown = path.relative_to(root.parent).as_posix()
        _ImportReader(found, name, path.name == "__init__.py", shown).visit(tree)
    return found


class _ImportReader(ast.NodeVisitor):
    """Walks one module's tree, noting each import and the function (if any) it sits in."""

    def __init__(self, found: PackageImports, module: str, is_package: bool, shown: str):
        self.found = found
        self.module = module
        self.is_package = is_package
        self.shown = shown
        self.scope: list[tuple[str, bool]] = []
        self.type_only = False

    def _enter(self, node: ast.AST, name: str, is_function: bool) -> None:
        self.scope.append((name, is_function))
        self.generic_visit(node)
        self.scope.pop()

    def visit_If(self, node: ast.If) -> None:
        """An import under `if TYPE_CHECKING:` never runs but still ties two modules: noted, and marked."""
        test = node.test
        if not (isinstance(test, ast.Name) and test.id == "TYPE_CHECKING"
                or isinstance(test, ast.Attribute) and test.attr == "TYPE_CHECKING"):
            self.generic_visit(node)
            return
        self.visit(test)
        outer, self.type_only = self.type_only, True
        for statement in node.body:
            self.visit(statement)
        self.type_only = outer
        for statement in node.orelse:
            self.visit(statement)

    def visit_ClassDef(self, node: ast.ClassDef) -> None:
        self._enter(node, node.name, False)

    def visit_FunctionDef(self, node: ast.FunctionDef) -> None:
        self._enter(node, node.name, True)

    def visit_AsyncFunctionDef(self, node: ast.AsyncFunctionDef) -> None:
        self._enter(node, node.name, True)

    def visit_Lambda(self, node: ast.Lambda) -> None:
        self._enter(node, "<lambda>", True)

    def _note(self, source: str, written: str, names: tuple[str, ...], target: str | None, line: int) -> None:
        inside = any(is_function for _, is_function in self.scope)
        function = ".".join(name for name, _ in self.scope) if inside else None
        self.found.imports.append(
            Import(self.module, target, source, written, names, self.shown, line, function, self.type_only))

    def _own_module(self, dotted: str) -> str | None:
        """The longest prefix of dotted that is a module of the package, or None when it lies outside."""
        parts = dotted.split(".")
        for end in range(len(parts), 0, -1):
            candidate = ".".join(parts[:end])
            if candidate in self.found.modules:
                return candidate
        return None

    def visit_Import(self, node: ast.Import) -> None:
        for alias in node.names:
            self._note(alias.name, alias.name, (), self._own_module(alias.name), node.lineno)

    def visit_ImportFrom(self, node: ast.ImportFrom) -> None:
        if node.level:
            here = self.module.split(".")
            base = here if self.is_package else here[:-1]
            base = base[: len(base) - (node.level - 1)]
            source = ".".join([*base, *([node.module] if node.module else [])])
        else:
            source = node.module or ""
        written = "." * node.level + (node.module or "")
        names = []
        for alias in node.names:
            submodule = f"{source}.{alias.name}"
            if submodule in self.found.modules:
                self._note(submodule, written, (alias.name,), submodule, node.lineno)
            else:
                names.append(alias.name)
        if names:
            self._note(source, written, tuple(names), self._own_module(source), node.lineno)


def circles(found: PackageImports) -> list[str]:
    """One message per import circle: the modules around it and each import that closes it, with file:line."""
    graph = found.edges()
    messages = []
    for group in _strongly_connected(graph):
        if len(group) == 1:
            only = next(iter(group))
            if not any(imp.target == only for imp in graph[only]):
                continue
        loop = _one_loop(graph, group)
        around = " -> ".join([imp.importer for imp in loop] + [loop[0].importer])
        steps = "; ".join(imp.describe() for imp in loop)
        messages.append(f"import circle {around}: {steps}")
    return sorted(messages)


def _strongly_connected(graph: dict[str, list[Import]]) -> list[set[str]]:
    """Tarjan's groups of modules that reach each other (iterative, so no recursion limit is hit)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    groups: list[set[str]] = []
    counter = 0
    for start in sorted(graph):
        if start in index:
            continue
        work = [(start, iter(sorted({imp.target for imp in graph[start]})))]
        index[start] = low[start] = counter
        counter += 1
        stack.append(start)
        on_stack.add(start)
        while work:
            node, neighbours = work[-1]
            advanced = False
            for nxt in neighbours:
                if nxt not in index:
                    index[nxt] = low[nxt] = counter
                    counter += 1
                    stack.append(nxt)
                    on_stack.add(nxt)
                    work.append((nxt, iter(sorted({imp.target for imp in graph[nxt]}))))
                    advanced = True
                    break
                if nxt in on_stack:
                    low[node] = min(low[node], index[nxt])
            if advanced:
                continue
            work.pop()
            if work:
                parent = work[-1][0]
                low[parent] = min(low[parent], low[node])
            if low[node] == index[node]:
                group = set()
                while True:
                    member = stack.pop()
                    on_stack.discard(member)
                    group.add(member)
                    if member == node:
                        break
                groups.append(group)
    return groups


def _one_loop(graph: dict[str, list[Import]], group: set[str]) -> list[Import]:
    """The shortest circle through the group's first module, as the imports that walk it."""
    start = min(group)
    came_by: dict[str, Import] = {}
    frontier = [start]
    while frontier:
        following = []
        for node in frontier:
            for imp in sorted(graph[node], key=lambda i: (i.target, i.line)):
                if imp.target not in group:
                    continue
                if imp.target == start:
                    loop = [imp]
                    while loop[0].importer != start:
                        loop.insert(0, came_by[loop[0].importer])
                    return loop
                if imp.target not in came_by:
                    came_by[imp.target] = imp
                    following.append(imp.target)
        frontier = following
    raise AssertionError(f"no circle found in {sorted(group)}")


def order_breaches(found: PackageImports, shape: Shape) -> list[str]:
    """One message per import up to a higher room or into a tool, and per module in no declared room."""
    messages = []
    for name in sorted(found.modules):
        if shape.room_of(name) is None:
            messages.append(f"{found.modules[name].relative_to(found.root.parent).as_posix()}: "
                            f"{name} is in no declared room")
    for imp in found.imports:
        if imp.target is None:
            continue
        mine, theirs = shape.room_of(imp.importer), shape.room_of(imp.target)
        if mine is None or theirs is None:
            continue
        if theirs in shape.tools:
            if mine not in shape.tools and imp.importer not in shape.tool_starters:
                messages.append(f"{imp.describe()}: the product imports the tool {theirs}")
        elif mine in shape.tools:
            if theirs == TOP:
                messages.append(f"{imp.describe()}: the tool {mine} imports the top of the package")
        elif shape.rank(theirs) > shape.rank(mine):
            messages.append(f"{imp.describe()}: room {mine} reaches up to room {theirs}")
    return messages


def imports_in_functions(found: PackageImports, allowed: dict[tuple[str, str, str], str]) -> list[str]:
    """One message per import written in a function, unless (module, function, source) is allowed."""
    messages = []
    for imp in found.imports:
        if imp.function is None:
            continue
        if any(_allows(key, imp) for key in allowed):
            continue
        messages.append(f"{imp.describe()}: an import inside a function")
    return messages


def unused_allowances(found: PackageImports, allowed: dict[tuple[str, str, str], str]) -> list[str]:
    """Allowances no import uses any more, so the allow-list shrinks when the code does."""
    return [f"{key} ({reason})" for key, reason in allowed.items()
            if not any(imp.function is not None and _allows(key, imp) for imp in found.imports)]


def _allows(key: tuple[str, str, str], imp: Import) -> bool:
    """Whether an allowance (module, function, imported name; '*' matches any) covers an import."""
    module, function, source = key
    return (module == imp.importer
            and function in ("*", imp.function)
            and (source == "*" or imp.source == source or imp.source.startswith(source + ".")))


def long_modules(root: Path, limit: int) -> list[str]:
    """One message per .py under root longer than limit lines (counted as wc -l does)."""
    messages = []
    for path in sorted(root.rglob("*.py")):
        lines = path.read_bytes().count(b"\n")
        if lines > limit:
            messages.append(f"{path.relative_to(root.parent).as_posix()} has {lines} lines (limit {limit})")
    return messages
