"""Accuracy gates: do the executed lessons reach the reference's numbers?

    python -m course_tools.gates DIR [--config course/gates.toml]

Reads the metrics that the executed notebooks in DIR recorded with :func:`course.metrics.record`,
checks each gate of the configuration (thresholds in ``course/gates.toml``), prints every gate as
PASS or FAIL with its numbers and exits with status 1 if any gate failed. A metric nobody recorded
fails its gate, naming the lesson that should have recorded it.
"""

from __future__ import annotations

import argparse
import sys
from dataclasses import dataclass, fields
from pathlib import Path

from course.metrics import read_metrics
from course_tools.settings import read_settings

DEFAULT_CONFIG = Path(__file__).with_name("gates.toml")


class GateConfigError(ValueError):
    """A gates configuration, or a folder of executed notebooks, that cannot be checked."""


@dataclass(frozen=True)
class Gate:
    """One check: ``metric`` >= ``at_least``, == ``equals``, or >= ``at_least_metric`` - ``tolerance``."""

    name: str
    metric: str
    at_least: float | None = None
    equals: bool | int | float | None = None
    at_least_metric: str | None = None
    tolerance: float = 0.0

    @property
    def metrics(self) -> list[str]:
        return [self.metric] + ([self.at_least_metric] if self.at_least_metric else [])


@dataclass(frozen=True)
class MetricSource:
    """Who records a metric: a description of the lesson and, optionally, its folder name."""

    recorded_by: str
    lesson: str | None = None


@dataclass(frozen=True)
class GatesConfig:
    profile: str
    gates: list[Gate]
    metrics: dict[str, MetricSource]


@dataclass(frozen=True)
class MetricReading:
    """A recorded metric and where it came from."""

    value: bool | int | float
    notebook: Path
    profile: str | None  # the profile papermill passed to the notebook


@dataclass(frozen=True)
class GateResult:
    gate: Gate
    passed: bool
    detail: str

    def __str__(self) -> str:
        return f"{'PASS' if self.passed else 'FAIL'}  {self.gate.name}: {self.detail}"


class MetricUnavailable(Exception):
    """A metric a gate needs that is missing, ambiguous or from the wrong profile."""


def _build(kind, table: dict, where: str):
    known = {field.name for field in fields(kind)}
    unknown = sorted(set(table) - known)
    if unknown:
        raise GateConfigError(f"{where}: unknown key(s) {unknown}; valid keys: {', '.join(sorted(known))}.")
    try:
        return kind(**table)
    except TypeError as error:
        raise GateConfigError(f"{where}: {error}") from None


def load_gates(path: Path = DEFAULT_CONFIG) -> GatesConfig:
    """The gates in ``path``, checked for consistency."""
    raw = read_settings(path, GateConfigError)
    gates = [_build(Gate, table, f"{path}, gate {index + 1}") for index, table in enumerate(raw.get("gates", []))]
    metrics = {
        name: _build(MetricSource, table, f"{path}, [metrics.{name}]") for name, table in raw.get("metrics", {}).items()
    }
    if not gates:
        raise GateConfigError(f"{path} defines no [[gates]].")
    for gate in gates:
        comparisons = [gate.at_least is not None, gate.equals is not None, gate.at_least_metric is not None]
        if sum(comparisons) != 1:
            raise GateConfigError(f"{path}, gate {gate.name!r}: give exactly one of at_least, equals, at_least_metric.")
        if gate.tolerance and gate.at_least_metric is None:
            raise GateConfigError(f"{path}, gate {gate.name!r}: tolerance only applies with at_least_metric.")
        undescribed = [name for name in gate.metrics if name not in metrics]
        if undescribed:
            raise GateConfigError(
                f"{path}, gate {gate.name!r}: add [metrics.{undescribed[0]}] with recorded_by = "
                '"<the lesson that records it>".'
            )
    return GatesConfig(raw.get("profile", "full"), gates, metrics)


def _run_profile(notebook: Path) -> str | None:
    import nbformat

    metadata = nbformat.read(str(notebook), as_version=4).metadata
    return metadata.get("papermill", {}).get("parameters", {}).get("profile")


