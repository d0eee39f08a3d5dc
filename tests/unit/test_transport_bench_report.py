"""The benchmark runner's report: record validation, failed modules, merging with --only."""
from __future__ import annotations

import importlib
import socket

import pytest

from tests.bench.harness import start_echo_server, udp_request_rate

bench = importlib.import_module("tests.bench.__main__")


def record(**changes) -> dict:
    base = {"name": "echo", "value": 200.0, "unit": "round trips/s",
            "baseline": {"name": "plain", "value": 100.0, "unit": "round trips/s"},
            "goal": "> 150", "met": True, "notes": "median of 3"}
    return base | changes


def test_valid_records_pass_validation_unchanged():
    records = [record(), record(baseline=None, goal=None, met=None, notes=None)]
    assert bench.validate(records) == records


@pytest.mark.parametrize("bad", [
    [],
    "not a list",
    [record(value="fast")],
    [record(value=float("nan"))],
    [record(met="yes")],
    [record(baseline={"name": "x"})],
    [{"name": "echo", "value": 1.0}],
])
def test_malformed_records_are_a_typed_error(bad):
    with pytest.raises(bench.BenchFormatError):
        bench.validate(bad)


def test_section_shows_figure_baseline_ratio_goal_and_met():
    outcome = bench.ModuleOutcome("transport", results=[record()], seconds=3)
    text = bench.render_section(outcome, "make bench", "2026-01-01 00:00 UTC")
    row = next(line for line in text.splitlines() if line.startswith("| echo"))
    assert row == ("| echo | 200 round trips/s | plain: 100 round trips/s | 2.00× | > 150 "
                   "| yes |")
    assert "by `make bench`" in text


def test_failed_module_is_reported_with_its_error():
    outcome = bench.ModuleOutcome("lma", error="exit status 1\nRuntimeError: no LMA")
    text = bench.render_section(outcome, "make bench", "2026-01-01 00:00 UTC")
    assert "## lma" in text and "**FAILED**" in text and "RuntimeError: no LMA" in text


def test_only_replaces_its_own_section_and_keeps_the_others(tmp_path):
    machine = {"CPU": "test", "date": "2026-01-01 00:00 UTC"}
    old = {name: bench.render_section(bench.ModuleOutcome(name, results=[record()]),
                                      "make bench", machine["date"])
           for name in ("lma", "transport")}
    path = tmp_path / "performance.md"
    path.write_text(bench.render(old, "make bench", machine), encoding="utf-8")

    sections = bench.existing_sections(path)
    assert set(sections) == {"lma", "transport"}
    sections["transport"] = bench.render_section(
        bench.ModuleOutcome("transport", results=[record(value=300.0)]),
        "python -m tests.bench --only transport", machine["date"])
    merged = bench.render(sections, "python -m tests.bench --only transport", machine)

    assert "Produced by: `python -m tests.bench --only transport`" in merged
    assert old["lma"] in merged
    assert "| echo | 300 round trips/s" in merged
    assert "| echo | 200 round trips/s" in merged  # the kept lma section


def test_make_bench_is_named_as_the_command_when_make_runs_it(monkeypatch):
    monkeypatch.setenv("MAKELEVEL", "1")
    assert bench.invoking_command([]) == "make bench"
    assert bench.invoking_command(["--only", "x"]) == "python -m tests.bench --only x"


def test_load_client_gets_every_answer_from_the_echo_server():
    with start_echo_server("::1", "transport") as server:
        load = udp_request_rate(server.target, lambda i: i.to_bytes(8, "big"), 1000, window=8,
                                answer_timeout=2.0)
    assert (load.sent, load.answered, load.lost) == (1000, 1000, 0)
    assert load.rate > 0


def test_load_client_counts_requests_nobody_answers_as_lost():
    silent = socket.socket(socket.AF_INET6, socket.SOCK_DGRAM)
    silent.bind(("::1", 0))
    try:
        load = udp_request_rate(silent.getsockname()[:2], lambda i: b"x", 4, window=4,
                                answer_timeout=0.05)
    finally:
        silent.close()
    assert (load.sent, load.answered, load.lost) == (4, 0, 4)
