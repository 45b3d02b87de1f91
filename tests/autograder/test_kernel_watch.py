"""The watch inside a sandboxed kernel names what student code tried, without naming what the sandbox allows."""

from autograder.sandbox.kernel_watch import MAX_LISTED, Watch


def test_reading_the_course_packages_inside_the_course_folder_is_no_incident():
    """An editable install leaves the course's packages (and maybe the virtualenv) in the course folder:
    the sandbox lets the kernel read them, so importing them must not be flagged."""
    course = "/home/teacher/dogs-course"
    watch = Watch([course, "/home/teacher"], [f"{course}/course", f"{course}/.venv"])
    watch.audit("open", (f"{course}/course/train.py", "r", 0))
    watch.audit("open", (f"{course}/.venv/lib/python3.11/site-packages/numpy/__init__.py", "r", 0))
    assert watch.noted == []
    watch.audit("open", (f"{course}/solutions/lesson1_data/lesson1_data.ipynb", "r", 0))
    watch.audit("open", (f"{course}/course-old/notes.txt", "r", 0))
    assert watch.noted == [
        f"tried to reach the course's files ({course}/solutions/lesson1_data/lesson1_data.ipynb)",
        f"tried to reach the course's files ({course}/course-old/notes.txt)",
    ]


def test_writing_into_a_read_only_folder_is_named_even_inside_tmp():
    """A virtualenv under /tmp is bound read-only over the kernel's own /tmp: writing there is an attempt too."""
    watch = Watch(["/tmp/checkout"], ["/tmp/checkout/.venv"])
    watch.audit("open", ("/tmp/work/notes.txt", "w", 0))
    assert watch.noted == []
    watch.audit("open", ("/tmp/checkout/.venv/lib/python3.11/site-packages/x.pth", "w", 0))
    assert watch.noted == ["tried to write outside its folder (/tmp/checkout/.venv/lib/python3.11/site-packages/x.pth)"]


def test_thousands_of_attempts_are_listed_up_to_a_bound_and_counted():
    """25,000 probed paths once gave 1,001 flags and lost the rest: the first few are named, the rest counted."""
    watch = Watch(["/home/teacher"], [])
    for number in range(25_000):
        watch.audit("open", (f"/home/teacher/probe-{number}", "r", 0))
    found = watch.incidents()  # (on this host it may also name detached processes of the machine's own)
    listed = [incident for incident in found if "/home/teacher/probe-" in incident]
    assert listed == [
        f"tried to reach the course's files (/home/teacher/probe-{number})" for number in range(MAX_LISTED)
    ]
    assert f"made {25_000 - MAX_LISTED} more such attempts (not listed)" in found
    assert not any("probe" in incident or "more such" in incident for incident in watch.incidents())  # counted once
