"""Repairing a submission against its released notebook before nbgrader grades it.

Students (and Colab) strip nbgrader metadata, delete, edit and move test cells, and move
answers. Each submitted cell is matched back to a released cell: by nbgrader grade id, by
cell id, by identical content, by similarity (test cells: their source; answer cells: the
prompt lines of the released stub), and finally by position between matched cells. Matched
cells get the release's nbgrader metadata back, read-only cells their released source,
unmatched released cells are put back, and everything is put in the lesson's order; extra
student cells are kept, each in front of the matched cell it preceded. nbgrader's
OverwriteCells then restores hidden tests from the gradebook. A notebook that keeps too few
of the lesson's own cells (text, set-up, tests) is flagged as another notebook.
"""

from __future__ import annotations

import copy
import difflib
from dataclasses import dataclass, field

import nbformat
from nbformat import NotebookNode

from autograder.cells import NBGRADER_CELL_KEYS, STUB_PLACEHOLDERS, grade_id, is_answer, is_read_only, nbgrader_metadata
from autograder.flags import Flag
from autograder.grading.submission import UnreadableNotebook, host_cell_ids, normalise

TEST_SIMILARITY = 0.8  # difflib ratio for a test cell to count as the released one
EXACT_RATIOS = 5  # candidate cells per test cell whose exact ratio is computed
PROMPT_COVERAGE = 0.8  # share of a stub's prompt lines an answer cell must keep
OWN_CELLS_KEPT = 0.3  # share of the lesson's own cells a submission of it keeps, at least


def prompt_lines(stub: NotebookNode) -> list[str]:
    """The lines of a released answer stub that a student's answer keeps (signature, docstring)."""
    return [
        line.strip()
        for line in stub.source.splitlines()
        if line.strip() and not any(marker in line for marker in STUB_PLACEHOLDERS)
    ]


@dataclass
class Matching:
    """Pairs of (submitted index, released index) plus what was noticed on the way."""

    by_submitted: dict[int, int] = field(default_factory=dict)
    by_released: dict[int, int] = field(default_factory=dict)
    flags: list[Flag] = field(default_factory=list)

    def pair(self, submitted: int, released: int) -> None:
        self.by_submitted[submitted] = released
        self.by_released[released] = submitted

    def free_submitted(self, cells: list[NotebookNode]) -> list[int]:
        return [i for i in range(len(cells)) if i not in self.by_submitted]


