"""course_tools.finetune_cost: its arguments are checked and its report states both ratios (the run is a benchmark)."""

from __future__ import annotations

import pytest

from course_tools.finetune_cost import PhaseCosts, measure_phase_costs


@pytest.mark.parametrize(
    ("settings", "message"),
    [
        ({"epochs": 1}, "epochs must be at least 2"),
        ({"steps": 0}, "steps and batch_size must be positive"),
        ({"batch_size": 0}, "steps and batch_size must be positive"),
    ],
)
def test_settings_that_cannot_give_a_measurement_are_refused(settings, message):
    with pytest.raises(ValueError, match=message):
        measure_phase_costs(**settings)


def test_the_report_gives_wall_clock_and_cpu_ratios():
    costs = PhaseCosts(
        frozen_seconds=8.0,
        finetune_seconds=10.0,
        frozen_cpu_seconds=5.0,
        finetune_cpu_seconds=6.0,
        frozen_trainable=156_280,
        finetune_trainable=1_277_864,
    )
    assert costs.ratio == pytest.approx(1.25) and costs.cpu_ratio == pytest.approx(1.2)
    assert str(costs).splitlines() == [
        "frozen epoch:      8.00 s wall,   5.00 s CPU (156,280 trainable parameters)",
        "fine-tune epoch:  10.00 s wall,   6.00 s CPU (1,277,864 trainable parameters)",
        "fine-tune / frozen: 1.25 (wall clock), 1.20 (CPU time)",
    ]
