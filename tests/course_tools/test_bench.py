"""course_tools.bench: a quick run prints the full table with positive rates and consistent ratios."""

import re

import keras
import numpy as np
import pytest
import tensorflow as tf

from course import acceleration
from course_tools import bench

ROWS = [
    ("reference pipeline", "reference pipeline"),
    ("decode + resize only", "reference pipeline"),
    ("course pipeline, first epoch", "reference pipeline"),
    ("course pipeline, cached epoch", "reference pipeline"),
    ("course pipeline, cached uint8 only", "reference pipeline"),
    ("train step, frozen model", "train step, frozen model"),
    ("train step, frozen model + FastAugment", "train step, frozen model"),
    ("train step, head on features", "train step, frozen model"),
]
ROW = re.compile(
    r"^\| (?P<name>[^|]+) \| (?P<what>[^|]+) \| (?P<rate>[\d.]+) \| (?P<ratio>[\d.]+)x "
    r"\| (?P<cpu>[\d.]+) \| (?P<cpu_ratio>[\d.]+)x \| (?P<vs>[^|]+) \|$"
)


@pytest.fixture
def restores_acceleration(monkeypatch):
    """The bench applies the full profile's decision; put the process back as it was."""
    monkeypatch.setattr(acceleration, "_applied", acceleration.NO_ACCELERATION)
    yield
    keras.config.set_dtype_policy("float32")


@pytest.mark.slow
@pytest.mark.parametrize("gpu", [False, True], ids=["pipeline", "model"])
def test_quick_run_prints_every_measurement_with_its_ratio(gpu, monkeypatch, capsys, restores_acceleration):
    monkeypatch.setattr(acceleration, "gpu_available", lambda: gpu)  # the decision, not the device
    monkeypatch.setattr(bench, "cpu_model", lambda: "Test CPU 9000")
    assert bench.main(["--quick"]) == 0
    output = capsys.readouterr().out
    placement = "model (in the train step)" if gpu else "pipeline (tf.data, CPU)"
    assert f"augmentation placement the full profile chooses here: {placement}" in output
    assert str(acceleration.applied()) in output
    assert "32 JPEGs 500x375" in output and "-> 64 px, batch 8, 1 timed epoch(s)" in output
    assert "CPU cores (Test CPU 9000)" in output
    assert "eager training steps" in output
    assert re.search(r"load average \(1, 5, 15 min\) before: [\d.]+ [\d.]+ [\d.]+", output)
    assert re.search(r"load average \(1, 5, 15 min\) after: [\d.]+ [\d.]+ [\d.]+", output)
    rows = [match.groupdict() for match in map(ROW.match, output.splitlines()) if match]
    assert [(row["name"], row["vs"]) for row in rows] == ROWS
    rates = {row["name"]: float(row["rate"]) for row in rows}
    cpu = {row["name"]: float(row["cpu"]) for row in rows}
    assert all(value > 0 for value in [*rates.values(), *cpu.values()])
    for row in rows:
        assert within_rounding(float(row["ratio"]), rates[row["name"]], rates[row["vs"]], step=0.1), row
        assert within_rounding(float(row["cpu_ratio"]), cpu[row["vs"]], cpu[row["name"]], step=0.001), row


def within_rounding(ratio: float, numerator: float, denominator: float, step: float) -> bool:
    """Whether a printed ratio fits the two printed values it was computed from before they were rounded
    to ``step`` (a CPU time of 0.012 ms can be 0.0115 or 0.0125: 4% either way), give or take 2%."""
    low = max(numerator - step / 2, 0.0) / (denominator + step / 2)
    high = (numerator + step / 2) / max(denominator - step / 2, 1e-12)
    return low * 0.98 - 0.01 <= ratio <= high * 1.02 + 0.01


def test_jpegs_have_the_size_and_weight_of_stanford_dogs_photos():
    jpegs = bench.realistic_jpegs(6, seed=1)
    assert len(jpegs) == 6 and len(set(jpegs)) == 6
    assert 25 < np.mean([len(jpeg) for jpeg in jpegs]) / 1024 < 55
    image = tf.io.decode_jpeg(jpegs[0])
    assert image.shape == (375, 500, 3)
    assert float(tf.math.reduce_std(tf.cast(image, tf.float32))) > 20  # not a flat picture


def test_reference_pipeline_augments_each_image_and_the_plain_one_does_not():
    examples = bench.decoded_examples(bench.realistic_jpegs(4))
    plain = next(iter(bench.reference_pipeline(examples, 32, 4, None)))[0].numpy()
    again = next(iter(bench.reference_pipeline(examples, 32, 4, None)))[0].numpy()
    augmented = next(iter(bench.reference_pipeline(examples, 32, 4, bench.reference_augmentation(seed=0))))[0].numpy()
    assert plain.shape == augmented.shape == (4, 32, 32, 3)
    np.testing.assert_array_equal(plain, again)
    assert all(np.abs(a - p).mean() > 1 for a, p in zip(augmented, plain, strict=True))


def test_invalid_settings_are_refused(capsys):
    with pytest.raises(SystemExit):
        bench.main(["--images", "0"])
    assert "--images must be at least 1; got 0" in capsys.readouterr().err
