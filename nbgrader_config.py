"""nbgrader configuration of the course. The repository root is the nbgrader course root.

Plain nbgrader commands (``nbgrader generate_assignment``, ``nbgrader autograde``,
``nbgrader generate_feedback``) read this file too, so they get the same safe execution and
hidden-test-free feedback as ``python -m autograder``.
"""

from autograder.cells import CODE_STUB, CODE_STUB_COMMENT, HIDDEN_TESTS_BEGIN, HIDDEN_TESTS_END, TEXT_STUB
from autograder.grading.records import RECORD_FILE
from autograder.lms.formats import LMS_FILE

c = get_config()  # noqa: F821 (provided by traitlets when it loads this file)

# Course layout: solutions/ is nbgrader's source folder, lessons/ its release folder.
c.CourseDirectory.course_id = "transfer-learning"
c.CourseDirectory.source_directory = "solutions"
c.CourseDirectory.release_directory = "lessons"
# The autograder's own files in submission folders are never copied into feedback.
c.CourseDirectory.ignore = [".ipynb_checkpoints", "*.pyc", "__pycache__", "feedback", RECORD_FILE, LMS_FILE]
# A large class can keep its gradebook in PostgreSQL instead of gradebook.db:
# c.CourseDirectory.db_url = "postgresql://grader@localhost/transfer_learning"

# Where students' Colab installs the course from: the students' public GitHub repository (what
# `python -m autograder release --students DIR` writes; this course stays private) and a release tag
# in it (never a branch). `release` writes both into every lesson's badge and setup cell.
c.ColabLink.repository = "stanford-dogs-course/transfer-learning"
c.ColabLink.ref = "v0.2.0"

# Student versions: solutions become stubs, hidden tests are removed, and a hidden-test region
# outside a test cell is an error rather than a leak.
c.ClearSolutions.code_stub = {"python": f"{CODE_STUB_COMMENT}\n{CODE_STUB}"}
c.ClearSolutions.text_stub = TEXT_STUB
c.ClearSolutions.enforce_metadata = True
c.ClearHiddenTests.begin_test_delimeter = HIDDEN_TESTS_BEGIN
c.ClearHiddenTests.end_test_delimeter = HIDDEN_TESTS_END
c.ClearHiddenTests.enforce_metadata = True

# Grading: locked and test cells always come from the source, deleted ones are put back.
c.OverwriteCells.add_missing_cells = True
c.OverwriteCells.missing_cell_notification = (
    "This cell (id:{cell_id}) was missing from the submission; the autograder put it back.\n\n"
)

# Time limits. `release` times each lesson's solution as grading runs it and writes the lesson's
# limits to nbgrader_time_limits.json (autograder/grading/time_limits.py): a cell gets `margin` times the
# slowest solution cell, a notebook `margin` times the solution's total, each at least its floor.
c.TimeLimits.margin = 3.0
c.TimeLimits.cell_floor_seconds = 10
c.TimeLimits.notebook_floor_seconds = 20
# Limits set by hand win over the measured ones, e.g. {"lesson4_frozen": {"cell": 120, "notebook": 300}}.
c.TimeLimits.overrides = {}
# Limits are measured on a quiet machine; grading stretches them by the load per core (1-minute load
# average, between 1 and 4), so correct work does not time out on a busy one. False: the limits as they are.
c.SafeExecute.stretch_with_load = True
# A lesson never timed (and plain `nbgrader autograde`) uses these: a cell gets 10 minutes.
c.Execute.timeout = 600
c.Execute.interrupt_on_timeout = True
c.Execute.startup_timeout = 120
c.SafeExecute.notebook_time_limit = 3600  # seconds for a whole notebook
c.SafeExecute.memory_limit_mb = 8192  # address space of one kernel
c.SafeExecute.max_output_chars = 200_000  # per cell, every kind of output; the rest of an output flood is dropped
c.SafeExecute.max_image_chars = 5_000_000  # per cell, figures (base64 images)
c.SafeExecute.kernel_env = {"COURSE_PROFILE": "grade", "TF_CPP_MIN_LOG_LEVEL": "2", "PYTHONWARNINGS": "ignore"}
c.SafeExecute.protected_modules = ["builtins", "math", "numpy", "numpy.linalg", "numpy.random", "numpy.testing"]
c.LimitOutput.max_lines = 1000
# Every student kernel runs in a bubblewrap sandbox: it sees only its own files (in a tmpfs of
# disk_mb MiB), the Python environment and the folders below, read-only; no network, no other
# process. Without bubblewrap grading stops; c.Sandbox.enabled = False grades unsandboxed (every
# record then says so).
c.Sandbox.enabled = True
c.Sandbox.disk_mb = 512
c.Sandbox.read_only_paths = []  # lesson data the grade profile reads (it uses synthetic data)

c.Autograde.autograde_preprocessors = [
    "autograder.grading.execution.SafeExecute",
    "autograder.grading.sanitize.SanitizeNotebook",
    "nbgrader.preprocessors.IgnorePattern",
    "nbconvert.preprocessors.ClearMetadataPreprocessor",
    "nbgrader.preprocessors.LimitOutput",
    "autograder.grading.execution.SaveAutoGradesIgnoringStderr",
    "nbgrader.preprocessors.AssignLatePenalties",
    "nbgrader.preprocessors.CheckCellMetadata",
]
# Graded notebooks stay writable by the grader (nbgrader's default is read-only, 444): the autograder
# adds the mark schemes to them after nbgrader wrote them, which a grader that is not root could not.
c.Autograde.permissions = 644

# Student notebooks are hostile text: autograde sanitises every graded notebook (SanitizeNotebook above),
# and feedback renders markdown and HTML outputs sanitised as well.
c.HTMLExporter.sanitize_html = True

# Feedback never shows hidden tests (nbgrader issue 1363).
c.GenerateFeedback.preprocessors = [
    "autograder.reports.feedback.HideHiddenTests",
    "nbgrader.preprocessors.GetGrades",
    "nbconvert.preprocessors.CSSHTMLHeaderPreprocessor",
]

# Parallel grading (python -m autograder grade --jobs N): a submission whose nbgrader run
# outlives its notebooks' time limits by this much is stopped and scored 0.
c.GradingRun.kill_grace_seconds = 300
# Grade on a Dask cluster instead of this machine (what `grade --cluster ADDRESS` sets for one run),
# e.g. "tcp://10.0.0.5:8786"; see the README's "Grading on a cluster (Dask)".
c.ClusterGrading.address = ""

# LMS downloads: extra file-name patterns (regular expressions with named groups, matched
# against the path inside the download), tried before the built-in Canvas, Moodle and
# <student>/<file>.ipynb patterns. Groups: student_id (required), name, late,
# submission_id, timestamp, file.
c.SubmissionCollector.filename_patterns = []

# Canvas gradebook import: the column header of each lesson, e.g.
# {"lesson1": "Lesson 1: transfer learning (123456)"}; a lesson not listed uses its name.
c.GradeExport.canvas_columns = {}
# A lesson a student never submitted is left empty in the Canvas CSV (Canvas shows it as missing);
# True exports it as 0 points (the same as `python -m autograder export --missing-as-zero`).
c.GradeExport.missing_as_zero = False
