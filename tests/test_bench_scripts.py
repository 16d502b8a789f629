"""The benchmarks are not run by `make test` (they take minutes on a quiet machine), but they must keep
importing and parsing their defaults: a refactor of the shared test infrastructure once broke all of them
unnoticed."""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
BENCHES = sorted(REPO.glob("services/*/bench/bench_*.py"))
# Benchmarks of a way through several services (bench/<name>/bench_*.py)
CROSS_SERVICE = sorted(REPO.glob("bench/*/bench_*.py"))


def test_every_service_has_a_benchmark() -> None:
    assert {p.parents[1].name for p in BENCHES} == {p.name for p in (REPO / "services").iterdir() if p.is_dir()}


def test_the_cross_service_benchmarks_are_found() -> None:
    """A moved folder would otherwise leave them out of the test below without a word."""
    assert {"bench_speed_to_lead", "bench_scale_out"} <= {p.stem for p in CROSS_SERVICE}


@pytest.mark.parametrize("path", BENCHES + CROSS_SERVICE, ids=lambda p: p.stem)
def test_benchmark_imports_and_parses_its_defaults(path: Path) -> None:
    name = f"bench_script_{path.stem}"
    spec = importlib.util.spec_from_file_location(name, path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module  # dataclasses look their module up while the file executes
    try:
        spec.loader.exec_module(module)
        args = module.parse_args([])
    finally:
        sys.modules.pop(name, None)
    assert vars(args), f"{path.name}: parse_args([]) gave no options"


def test_the_benchmarks_find_the_stack_they_start() -> None:
    """Every benchmark starts the local stack through the test kit's path to stack.py: moving the kit once
    left that path pointing outside the repository, and only a real run found it."""
    from telesales_testkit import bench

    assert bench.REPO_ROOT == REPO
    assert bench.STACK.is_file(), bench.STACK
