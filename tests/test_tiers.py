"""The two test tiers: ``make test-quick`` deselects exactly the slow tier's markers, which pyproject.toml registers;
an unmarked test that starts a kernel fails, a marked one runs; ``make docs`` builds the site as its test does."""

import re
import subprocess
import tomllib
from pathlib import Path

from tests.conftest import SLOW_TIER
from tests.docs.test_site import SPHINX_FLAGS

ROOT = Path(__file__).resolve().parents[1]
pytest_plugins = ["pytester"]


def make_dry_run(target: str) -> list[str]:
    """The commands ``make <target>`` would run, one per line."""
    dry_run = subprocess.run(["make", "-n", target], cwd=ROOT, capture_output=True, text=True, check=True)
    return dry_run.stdout.splitlines()


def test_the_quick_tier_leaves_out_every_marker_of_the_slow_tier_and_nothing_else():
    registered = tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["pytest"]["ini_options"]["markers"]
    assert set(SLOW_TIER) <= {marker.split(":")[0] for marker in registered}
    (command,) = [line for line in make_dry_run("test-quick") if "-m pytest" in line]
    assert re.search(r'-m "not \(([a-z ]+)\)"', command).group(1).split(" or ") == list(SLOW_TIER)
    (full,) = [line for line in make_dry_run("test") if "-m pytest" in line]
    assert ' -m "' not in full, "make test runs every tier"


def test_an_unmarked_test_that_starts_a_kernel_fails_and_a_marked_one_runs(pytester):
    pytester.makeconftest((ROOT / "tests" / "conftest.py").read_text())
    pytester.makeini("[pytest]\nmarkers =\n" + "".join(f"    {marker}: the slow tier\n" for marker in SLOW_TIER))
    pytester.makepyfile(
        """
        import pytest
        from jupyter_client.manager import start_new_kernel

        def start_and_stop():
            manager, client = start_new_kernel()
            client.stop_channels()
            manager.shutdown_kernel(now=True)

        def test_unmarked():
            start_and_stop()

        @pytest.mark.slow
        def test_marked():
            start_and_stop()
        """
    )
    result = pytester.runpytest_subprocess("-p", "no:cacheprovider")
    result.assert_outcomes(passed=1, failed=1)
    result.stdout.fnmatch_lines(["*test_unmarked starts a Jupyter kernel: mark it @pytest.mark.slow*"])


def test_make_docs_builds_the_site_as_its_test_does():
    (command,) = [line for line in make_dry_run("docs") if "-m sphinx" in line]
    words = command.split("-m sphinx", 1)[1].split()
    assert tuple(words[: len(SPHINX_FLAGS)]) == SPHINX_FLAGS
