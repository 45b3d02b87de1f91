"""Student content made safe to show: what a graded notebook holds is hostile text.

``SanitizeNotebook`` runs in autograde after the notebook executed: every markdown cell's HTML and
every output's HTML or markdown goes through nbconvert's sanitiser (``clean_html``: no script, no
event handler, no ``javascript:`` link, disallowed tags shown as text), and outputs keep only the
kinds of data that cannot run code (plain text, sanitised HTML and markdown, LaTeX, raster images).
The formgrader, feedback, the class page and JupyterLab then show the graded notebook without ever
running what a student wrote, whatever renders it and however it is configured.
"""

from __future__ import annotations

from typing import Any

from nbconvert.filters import clean_html
from nbformat import NotebookNode
from nbgrader.preprocessors import NbGraderPreprocessor

CLEANED = frozenset({"text/html", "text/markdown"})
SHOWN_AS_IS = frozenset({"text/plain", "text/latex", "image/png", "image/jpeg", "image/gif"})


def safe_data(data: dict[str, Any]) -> dict[str, Any]:
    """An output's data with what can run code removed (SVG, JavaScript, widgets) and HTML sanitised."""
    kept = {
        kind: clean_html(value) if kind in CLEANED else value
        for kind, value in data.items()
        if kind in CLEANED or kind in SHOWN_AS_IS
    }
    return kept or {"text/plain": "[output removed by the autograder: it could run code when shown]"}


class SanitizeNotebook(NbGraderPreprocessor):
    """See the module docstring."""

    def preprocess_cell(self, cell: NotebookNode, resources: dict, index: int) -> tuple[NotebookNode, dict]:
        if cell.cell_type == "markdown":
            cell.source = clean_html(cell.source)
        for output in cell.get("outputs", []):
            if "data" in output:
                output.data = safe_data(output.data)
        for name, data in cell.get("attachments", {}).items():  # pictures in markdown: raster ones only
            cell.attachments[name] = {kind: value for kind, value in data.items() if kind in SHOWN_AS_IS}
        return cell, resources
