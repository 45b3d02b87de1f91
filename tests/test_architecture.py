"""Dependencies point one way: the lesson library, then the tools, then the autograder (README, "Architecture").

Every import counts, the ones inside functions too: ``course`` (what the lessons import) imports
neither ``course_tools`` nor ``autograder``; ``course_tools`` does not import ``autograder``; no module of
any package is part of an import cycle; the autograder's subpackages are layered (``AUTOGRADER_LAYERS``), so
nothing on the grading path imports ``samples`` or ``bench``; the modules that run in a student's kernel
import only the standard library and each other; the lesson notebooks import only ``course``.
"""

import ast
import json
import sys
from graphlib import CycleError, TopologicalSorter
from pathlib import Path

import pytest

from autograder.grading.checks import split_checks

ROOT = Path(__file__).resolve().parents[1]
LAYERS = ("course", "course_tools", "autograder")  # each may import the ones before it, never after
# The autograder's parts, each importing only the ones before it: the shared modules at its top, the
# sandbox, the LMS, grading, then what uses grading's results, then the sample class and the benchmarks
# (never on the grading path), then the commands.
AUTOGRADER_LAYERS = (
    ("autograder.courseroot", "autograder.cells", "autograder.flags"),
    ("autograder.sandbox",),
    ("autograder.lms",),
    ("autograder.grading",),
    ("autograder.release", "autograder.reports"),
    ("autograder.samples",),
    ("autograder.bench",),
    ("autograder.cli", "autograder.__main__"),
)
# What runs inside the student's kernel, where the autograder's other modules and packages are not wanted.
KERNEL_SIDE = {"autograder.sandbox.kernel_guard", "autograder.sandbox.kernel_probe", "autograder.sandbox.kernel_watch"}


def imported_modules(source: str) -> set[str]:
    """Absolute names of every module ``source`` imports, at any depth of the code."""
    names = set()
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            names.add(node.module)
            names.update(f"{node.module}.{alias.name}" for alias in node.names)
    return names


def module_name(root: Path, path: Path) -> str:
    parts = path.relative_to(root).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def package_imports(root: Path, package: str) -> dict[str, set[str]]:
    """Module name -> the project modules (of any layer) it imports, for every module of ``package`` and
    its subpackages."""
    graph = {}
    for path in sorted((root / package).rglob("*.py")):
        module = module_name(root, path)
        graph[module] = {
            name for name in imported_modules(path.read_text()) if name.split(".")[0] in LAYERS and name != module
        }
    return graph


def all_imports(root: Path) -> dict[str, set[str]]:
    return {module: names for package in LAYERS for module, names in package_imports(root, package).items()}


def wrong_way_imports(root: Path) -> list[str]:
    """ "module imports name" for every import of a layer above the importing module's own."""
    wrong = []
    for rank, package in enumerate(LAYERS):
        for module, names in package_imports(root, package).items():
            wrong += [f"{module} imports {name}" for name in sorted(names) if LAYERS.index(name.split(".")[0]) > rank]
    return wrong


def module_cycle(root: Path) -> list[str]:
    """A cycle among the project's modules (imports of packages, which every submodule runs, left out), or []."""
    modules = all_imports(root)
    packages = {module_name(root, path) for package in LAYERS for path in (root / package).rglob("__init__.py")}
    graph = {
        module: {name for name in names if name in modules and name not in packages}
        for module, names in modules.items()
    }
    try:
        TopologicalSorter(graph).prepare()
    except CycleError as error:
        return list(error.args[1])
    return []


def autograder_layer(module: str) -> int:
    for rank, parts in enumerate(AUTOGRADER_LAYERS):
        if any(module == part or module.startswith(part + ".") for part in parts):
            return rank
    raise AssertionError(f"{module} is in no layer of AUTOGRADER_LAYERS: add it there")


def autograder_upward_imports(root: Path) -> list[str]:
    """ "module imports name" for every import of an autograder part layered above the importing module's."""
    upward = []
    for module, names in package_imports(root, "autograder").items():
        if module == "autograder":
            continue
        for name in sorted(names):
            if name.startswith("autograder.") and autograder_layer(name) > autograder_layer(module):
                upward.append(f"{module} imports {name}")
    return upward


def kernel_side_imports(root: Path) -> list[str]:
    """ "module imports name" for every import of a kernel-side module that is neither the standard library
    nor another kernel-side module."""
    outside = []
    for module in sorted(KERNEL_SIDE):
        path = root / (module.replace(".", "/") + ".py")
        for name in sorted(imported_modules(path.read_text())):
            top = name.split(".")[0]
            if top not in sys.stdlib_module_names and top != "__future__" and name not in KERNEL_SIDE:
                if not any(name.startswith(side + ".") for side in KERNEL_SIDE):
                    outside.append(f"{module} imports {name}")
    return outside


