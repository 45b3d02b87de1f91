import pytest

from course.config import PROFILES, Profile, ProfileError, accelerated, get_profile


def test_explicit_name_wins_over_environment(monkeypatch):
    monkeypatch.setenv("COURSE_PROFILE", "full")
    monkeypatch.setenv("NBGRADER_EXECUTION", "autograde")
    assert get_profile("smoke").name == "smoke"


def test_environment_variable_wins_over_grading_context(monkeypatch):
    monkeypatch.setenv("COURSE_PROFILE", "smoke")
    monkeypatch.setenv("NBGRADER_EXECUTION", "autograde")
    assert get_profile().name == "smoke"


def test_grading_context_selects_grade(monkeypatch):
    monkeypatch.setenv("NBGRADER_EXECUTION", "autograde")
    assert get_profile().name == "grade"


def test_default_is_full_with_real_data_and_weights():
    profile = get_profile()
    assert (profile.name, profile.source, profile.weights, profile.image_size) == ("full", "tfds", "imagenet", 224)
    assert profile.meaningful


def test_full_profile_follows_the_reference_schedule():
    full = PROFILES["full"]
    assert (full.batch_size, full.epochs_scratch, full.epochs_frozen, full.epochs_finetune) == (64, 40, 25, 4)
    assert (full.learning_rate_head, full.learning_rate_finetune, full.finetune_layers) == (1e-2, 1e-5, 20)


@pytest.mark.parametrize("name", ["smoke", "grade"])
def test_offline_profiles_need_no_download(name):
    profile = get_profile(name)
    assert profile.source == "synthetic" and profile.weights is None
    assert not profile.meaningful


def test_unknown_profile_lists_the_valid_ones():
    with pytest.raises(ProfileError, match="Unknown profile 'fast'.*full, smoke, demo, grade"):
        get_profile("fast")


def test_unknown_profile_from_environment_is_reported(monkeypatch):
    monkeypatch.setenv("COURSE_PROFILE", "gpu")
    with pytest.raises(ProfileError, match="Unknown profile 'gpu'"):
        get_profile()


def test_overrides_apply_and_unknown_settings_are_rejected():
    assert get_profile("smoke", image_size=96).image_size == 96
    with pytest.raises(ProfileError, match=r"Unknown profile setting\(s\) \['img_size'\]"):
        get_profile("smoke", img_size=96)


def test_unknown_source_names_the_offline_one():
    with pytest.raises(ProfileError, match="Valid sources: tfds, archive, synthetic.*offline"):
        get_profile("smoke", source="kaggle")


def test_environment_points_full_profile_at_an_archive(monkeypatch, tmp_path):
    monkeypatch.setenv("COURSE_SOURCE", "archive")
    monkeypatch.setenv("COURSE_DATA_DIR", str(tmp_path))
    profile = get_profile("full")
    assert (profile.source, profile.data_dir) == ("archive", str(tmp_path))


def test_a_resolved_profile_is_returned_as_is_unless_overridden(monkeypatch):
    monkeypatch.setenv("COURSE_SOURCE", "archive")
    smoke = PROFILES["smoke"]
    assert get_profile(smoke) is not None and get_profile(smoke).source == "synthetic"
    assert get_profile(smoke, seed=7).seed == 7


def test_profile_prints_every_setting():
    text = str(PROFILES["smoke"])
    for field in (
        "source='synthetic'",
        "image_size=64",
        "batch_size=16",
        "weights=None",
        "seed=42",
        "steps_per_epoch=6",
        "epochs_frozen=2",
    ):
        assert field in text
    assert isinstance(PROFILES["smoke"], Profile)


def test_offline_profiles_run_eagerly_and_full_builds_graphs():
    # Measured on 2 CPU cores: the first graph-mode fit of EfficientNetB0 costs ~40 s of tracing,
    # an eager fit of two steps ~6 s; for a handful of steps eager wins, for real training graphs do.
    assert not PROFILES["full"].run_eagerly
    assert PROFILES["smoke"].run_eagerly and PROFILES["grade"].run_eagerly


@pytest.mark.parametrize("setting", ["mixed_precision", "jit_compile", "augment_in_model"])
def test_acceleration_is_automatic_in_every_profile(setting):
    assert all(getattr(profile, setting) == "auto" for profile in PROFILES.values())


@pytest.mark.parametrize("setting", ["mixed_precision", "jit_compile", "augment_in_model"])
@pytest.mark.parametrize(
    "name, value, gpu, expected",
    [
        ("full", "auto", True, True),
        ("full", "auto", False, False),
        ("smoke", "auto", True, False),
        ("grade", "auto", True, False),
        ("full", False, True, False),
        ("smoke", True, False, True),
    ],
)
def test_acceleration_auto_means_full_profile_on_a_gpu(setting, name, value, gpu, expected):
    profile = get_profile(name, **{setting: value})
    assert accelerated(profile, setting, gpu_available=gpu) is expected


def test_acceleration_settings_are_checked():
    with pytest.raises(ProfileError, match="mixed_precision must be 'auto', True or False; got 'yes'"):
        get_profile("full", mixed_precision="yes")
    with pytest.raises(ProfileError, match="jit_compile must be 'auto', True or False; got 1"):
        accelerated(Profile(**{**vars(PROFILES["full"]), "jit_compile": 1}), "jit_compile", gpu_available=True)
    with pytest.raises(ProfileError, match="Unknown acceleration setting 'xla'"):
        accelerated(PROFILES["full"], "xla", gpu_available=True)


def test_every_profile_holds_out_a_validation_split_of_the_training_images():
    assert PROFILES["full"].validation_fraction == 0.1  # 10 of the 100 training images per breed
    for profile in PROFILES.values():
        assert 0 < profile.validation_fraction < 1
    with pytest.raises(ProfileError, match="validation_fraction must be between 0 and 1"):
        get_profile("smoke", validation_fraction=0)
