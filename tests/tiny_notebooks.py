"""Tiny lesson-shaped notebooks for the notebook, metrics and gates tests."""

from __future__ import annotations

from pathlib import Path

import nbformat
import papermill

DEFAULT_PARAMETERS = 'profile = None\noutput_dir = "figures"'


def write_notebook(path: Path, *cells: str, parameters: str | None = DEFAULT_PARAMETERS) -> Path:
    """A notebook with a ``parameters``-tagged cell (unless ``parameters`` is None) then ``cells``."""
    notebook = nbformat.v4.new_notebook()
    notebook.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3", "language": "python"}
    if parameters is not None:
        parameter_cell = nbformat.v4.new_code_cell(parameters)
        parameter_cell.metadata["tags"] = ["parameters"]
        notebook.cells.append(parameter_cell)
    notebook.cells.extend(nbformat.v4.new_code_cell(source) for source in cells)
    path.parent.mkdir(parents=True, exist_ok=True)
    nbformat.write(notebook, str(path))
    return path


def write_lesson(root: Path, lesson: str, *cells: str, folder: str = "solutions", **kwargs) -> Path:
    """``root/<folder>/<lesson>/<lesson>.ipynb``, the layout ``course_tools.notebooks`` discovers."""
    return write_notebook(root / folder / lesson / f"{lesson}.ipynb", *cells, **kwargs)


def execute(source: Path, output: Path, **parameters) -> Path:
    """Run ``source`` with papermill (kernel ``python3``) and return ``output``."""
    papermill.execute_notebook(
        str(source), str(output), parameters=parameters, kernel_name="python3", progress_bar=False
    )
    return output