class SubmissionRepair:
    """Repairs submissions of one released notebook."""

    def __init__(self, release: NotebookNode) -> None:
        self.release = release
        self.cells = release.cells
        self.graded = [j for j, cell in enumerate(self.cells) if nbgrader_metadata(cell)]
        self.by_grade_id = {grade_id(self.cells[j]): j for j in self.graded}
        self.by_cell_id = {cell.get("id"): j for j, cell in enumerate(self.cells) if cell.get("id")}

    def repair(self, nb: NotebookNode) -> list[Flag]:
        """Repair ``nb`` in place; return the list of Flags describing what was done."""
        ids = [host_cell_ids(cell) for cell in nb.cells]
        flags = [flag for flag in [normalise(nb, self.release)] if flag]
        matching = Matching()
        self.match_grade_ids(nb.cells, matching)
        self.match_cell_ids(nb.cells, ids, matching)
        self.match_identical(nb.cells, matching)
        self.match_similar_tests(nb.cells, matching)
        self.match_answer_prompts(nb.cells, matching)
        kept = self.own_cells_kept(nb.cells)
        if kept < OWN_CELLS_KEPT:
            flags.append(
                Flag(
                    "wrong-notebook",
                    f"only {kept:.0%} of the lesson's own text, set-up "
                    "and test cells are in it: this looks like another notebook (wrong "
                    "lesson or an old copy)",
                    serious=True,
                )
            )
        elif any(j in matching.by_released for j in self.graded) or not self.graded:
            self.match_answers_by_position(nb.cells, matching)
        else:
            flags.append(
                Flag(
                    "wrong-notebook",
                    "none of the lesson's exercise cells were found: "
                    "this looks like another notebook (wrong lesson or an old copy)",
                    serious=True,
                )
            )
        flags += matching.flags
        flags += self.restore_metadata(nb.cells, matching)
        cells, order_flags = self.reassemble(nb.cells, matching)
        nb.cells = cells
        flags += order_flags
        try:
            nbformat.validate(nb)
        except nbformat.ValidationError as error:
            raise UnreadableNotebook(f"the notebook is still invalid after repair: {error.message}") from None
        return flags

    def own_cells_kept(self, cells: list[NotebookNode]) -> float:
        """Share of the release's cells that are not answers (text, set-up and test cells)
        found unchanged among ``cells``. Grade ids cannot tell lessons apart: lessons of one
        course share ids such as ``setup`` or ``ex1-answer``."""
        own = {cell.source.strip() for cell in self.cells if not is_answer(cell) and cell.source.strip()}
        if not own:
            return 1.0
        return len(own & {cell.source.strip() for cell in cells}) / len(own)

    def match_grade_ids(self, cells: list[NotebookNode], matching: Matching) -> None:
        foreign, duplicates = [], []
        for i, cell in enumerate(cells):
            gid = grade_id(cell)
            if gid is None:
                continue
            j = self.by_grade_id.get(gid)
            if j is None:
                foreign.append(gid)
                del cell.metadata["nbgrader"]
            elif j in matching.by_released:
                duplicates.append(gid)
                del cell.metadata["nbgrader"]
            else:
                matching.pair(i, j)
        if foreign:
            matching.flags.append(
                Flag(
                    "foreign-cells",
                    f"cells with grade ids unknown to this lesson were kept as ordinary cells: {', '.join(foreign)}",
                )
            )
        if duplicates:
            matching.flags.append(
                Flag(
                    "duplicate-cells", f"copies of exercise cells were kept as ordinary cells: {', '.join(duplicates)}"
                )
            )

    def match_cell_ids(self, cells: list[NotebookNode], ids: list[list[str]], matching: Matching) -> None:
        for i in matching.free_submitted(cells):
            for cell_id in ids[i]:
                j = self.by_cell_id.get(cell_id)
                if j is None or j in matching.by_released:
                    continue
                if cells[i].cell_type == self.cells[j].cell_type or j in self.graded:
                    matching.pair(i, j)
                    break

    def match_identical(self, cells: list[NotebookNode], matching: Matching) -> None:
        for j, released in enumerate(self.cells):
            if j in matching.by_released or not released.source.strip():
                continue
            for i in matching.free_submitted(cells):
                if cells[i].cell_type == released.cell_type and cells[i].source.strip() == released.source.strip():
                    matching.pair(i, j)
                    break

    def match_similar_tests(self, cells: list[NotebookNode], matching: Matching) -> None:
        for j in self.graded:
            released = self.cells[j]
            if j in matching.by_released or not is_read_only(released):
                continue
            # difflib's exact ratio costs the product of the lengths: only the few cells whose cheap upper
            # bounds (length, then characters) allow a match get it, however many cells a submission adds.
            bounded = []
            for i in matching.free_submitted(cells):
                if cells[i].cell_type == released.cell_type and cells[i].source.strip():
                    matcher = difflib.SequenceMatcher(None, cells[i].source, released.source)
                    if matcher.real_quick_ratio() >= TEST_SIMILARITY:
                        bound = matcher.quick_ratio()
                        if bound >= TEST_SIMILARITY:
                            bounded.append((bound, i, matcher))
            closest = sorted(bounded, key=lambda entry: entry[:2], reverse=True)[:EXACT_RATIOS]
            best = max(((matcher.ratio(), i) for _, i, matcher in closest), default=(0, None))
            if best[0] >= TEST_SIMILARITY:
                matching.pair(best[1], j)

    def match_answer_prompts(self, cells: list[NotebookNode], matching: Matching) -> None:
        for j in self.graded:
            released = self.cells[j]
            prompts = prompt_lines(released)
            if j in matching.by_released or not is_answer(released) or not prompts:
                continue
            scored = []
            for i in matching.free_submitted(cells):
                if cells[i].cell_type != released.cell_type:
                    continue
                lines = {line.strip() for line in cells[i].source.splitlines()}
                coverage = sum(line in lines for line in prompts) / len(prompts)
                if coverage >= PROMPT_COVERAGE:
                    scored.append((coverage, -abs(i - j), i))
            if scored:
                matching.pair(max(scored)[2], j)

    def match_answers_by_position(self, cells: list[NotebookNode], matching: Matching) -> None:
        """An answer rewritten beyond recognition: the one free cell of its type between the
        matched cells around it in the release."""
        for j in self.graded:
            released = self.cells[j]
            if j in matching.by_released or not is_answer(released):
                continue
            before = [matching.by_released[k] for k in range(j) if k in matching.by_released]
            after = [matching.by_released[k] for k in range(j + 1, len(self.cells)) if k in matching.by_released]
            low = before[-1] if before else -1
            high = after[0] if after else len(cells)
            candidates = [
                i for i in matching.free_submitted(cells) if low < i < high and cells[i].cell_type == released.cell_type
            ]
            if candidates:
                matching.pair(candidates[0], j)

    def restore_metadata(self, cells: list[NotebookNode], matching: Matching) -> list[Flag]:
        """Give matched exercise cells the release's metadata and read-only cells their source."""
        restored, edited = [], []
        for i, j in matching.by_submitted.items():
            released = self.cells[j]
            if not nbgrader_metadata(released):
                continue
            cell = cells[i]
            if nbgrader_metadata(cell) != nbgrader_metadata(released):
                restored.append(grade_id(released))
            if cell.cell_type != released.cell_type:
                cells[i] = cell = nbformat.from_dict(
                    {**copy.deepcopy(released), "source": cell.source, "id": cell["id"]}
                )
            for key in NBGRADER_CELL_KEYS:
                if key in released.metadata:
                    cell.metadata[key] = copy.deepcopy(released.metadata[key])
            if is_read_only(released) and cell.source.strip() != released.source.strip():
                edited.append(grade_id(released))
                cell.source = released.source
        flags = []
        if restored:
            flags.append(Flag("restored-metadata", f"nbgrader metadata restored on {', '.join(sorted(restored))}"))
        if edited:
            flags.append(
                Flag("restored-cells", f"edited read-only cells restored from the lesson: {', '.join(sorted(edited))}")
            )
        return flags

    def reassemble(self, cells: list[NotebookNode], matching: Matching) -> tuple[list[NotebookNode], list[Flag]]:
        """Cells in the release's order, missing exercise cells put back, extras kept."""
        groups, pending = [], []
        for i, cell in enumerate(cells):
            if i in matching.by_submitted:
                groups.append((matching.by_submitted[i], pending + [cell]))
                pending = []
            else:
                pending.append(cell)
        flags = []
        order = [j for j, _ in groups]
        if order != sorted(order):
            flags.append(Flag("reordered", "cells that were out of the lesson's order were put back in order"))
        used_ids = {cell["id"] for cell in cells}
        missing_tests, missing_answers = [], []
        for j in self.graded:
            if j in matching.by_released:
                continue
            cell = copy.deepcopy(self.cells[j])
            if cell.get("id") in used_ids:
                cell["id"] = f"{cell['id'][:55]}-restored"
            groups.append((j, [cell]))
            (missing_answers if is_answer(cell) else missing_tests).append(grade_id(cell))
        if missing_tests:
            flags.append(Flag("reinserted", f"deleted read-only cells put back: {', '.join(missing_tests)}"))
        if missing_answers:
            flags.append(
                Flag(
                    "unmatched-answers",
                    "answer cells not found, their empty stubs were "
                    f"put back (the answer may be in an unmarked cell): "
                    f"{', '.join(missing_answers)}",
                    serious=True,
                )
            )
        groups.sort(key=lambda group: group[0])
        return [cell for _, group in groups for cell in group] + pending, flags
