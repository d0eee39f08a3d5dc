"""Runs the benchmarks and writes docs/performance.md: ``python -m tests.bench``.

Every ``tests/bench/bench_*.py`` module exposes ``run(quick: bool = False) -> list[dict]``
(see tests.bench.harness.result for the record). Each module runs in a fresh subprocess so
one cannot skew another through memory, threads or warm caches; a module that fails, hangs
or returns malformed records is written into the file as failed rather than left out.

    python -m tests.bench                  # all modules (what `make bench` runs)
    python -m tests.bench --only transport # a subset, merged into the existing file
    python -m tests.bench --quick          # smaller samples, for a smoke run
"""
from __future__ import annotations

import argparse
import datetime as dt
import importlib
import json
import math
import os
import platform
import re
import shlex
import subprocess
import sys
import tempfile
from dataclasses import dataclass, field
from pathlib import Path

BENCH_DIR = Path(__file__).resolve().parent
REPO = BENCH_DIR.parents[1]
DEFAULT_OUTPUT = REPO / "docs" / "performance.md"
SECTION = re.compile(r"<!-- bench:(?P<name>[\w-]+) -->\n.*?<!-- /bench:(?P=name) -->\n",
                     re.DOTALL)
RESULT_KEYS = {"name", "value", "unit", "baseline", "goal", "met", "notes"}
BASELINE_KEYS = {"name", "value", "unit"}


class BenchFormatError(ValueError):
    """A bench module returned something other than a list of result records."""


@dataclass
class ModuleOutcome:
    name: str
    results: list[dict] = field(default_factory=list)
    error: str | None = None
    seconds: float = 0.0


def discover() -> list[str]:
    """Module names without the bench_ prefix, e.g. "transport" for bench_transport.py."""
    return sorted(p.stem.removeprefix("bench_") for p in BENCH_DIR.glob("bench_*.py"))


def validate(records: object) -> list[dict]:
    if not isinstance(records, list) or not records:
        raise BenchFormatError("run() must return a non-empty list of result dicts")
    for record in records:
        if not isinstance(record, dict) or set(record) != RESULT_KEYS:
            raise BenchFormatError(f"result must have exactly the keys {sorted(RESULT_KEYS)}: "
                                   f"{record!r}")
        _check_figure(record)
        base = record["baseline"]
        if base is not None:
            if not isinstance(base, dict) or set(base) != BASELINE_KEYS:
                raise BenchFormatError(f"baseline must have the keys {sorted(BASELINE_KEYS)}")
            _check_figure(base)
        if record["met"] is not None and not isinstance(record["met"], bool):
            raise BenchFormatError(f"met must be true, false or null: {record['met']!r}")
        for key in ("goal", "notes"):
            if record[key] is not None and not isinstance(record[key], str):
                raise BenchFormatError(f"{key} must be a string or null")
    return records


def _check_figure(record: dict) -> None:
    if not isinstance(record["name"], str) or not isinstance(record["unit"], str):
        raise BenchFormatError("name and unit must be strings")
    value = record["value"]
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
        raise BenchFormatError(f"value must be a finite number: {value!r}")


# --- running ------------------------------------------------------------------------------
def run_module(name: str, quick: bool, timeout: float) -> ModuleOutcome:
    """Runs one module in a fresh interpreter and collects its records or its failure."""
    with tempfile.TemporaryDirectory() as tmp:
        out = Path(tmp) / "results.json"
        command = [sys.executable, "-m", "tests.bench", "--child", name, "--result-file",
                   str(out)] + (["--quick"] if quick else [])
        started = dt.datetime.now().timestamp()
        try:
            proc = subprocess.run(command, cwd=REPO, capture_output=True, text=True,
                                  timeout=timeout)
        except subprocess.TimeoutExpired:
            return ModuleOutcome(name, error=f"timed out after {timeout:.0f} s")
        seconds = dt.datetime.now().timestamp() - started
        if proc.returncode != 0:
            tail = "\n".join(proc.stderr.strip().splitlines()[-15:])
            return ModuleOutcome(name, error=f"exit status {proc.returncode}\n{tail}",
                                 seconds=seconds)
        try:
            records = validate(json.loads(out.read_text(encoding="utf-8")))
        except (OSError, ValueError) as exc:
            return ModuleOutcome(name, error=f"unusable results: {exc}", seconds=seconds)
        return ModuleOutcome(name, results=records, seconds=seconds)


def child_main(name: str, result_file: Path, quick: bool) -> int:
    module = importlib.import_module(f"tests.bench.bench_{name}")
    records = validate(module.run(quick=quick))
    result_file.write_text(json.dumps(records), encoding="utf-8")
    return 0


