"""Accuracy gates: do the executed lessons reach the reference's numbers?

    python -m course_tools.gates DIR [--profile full|demo] [--config course_tools/gates.toml]

Reads the metrics that the executed notebooks in DIR recorded with :func:`course.metrics.record`,
checks each gate of the configuration for the profile (thresholds in ``course_tools/gates.toml``: the
``full`` profile's and, beside them, the offline ``demo`` profile's), prints every gate as PASS or FAIL
with its numbers and exits with status 1 if any gate failed. A metric nobody recorded fails its gate,
naming the lesson that should have recorded it; so does a metric from a run with another profile.
"""

from __future__ import annotations

import argparse
import sys
from dataclasses import dataclass, fields, replace
from pathlib import Path

from course.errors import USAGE_ERROR, report_error
from course.metrics import read_metrics
from course_tools.errors import CourseToolsError
from course_tools.settings import read_settings

DEFAULT_CONFIG = Path(__file__).with_name("gates.toml")


class GateConfigError(CourseToolsError, ValueError):
    """A gates configuration, or a folder of executed notebooks, that cannot be checked."""

    exit_status = USAGE_ERROR


@dataclass(frozen=True)
class Gate:
    """One check on the runs of ``profile``: ``metric`` >= ``at_least``, == ``equals``, or
    >= ``factor`` x ``at_least_metric`` + ``margin`` - ``tolerance``."""

    name: str
    metric: str
    at_least: float | None = None
    equals: bool | int | float | None = None
    at_least_metric: str | None = None
    tolerance: float = 0.0
    factor: float = 1.0
    margin: float = 0.0
    profile: str | None = None  # None: the configuration's default profile

    def bound(self, reference: float) -> float:
        """The least value ``metric`` may take when ``at_least_metric`` is ``reference``."""
        return self.factor * reference + self.margin - self.tolerance

    def describe_bound(self, reference: float) -> str:
        """``bound`` as a formula, e.g. "3 x scratch_val_accuracy 0.0100 + 0.1 = 0.1300"."""
        formula = f"{self.at_least_metric} {reference:.4f}"
        if self.factor != 1:
            formula = f"{self.factor:g} x {formula}"
        if self.margin:
            formula += f" + {self.margin:g}"
        if self.tolerance:
            formula += f" - {self.tolerance:g}"
        return f"{formula} = {self.bound(reference):.4f}"

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
    profile: str  # the default profile: of the gates that name none, and of the command
    gates: list[Gate]  # each with its profile filled in
    metrics: dict[str, MetricSource]

    @property
    def profiles(self) -> list[str]:
        """The profiles that have gates, in the order they first appear."""
        return list(dict.fromkeys(gate.profile for gate in self.gates))

    def gates_for(self, profile: str) -> list[Gate]:
        """The gates for runs of ``profile``; :class:`GateConfigError` if there are none."""
        gates = [gate for gate in self.gates if gate.profile == profile]
        if not gates:
            raise GateConfigError(
                f"No gates for profile {profile!r}; the configuration has gates for {', '.join(self.profiles)}."
            )
        return gates


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


class MetricUnavailable(CourseToolsError):
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
    default_profile = raw.get("profile", "full")
    gates = [replace(gate, profile=gate.profile or default_profile) for gate in gates]
    for gate in gates:
        comparisons = [gate.at_least is not None, gate.equals is not None, gate.at_least_metric is not None]
        if sum(comparisons) != 1:
            raise GateConfigError(f"{path}, gate {gate.name!r}: give exactly one of at_least, equals, at_least_metric.")
        defaults = (("tolerance", 0), ("margin", 0), ("factor", 1))
        relative = [key for key, unset in defaults if getattr(gate, key) != unset]
        if relative and gate.at_least_metric is None:
            raise GateConfigError(f"{path}, gate {gate.name!r}: {relative[0]} only applies with at_least_metric.")
        undescribed = [name for name in gate.metrics if name not in metrics]
        if undescribed:
            raise GateConfigError(
                f"{path}, gate {gate.name!r}: add [metrics.{undescribed[0]}] with recorded_by = "
                '"<the lesson that records it>".'
            )
    return GatesConfig(default_profile, gates, metrics)


def _run_profile(notebook: Path) -> str | None:
    import nbformat

    metadata = nbformat.read(str(notebook), as_version=4).metadata
    return metadata.get("papermill", {}).get("parameters", {}).get("profile")


class ExecutedLessons:
    """The metrics recorded by the executed notebooks ``<lesson>.ipynb`` in a folder."""

    def __init__(self, directory: Path, profile: str = "full"):
        self.directory = Path(directory)
        notebooks = sorted(self.directory.glob("*.ipynb"))
        if not notebooks:
            raise GateConfigError(
                f"No executed notebooks in {self.directory}. Run the lessons first: "
                f"python -m course_tools.notebooks --profile {profile} --out {self.directory}"
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
    """Evaluate one gate against the executed lessons of its profile."""
    profile = gate.profile or config.profile
    try:
        measured = lessons.measure(gate.metric, config.metrics[gate.metric], profile)
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
        reference = _number(
            gate.at_least_metric,
            lessons.measure(gate.at_least_metric, config.metrics[gate.at_least_metric], profile),
        )
        passed = value >= gate.bound(reference)
        sign = ">=" if passed else "<"
        return GateResult(gate, passed, f"{gate.metric} {value:.4f} {sign} {gate.describe_bound(reference)} {where}")
    except MetricUnavailable as reason:
        return GateResult(gate, False, str(reason))


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m course_tools.gates", description=__doc__.splitlines()[0])
    parser.add_argument("directory", type=Path, metavar="DIR", help="folder of executed lesson notebooks")
    parser.add_argument("--config", type=Path, default=DEFAULT_CONFIG, help="gates configuration (TOML)")
    parser.add_argument("--profile", help="the profile whose gates to check (default: the configuration's, full)")
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        config = load_gates(args.config)
        gates = config.gates_for(args.profile or config.profile)
        lessons = ExecutedLessons(args.directory, args.profile or config.profile)
    except GateConfigError as error:
        return report_error(error)
    results = [check_gate(gate, lessons, config) for gate in gates]
    for result in results:
        print(result)
    failed = sum(not result.passed for result in results)
    print(f"{len(results) - failed} of {len(results)} gate(s) passed")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