def test_imports_point_from_the_autograder_to_the_tools_to_the_library():
    assert wrong_way_imports(ROOT) == []


def test_no_module_is_part_of_an_import_cycle():
    assert module_cycle(ROOT) == []


def test_the_autograders_parts_import_only_the_parts_below_them():
    assert autograder_upward_imports(ROOT) == []


def test_the_kernel_side_modules_import_only_the_standard_library():
    assert kernel_side_imports(ROOT) == []


def test_the_library_docstring_lists_every_module():
    listed = (ROOT / "course" / "__init__.py").read_text()
    modules = {path.stem for path in (ROOT / "course").glob("*.py")} - {"__init__", "__main__"}
    assert {module for module in modules if f"``{module}``" not in listed} == set()


def project_imports(code: str) -> set[str]:
    code = "\n".join(line for line in code.splitlines() if not line.lstrip().startswith(("!", "%")))
    return {name for name in imported_modules(code) if name.split(".")[0] in LAYERS}


@pytest.mark.parametrize("folder", ["solutions", "lessons"])
def test_lesson_notebooks_import_only_the_lesson_library(folder):
    """What runs in a student's kernel imports only ``course``; hidden checks, which run in the grader,
    may also use the checks the lessons share."""
    for path in sorted((ROOT / folder).glob("*/*.ipynb")):
        cells = json.loads(path.read_text())["cells"]
        sources = ["".join(cell["source"]) for cell in cells if cell["cell_type"] == "code"]
        parts = [split_checks(source) for source in sources]
        kernel = "\n".join(
            source if part is None else part.kernel_source for source, part in zip(sources, parts, strict=True)
        )
        checks = "\n".join(part.checks for part in parts if part is not None)
        kernel_imports, checks_imports = project_imports(kernel), project_imports(checks)
        assert {name.split(".")[0] for name in kernel_imports} <= {"course"}, (
            f"{path.relative_to(ROOT)}: {sorted(kernel_imports)}"
        )
        outside = {
            name for name in checks_imports if not name.startswith(("course.", "autograder.grading.lesson_checks"))
        }
        assert not outside, f"{path.relative_to(ROOT)}'s checks: {sorted(outside)}"


def test_the_checks_catch_a_wrong_way_import_and_a_cycle(tmp_path):
    for package in LAYERS:
        (tmp_path / package).mkdir()
        (tmp_path / package / "__init__.py").write_text("")
    (tmp_path / "course" / "data.py").write_text("def load():\n    from course_tools.bench import run\n")
    (tmp_path / "course" / "pipeline.py").write_text("import course.data\n")
    (tmp_path / "course" / "augment.py").write_text("from course import pipeline\n")
    (tmp_path / "course_tools" / "gates.py").write_text("from autograder.reports.report import report\n")
    assert wrong_way_imports(tmp_path) == [
        "course.data imports course_tools.bench",
        "course.data imports course_tools.bench.run",
        "course_tools.gates imports autograder.reports.report",
        "course_tools.gates imports autograder.reports.report.report",
    ]
    assert module_cycle(tmp_path) == []
    (tmp_path / "course" / "data.py").write_text("from course.augment import flip\n")
    assert set(module_cycle(tmp_path)) == {"course.data", "course.augment", "course.pipeline"}


def test_the_checks_catch_a_cycle_and_an_upward_import_between_the_autograders_parts(tmp_path):
    for package in ("grading", "samples", "sandbox"):
        (tmp_path / "autograder" / package).mkdir(parents=True)
        (tmp_path / "autograder" / package / "__init__.py").write_text("")
    (tmp_path / "autograder" / "grading" / "grader.py").write_text("from autograder.samples.plan import make\n")
    (tmp_path / "autograder" / "samples" / "plan.py").write_text("from autograder.grading import grader\n")
    (tmp_path / "autograder" / "sandbox" / "kernel_probe.py").write_text("import json\nimport numpy\n")
    (tmp_path / "autograder" / "sandbox" / "kernel_watch.py").write_text("from autograder.grading import grader\n")
    (tmp_path / "autograder" / "sandbox" / "kernel_guard.py").write_text(
        "import os\nfrom autograder.sandbox.kernel_probe import dumps\n"
    )
    assert set(module_cycle(tmp_path)) == {"autograder.grading.grader", "autograder.samples.plan"}
    assert autograder_upward_imports(tmp_path) == [
        "autograder.grading.grader imports autograder.samples.plan",
        "autograder.grading.grader imports autograder.samples.plan.make",
        "autograder.sandbox.kernel_watch imports autograder.grading",
        "autograder.sandbox.kernel_watch imports autograder.grading.grader",
    ]
    assert kernel_side_imports(tmp_path) == [
        "autograder.sandbox.kernel_probe imports numpy",
        "autograder.sandbox.kernel_watch imports autograder.grading",
        "autograder.sandbox.kernel_watch imports autograder.grading.grader",
    ]