# --- the report ---------------------------------------------------------------------------
def machine_info() -> dict[str, str]:
    model = "unknown"
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                model = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    return {
        "CPU": model,
        "cores": f"{os.cpu_count()} (usable by this process: {len(os.sched_getaffinity(0))})",
        "kernel": f"{platform.system()} {platform.release()}",
        "Python": f"{platform.python_implementation()} {platform.python_version()}",
        "date": dt.datetime.now(dt.timezone.utc).strftime("%Y-%m-%d %H:%M UTC"),
    }


def _number(value: float) -> str:
    if value == 0 or abs(value) >= 100:
        return f"{value:,.0f}"
    return f"{value:.3g}"


def _cell(text: str | None) -> str:
    return "—" if text is None else text.replace("|", "\\|").replace("\n", " ")


def render_section(outcome: ModuleOutcome, command: str, date: str) -> str:
    lines = [f"<!-- bench:{outcome.name} -->", f"## {outcome.name}", "",
             f"Measured {date} by `{command}` in {outcome.seconds:.0f} s.", ""]
    if outcome.error is not None:
        lines += ["**FAILED** — no figures from this run.", "", "```",
                  outcome.error.strip(), "```"]
    else:
        lines += ["| figure | value | baseline (same run) | ratio | goal | met |",
                  "|---|---:|---|---:|---|---|"]
        for r in outcome.results:
            base, ratio = "—", "—"
            if r["baseline"] is not None:
                b = r["baseline"]
                base = f"{_cell(b['name'])}: {_number(b['value'])} {_cell(b['unit'])}"
                if b["value"]:
                    ratio = f"{r['value'] / b['value']:.2f}×"
            met = {True: "yes", False: "**no**", None: "—"}[r["met"]]
            lines.append(f"| {_cell(r['name'])} | {_number(r['value'])} {_cell(r['unit'])} "
                         f"| {base} | {ratio} | {_cell(r['goal'])} | {met} |")
        notes = [f"- {r['name']}: {r['notes']}" for r in outcome.results if r["notes"]]
        if notes:
            lines += ["", "Notes:", *notes]
    lines.append(f"<!-- /bench:{outcome.name} -->")
    return "\n".join(lines) + "\n"


def render(sections: dict[str, str], command: str, machine: dict[str, str]) -> str:
    head = [
        "# Measured performance",
        "",
        "Generated by the benchmark runner; do not edit by hand. How the figures are measured",
        "and how to read them: [benchmarks.md](benchmarks.md).",
        "",
        f"Produced by: `{command}`",
        "",
        "Machine of the latest run:",
        "",
        *[f"- {key}: {value}" for key, value in machine.items()],
        "",
        "Ratios compare each figure with a baseline measured in the same run, because these",
        "machines are shared and noisy: absolute numbers move between runs, ratios much less.",
        "",
    ]
    return "\n".join(head) + "\n" + "\n".join(sections[name] for name in sorted(sections))


def existing_sections(path: Path) -> dict[str, str]:
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        return {}
    return {m.group("name"): m.group(0) for m in SECTION.finditer(text)}


def invoking_command(argv: list[str]) -> str:
    if not argv and os.environ.get("MAKELEVEL"):
        return "make bench"
    return shlex.join(["python", "-m", "tests.bench", *argv])


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    parser = argparse.ArgumentParser(prog="python -m tests.bench", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--only", action="append", metavar="NAME",
                        help="run only this module (repeatable); other sections of the "
                             "output file are kept")
    parser.add_argument("--quick", action="store_true", help="smaller samples")
    parser.add_argument("--output", type=Path, default=DEFAULT_OUTPUT)
    parser.add_argument("--timeout", type=float, default=900, help="seconds per module")
    parser.add_argument("--child", help=argparse.SUPPRESS)
    parser.add_argument("--result-file", type=Path, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.child:
        return child_main(args.child, args.result_file, args.quick)

    available = discover()
    chosen = args.only or available
    unknown = sorted(set(chosen) - set(available))
    if unknown:
        parser.error(f"no such bench module: {', '.join(unknown)} "
                     f"(available: {', '.join(available)})")
    command = invoking_command(argv)
    machine = machine_info()
    sections = existing_sections(args.output) if args.only else {}
    failed = 0
    for name in chosen:
        print(f"bench {name} ...", flush=True)
        outcome = run_module(name, args.quick, args.timeout)
        failed += outcome.error is not None
        print(f"bench {name}: " + ("FAILED" if outcome.error else
                                   f"{len(outcome.results)} figures") +
              f" in {outcome.seconds:.0f} s", flush=True)
        sections[name] = render_section(outcome, command, machine["date"])
    args.output.parent.mkdir(parents=True, exist_ok=True)
    args.output.write_text(render(sections, command, machine), encoding="utf-8")
    print(f"wrote {args.output}")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