class ExecutedLessons:
    """The metrics recorded by the executed notebooks ``<lesson>.ipynb`` in a folder."""

    def __init__(self, directory: Path):
        self.directory = Path(directory)
        notebooks = sorted(self.directory.glob("*.ipynb"))
        if not notebooks:
            raise GateConfigError(
                f"No executed notebooks in {self.directory}. Run the lessons first: "
                f"python -m course_tools.notebooks --profile full --out {self.directory}"
            )
        self.recorded = {notebook.stem: (read_metrics(notebook), notebook) for notebook in notebooks}

    def measure(self, name: str, source: MetricSource, profile: str) -> MetricReading:
        """The value of metric ``name``; :class:`MetricUnavailable` says why there is none."""
        should = f"{source.recorded_by} should call course.metrics.record({name!r}, value)"
        if source.lesson:
            if source.lesson not in self.recorded:
                raise MetricUnavailable(
                    f"{name} not recorded: {self.directory / (source.lesson + '.ipynb')} does not exist "
                    f"(lesson {source.lesson!r} was not executed)"
                )
            candidates = [source.lesson] if name in self.recorded[source.lesson][0] else []
            searched = f"{source.lesson}.ipynb"
        else:
            candidates = [lesson for lesson, (metrics, _) in self.recorded.items() if name in metrics]
            searched = ", ".join(f"{lesson}.ipynb" for lesson in self.recorded)
        if not candidates:
            raise MetricUnavailable(f"{name} not recorded in {self.directory} (searched {searched}): {should}")
        if len(candidates) > 1:
            raise MetricUnavailable(
                f"{name} recorded by several notebooks ({', '.join(candidates)}); pin it to one with "
                f'lesson = "<lesson>" under [metrics.{name}] in the gates configuration'
            )
        metrics, notebook = self.recorded[candidates[0]]
        reading = MetricReading(metrics[name], notebook, _run_profile(notebook))
        if reading.profile != profile:
            raise MetricUnavailable(
                f"{name} comes from {notebook.name}, run with profile {reading.profile!r}; "
                f"the thresholds hold for profile {profile!r} runs"
            )
        return reading


def _number(name: str, reading: MetricReading) -> float:
    value = reading.value
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise MetricUnavailable(f"{name} is {value!r} in {reading.notebook.name}, not a number")
    return float(value)


def check_gate(gate: Gate, lessons: ExecutedLessons, config: GatesConfig) -> GateResult:
    """Evaluate one gate against the executed lessons."""
    try:
        measured = lessons.measure(gate.metric, config.metrics[gate.metric], config.profile)
        where = f"({measured.notebook.name})"
        if gate.equals is not None:
            passed = type(measured.value) is type(gate.equals) and measured.value == gate.equals
            sign = "==" if passed else "!="
            return GateResult(gate, passed, f"{gate.metric} {measured.value!r} {sign} {gate.equals!r} {where}")
        value = _number(gate.metric, measured)
        if gate.at_least is not None:
            passed = value >= gate.at_least
            sign = ">=" if passed else "<"
            return GateResult(gate, passed, f"{gate.metric} {value:.4f} {sign} {gate.at_least:.4f} {where}")
        reference = lessons.measure(gate.at_least_metric, config.metrics[gate.at_least_metric], config.profile)
        bound = _number(gate.at_least_metric, reference) - gate.tolerance
        passed = value >= bound
        sign = ">=" if passed else "<"
        return GateResult(
            gate,
            passed,
            f"{gate.metric} {value:.4f} {sign} {gate.at_least_metric} {reference.value:.4f} - {gate.tolerance:g} "
            f"= {bound:.4f} {where}",
        )
    except MetricUnavailable as reason:
        return GateResult(gate, False, str(reason))


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m course_tools.gates", description=__doc__.splitlines()[0])
    parser.add_argument("directory", type=Path, metavar="DIR", help="folder of executed lesson notebooks")
    parser.add_argument("--config", type=Path, default=DEFAULT_CONFIG, help="gates configuration (TOML)")
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        config = load_gates(args.config)
        lessons = ExecutedLessons(args.directory)
    except GateConfigError as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    results = [check_gate(gate, lessons, config) for gate in config.gates]
    for result in results:
        print(result)
    failed = sum(not result.passed for result in results)
    print(f"{len(results) - failed} of {len(results)} gate(s) passed")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
