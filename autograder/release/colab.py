"""Where students' Colab gets the course from: every lesson's badge and setup cell, from two settings.

``c.ColabLink.repository`` (GitHub ``owner/name``) and ``c.ColabLink.ref`` (a release tag) live in
``nbgrader_config.py``; ``release`` writes them into every lesson before generating it, so a lesson
opened from the badge installs the library of the same release, never a branch that moves under
students halfway through. Under the badge, release also writes the lesson's time on a T4
(:mod:`course_tools.estimates`) and how to work before spending it.
"""

from __future__ import annotations

import re

from nbformat import NotebookNode
from traitlets import TraitError, Unicode, validate
from traitlets.config import Configurable

from course_tools.estimates import describe

BADGE_IMAGE = "https://colab.research.google.com/assets/colab-badge.svg"
BADGE = re.compile(r"\[!\[Open In Colab\]\(" + re.escape(BADGE_IMAGE) + r"\)\]\([^)]*\)")
TIME_LINE = re.compile(r"^\*\*Time\.\*\* .*$", re.MULTILINE)
SETUP_CELL_ID = "setup"

SETUP_TEMPLATE = """\
# Set-up. On Colab: installs this course ({ref}) and what the runtime lacks, then checks the runtime.
import sys

COURSE = "git+https://github.com/{repository}@{ref}"
if "google.colab" in sys.modules:
    import importlib
    import importlib.metadata
    import subprocess
    import tempfile

    kept = ("tensorflow", "keras", "numpy", "protobuf")  # Colab's own: pip must not replace them
    try:
        pins = [f"{{name}}=={{importlib.metadata.version(name)}}" for name in kept]
    except importlib.metadata.PackageNotFoundError:
        raise RuntimeError(
            "This runtime has no TensorFlow (Colab's TPU runtimes have none). Choose "
            "Runtime > Change runtime type > T4 GPU, then run this cell again."
        ) from None
    with tempfile.NamedTemporaryFile("w", suffix=".txt", delete=False) as constraints:
        constraints.write("\\n".join(pins))
    command = [sys.executable, "-m", "pip", "install", "--quiet", f"course[colab] @ {{COURSE}}", "-c", constraints.name]
    pip = subprocess.run(command, check=False, capture_output=True, text=True)
    if pip.returncode:
        raise RuntimeError(
            f"Installing the course failed:\\n{{pip.stderr[-3000:]}}\\nCheck the connection and "
            "run this cell again; if it fails again, use Runtime > Disconnect and delete runtime."
        )
    importlib.invalidate_caches()
try:
    from course.environment import check_environment
except ModuleNotFoundError as error:
    raise RuntimeError(
        f"The course library is missing ({{error}}): on Colab run this cell again; "
        "elsewhere run `pip install -e .` in the course folder."
    ) from None
print(check_environment())"""


def _matching(proposal: dict, pattern: str, fix: str) -> str:
    """The proposed value of a ``ColabLink`` setting if it matches ``pattern``, else an error with ``fix``."""
    if not re.fullmatch(pattern, proposal["value"]):
        raise TraitError(f"c.ColabLink.{proposal['trait'].name} = {proposal['value']!r}: {fix}")
    return proposal["value"]


class ColabLink(Configurable):
    """The GitHub repository and release the lessons' Colab badges and setup cells point at."""

    repository = Unicode(
        "stanford-dogs-course/transfer-learning", help="GitHub repository (owner/name) the course is published in"
    ).tag(config=True)
    ref = Unicode("v0.2.0", help="release tag (or commit) students install; never a branch").tag(config=True)

    @validate("repository")
    def _check_repository(self, proposal: dict) -> str:
        return _matching(
            proposal,
            r"[A-Za-z0-9][A-Za-z0-9-]*/[A-Za-z0-9._-]+",
            "give the GitHub repository as owner/name, e.g. 'my-university/transfer-learning'.",
        )

    @validate("ref")
    def _check_ref(self, proposal: dict) -> str:
        return _matching(
            proposal,
            r"v?\d+(\.\d+)+([.+-][0-9A-Za-z.]+)?|[0-9a-f]{40}",
            "give a release tag such as 'v0.2.0' (or a full commit hash), not a branch: a branch moves, "
            "and a library change would break lessons students are halfway through.",
        )

    def badge(self, lesson: str) -> str:
        """The Markdown "Open In Colab" badge of the released ``lesson``."""
        url = (
            f"https://colab.research.google.com/github/{self.repository}/blob/{self.ref}/"
            f"lessons/{lesson}/{lesson}.ipynb"
        )
        return f"[![Open In Colab]({BADGE_IMAGE})]({url})"

    def setup_source(self) -> str:
        """The source of every lesson's first code cell."""
        return SETUP_TEMPLATE.format(repository=self.repository, ref=self.ref)


def time_line(lesson: str) -> str:
    """The line under a lesson's badge: how long its full profile takes on a T4, and how to work before that."""
    return (
        f"**Time.** {describe(lesson)} Use a GPU runtime (Runtime > Change runtime type > T4 GPU). Get the "
        'exercises right with `profile = "smoke"` in the parameters cell first (minutes on any runtime), then '
        "run the `full` profile."
    )


def _title_and_setup(nb: NotebookNode, lesson: str) -> tuple[NotebookNode, NotebookNode]:
    title = nb.cells[0] if nb.cells else None
    if title is None or title.cell_type != "markdown" or not BADGE.search(title.source):
        raise ValueError(f"{lesson}: the first cell must be the Markdown title holding the Open In Colab badge.")
    setup = next((cell for cell in nb.cells if cell.get("id") == SETUP_CELL_ID), None)
    if setup is None or setup.cell_type != "code":
        raise ValueError(f"{lesson}: no code cell with id {SETUP_CELL_ID!r}; every lesson starts with it.")
    return title, setup


def colab_differences(nb: NotebookNode, lesson: str, link: ColabLink) -> list[str]:
    """How ``nb``'s badge, time line and setup cell differ from what ``link`` says (empty when they agree)."""
    title, setup = _title_and_setup(nb, lesson)
    differences = []
    if BADGE.search(title.source).group(0) != link.badge(lesson):
        differences.append(
            f"{lesson}: the Colab badge is {BADGE.search(title.source).group(0)}, expected {link.badge(lesson)}"
        )
    if f"{link.badge(lesson)}\n\n{time_line(lesson)}" not in title.source:
        differences.append(f"{lesson}: the line under the badge is not {time_line(lesson)!r}")
    if setup.source != link.setup_source():
        differences.append(f"{lesson}: the setup cell is not the one c.ColabLink gives ({link.repository}@{link.ref})")
    return differences


def write_colab_cells(nb: NotebookNode, lesson: str, link: ColabLink) -> bool:
    """Put ``link``'s badge, the time line under it and the setup cell into ``nb`` if it is a Colab
    lesson (its title holds the badge; other assignments are left alone); True if anything changed."""
    title = nb.cells[0] if nb.cells and nb.cells[0].cell_type == "markdown" else None
    if title is None or not BADGE.search(title.source):
        return False
    title, setup = _title_and_setup(nb, lesson)
    changed = bool(colab_differences(nb, lesson, link))
    title.source = TIME_LINE.sub("", title.source).rstrip()
    title.source = BADGE.sub(lambda _: f"{link.badge(lesson)}\n\n{time_line(lesson)}", title.source, count=1)
    setup.source = link.setup_source()
    return changed
