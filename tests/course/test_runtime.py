"""The work folder (Google Drive on Colab, any folder elsewhere), the profile settings that choose it,
and the full profile's refusal to train without a GPU or TPU. Accelerator detection and Colab are
forced both ways, so these tests mean the same on a machine with a GPU."""

import sys
from pathlib import Path
from types import SimpleNamespace

import numpy as np
import pytest
import tensorflow as tf

from course import runtime
from course.config import NUM_CLASSES, ProfileError, get_profile
from course.models import build_transfer_model
from course.runtime import (
    AcceleratorRequiredError,
    WorkDirError,
    checkpoint_dir,
    prepare_runtime,
    require_accelerator,
    run_key,
    saved_model_path,
)
from course.train import fit


@pytest.fixture
def not_colab(monkeypatch):
    monkeypatch.setitem(sys.modules, "google.colab", None)  # find_spec then reports no such module


@pytest.fixture
def drive(tmp_path, monkeypatch):
    """A stand-in for Google Drive: mounting records the mount point and creates MyDrive there."""
    mount_point = tmp_path / "drive"
    monkeypatch.setattr(runtime, "DRIVE_MOUNT_POINT", str(mount_point))
    mounted = []

    def mount(folder):
        mounted.append(folder)
        (Path(folder) / "MyDrive").mkdir(parents=True)

    return SimpleNamespace(mount=mount, mounted=mounted, course_folder=mount_point / runtime.DRIVE_COURSE_FOLDER)


def test_work_folder_comes_from_the_environment_except_when_grading(tmp_path, monkeypatch):
    monkeypatch.setenv("COURSE_WORK_DIR", str(tmp_path))
    assert get_profile("full").work_dir == get_profile("smoke").work_dir == str(tmp_path)
    assert get_profile("grade").work_dir is None
    monkeypatch.setenv("NBGRADER_EXECUTION", "autograde")
    assert get_profile().work_dir is None
    assert get_profile("grade", work_dir=str(tmp_path)).work_dir == str(tmp_path)  # explicit wins


@pytest.mark.parametrize(("value", "expected"), [("1", True), ("yes", True), ("0", False), ("", False)])
def test_allow_cpu_from_the_environment(monkeypatch, value, expected):
    monkeypatch.setenv("COURSE_ALLOW_CPU", value)
    assert get_profile("full").allow_cpu is expected


def test_bad_allow_cpu_settings_are_rejected(monkeypatch):
    with pytest.raises(ProfileError, match="allow_cpu must be True or False"):
        get_profile("full", allow_cpu="yes")
    monkeypatch.setenv("COURSE_ALLOW_CPU", "maybe")
    with pytest.raises(ProfileError, match="COURSE_ALLOW_CPU='maybe'.*1 \\(on\\) or 0 \\(off\\)"):
        get_profile("full")


def test_without_drive_nothing_changes(with_gpu, capsys):
    profile = get_profile("full")
    assert prepare_runtime(profile) == profile
    assert capsys.readouterr().out == ""
    assert checkpoint_dir(profile, "lesson4-frozen") is None and saved_model_path(profile, "frozen") is None


def test_drive_on_colab_mounts_and_uses_the_course_folder(drive, with_gpu, capsys):
    profile = prepare_runtime(get_profile("full"), drive=True, mount=drive.mount)
    assert drive.mounted == [runtime.DRIVE_MOUNT_POINT]
    assert profile.work_dir == str(drive.course_folder) and drive.course_folder.is_dir()
    assert f"Work folder: {drive.course_folder}" in capsys.readouterr().out
    assert checkpoint_dir(profile, "lesson3-scratch").parent == drive.course_folder / "checkpoints"
    assert saved_model_path(profile, "frozen").parent == drive.course_folder / "models"


def test_a_given_folder_stands_in_for_drive(tmp_path, monkeypatch, drive, with_gpu):
    monkeypatch.setenv("COURSE_WORK_DIR", str(tmp_path / "work"))
    profile = prepare_runtime(get_profile("full"), drive=True, mount=drive.mount)
    assert profile.work_dir == str(tmp_path / "work") and (tmp_path / "work").is_dir()
    assert drive.mounted == []


def test_drive_outside_colab_without_a_folder_is_a_clear_error(not_colab):
    with pytest.raises(WorkDirError, match="only available on Colab.*COURSE_WORK_DIR"):
        prepare_runtime(get_profile("full"), drive=True)


def test_grading_ignores_drive(drive, capsys):
    profile = prepare_runtime(get_profile("grade"), drive=True, mount=drive.mount)
    assert profile.work_dir is None and drive.mounted == []
    assert "ignored in the grade profile" in capsys.readouterr().out


def test_full_profile_without_accelerator_says_so_up_front(without_gpu, capsys):
    profile = prepare_runtime(get_profile("full"))
    assert "Runtime > Change runtime type > T4 GPU" in capsys.readouterr().out
    assert not profile.allow_cpu
    assert prepare_runtime(get_profile("full"), allow_cpu=True).allow_cpu
    assert "trains on the CPU" in capsys.readouterr().out
    prepare_runtime(get_profile("smoke"))
    assert capsys.readouterr().out == ""


def test_full_profile_refuses_to_train_on_a_cpu(without_gpu):
    with pytest.raises(AcceleratorRequiredError) as refusal:
        require_accelerator(get_profile("full"))
    message = str(refusal.value)
    assert "Runtime > Change runtime type > T4 GPU" in message
    assert 'profile = "smoke"' in message and "allow_cpu = True" in message
    require_accelerator(get_profile("full", allow_cpu=True))
    require_accelerator(get_profile("smoke"))
    require_accelerator(get_profile("grade"))


def test_full_profile_trains_with_an_accelerator(with_gpu):
    require_accelerator(get_profile("full"))


@pytest.mark.slow
def test_fit_refuses_before_training(without_gpu):
    model = build_transfer_model(NUM_CLASSES, 32, weights=None)
    images = np.zeros((4, 32, 32, 3), "float32")
    batches = tf.data.Dataset.from_tensor_slices((images, tf.one_hot([0] * 4, NUM_CLASSES))).batch(4)
    data = SimpleNamespace(train=batches, validation=batches)
    before = [weight.copy() for weight in model.get_weights()]
    with pytest.raises(AcceleratorRequiredError):
        fit(model, data, 1, get_profile("full", steps_per_epoch=1, validation_steps=1))
    assert all(np.array_equal(a, b) for a, b in zip(before, model.get_weights(), strict=True))
    history = fit(
        model,
        data,
        1,
        get_profile("full", steps_per_epoch=1, validation_steps=1, allow_cpu=True, run_eagerly=True, verbose=0),
    )
    assert history.epoch == [0]


def test_run_key_follows_what_shapes_training(tmp_path):
    smoke = get_profile("smoke")
    assert run_key(smoke) == run_key(get_profile("smoke", verbose=0, work_dir=str(tmp_path), allow_cpu=True))
    assert run_key(smoke) != run_key(get_profile("smoke", epochs_frozen=3))
    assert run_key(smoke) != run_key(get_profile("smoke", image_size=32))
    work = get_profile("smoke", work_dir=str(tmp_path))
    assert checkpoint_dir(work, "a") != checkpoint_dir(work, "b")
    assert checkpoint_dir(work, "a") != checkpoint_dir(get_profile(work, seed=1), "a")
