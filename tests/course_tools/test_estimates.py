"""The per-lesson time estimates: derived as course/estimates.py says, consistent with the reference."""

from pathlib import Path

import pytest

from course_tools import estimates


def test_a_from_scratch_epoch_lies_between_a_v100_and_the_references_logged_epochs():
    """The reference's logs show 87-148 s per from-scratch epoch (no mixed precision, uncached pipeline); a T4
    with mixed precision and the cached pipeline must be no slower, and no faster than a V100 in FP32."""
    assert 12_000 / estimates.V100_TRAIN_FP32 <= estimates.epoch_seconds("scratch") <= 148


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


def test_the_students_page_shows_the_table_the_module_prints():
    page = (Path(__file__).resolve().parents[2] / "docs" / "students" / "colab.md").read_text()
    assert estimates.format_estimates() in page
