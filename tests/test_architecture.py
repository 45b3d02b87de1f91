"""Dependencies point one way: the lesson library, then the tools, then the autograder (README, "Architecture").

Every import counts, the ones inside functions too: ``course`` (what the lessons import) imports
neither ``course_tools`` nor ``autograder``; ``course_tools`` does not import ``autograder``; the
modules of ``course`` import each other without a cycle; the lesson notebooks import only ``course``.
"""

import ast
import json
from graphlib import CycleError, TopologicalSorter
from pathlib import Path

import pytest

from autograder.checks import split_checks

ROOT = Path(__file__).resolve().parents[1]
LAYERS = ("course", "course_tools", "autograder")  # each may import the ones before it, never after


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


def package_imports(root: Path, package: str) -> dict[str, set[str]]:
    """Module name -> the project modules (of any layer) it imports, for every module of ``package``."""
    graph = {}
    for path in sorted((root / package).glob("*.py")):
        module = f"{package}.{path.stem}" if path.stem != "__init__" else package
        graph[module] = {
            name for name in imported_modules(path.read_text()) if name.split(".")[0] in LAYERS and name != module
        }
    return graph


def wrong_way_imports(root: Path) -> list[str]:
    """ "module imports name" for every import of a layer above the importing module's own."""
    wrong = []
    for rank, package in enumerate(LAYERS):
        for module, names in package_imports(root, package).items():
            wrong += [f"{module} imports {name}" for name in sorted(names) if LAYERS.index(name.split(".")[0]) > rank]
    return wrong


def course_module_cycle(root: Path) -> list[str]:
    """A cycle among the modules of ``course`` (imports of the package itself left out), or []."""
    modules = package_imports(root, "course")
    graph = {
        module: {name for name in names if name in modules and name != "course"} for module, names in modules.items()
    }
    try:
        TopologicalSorter(graph).prepare()
    except CycleError as error:
        return list(error.args[1])
    return []


def test_imports_point_from_the_autograder_to_the_tools_to_the_library():
    assert wrong_way_imports(ROOT) == []


def test_the_lesson_library_has_no_import_cycle():
    assert course_module_cycle(ROOT) == []


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
        outside = {name for name in checks_imports if not name.startswith(("course.", "autograder.lesson_checks"))}
        assert not outside, f"{path.relative_to(ROOT)}'s checks: {sorted(outside)}"


def test_the_checks_catch_a_wrong_way_import_and_a_cycle(tmp_path):
    for package in LAYERS:
        (tmp_path / package).mkdir()
        (tmp_path / package / "__init__.py").write_text("")
    (tmp_path / "course" / "data.py").write_text("def load():\n    from course_tools.bench import run\n")
    (tmp_path / "course" / "pipeline.py").write_text("import course.data\n")
    (tmp_path / "course" / "augment.py").write_text("from course import pipeline\n")
    (tmp_path / "course_tools" / "gates.py").write_text("from autograder.report import report\n")
    assert wrong_way_imports(tmp_path) == [
        "course.data imports course_tools.bench",
        "course.data imports course_tools.bench.run",
        "course_tools.gates imports autograder.report",
        "course_tools.gates imports autograder.report.report",
    ]
    assert course_module_cycle(tmp_path) == []
    (tmp_path / "course" / "data.py").write_text("from course.augment import flip\n")
    assert set(course_module_cycle(tmp_path)) == {"course.data", "course.augment", "course.pipeline"}
