"""The per-lesson time estimates: derived as course/estimates.py says, consistent with the reference."""

from pathlib import Path

import pytest

from course_tools import estimates


def test_a_from_scratch_epoch_falls_in_the_references_published_range():
    """The reference reports 31-90 s per epoch on one GPU; the derived T4 figure must land inside."""
    assert 31 <= estimates.epoch_seconds("scratch") <= 90


def test_reusing_work_keeps_the_course_under_an_hour_and_repeating_it_costs_what_lesson_4_trains():
    lessons = ("lesson1_data", "lesson2_augmentation", "lesson3_scratch", "lesson4_frozen", "lesson5_finetune")
    reused = sum(estimates.lesson_minutes(lesson) for lesson in lessons)
    assert reused < 60
    frozen_training = 25 * estimates.epoch_seconds("frozen") / 60
    retraining = estimates.lesson_minutes("lesson5_finetune", kept_on_drive=False) - estimates.lesson_minutes(
        "lesson5_finetune"
    )
    assert retraining == pytest.approx(estimates.data_minutes(False) - estimates.data_minutes(True))
    assert f"| the course | {reused:.0f} |" in estimates.format_estimates()
    assert frozen_training > 5  # the frozen phase lesson 5 no longer repeats


def test_the_first_lesson_always_downloads_and_prepares_the_data():
    assert estimates.lesson_minutes("lesson1_data", kept_on_drive=True) == estimates.data_minutes(False)


def test_the_readme_shows_the_table_the_module_prints():
    readme = (Path(__file__).resolve().parents[2] / "README.md").read_text()
    assert estimates.format_estimates() in readme
