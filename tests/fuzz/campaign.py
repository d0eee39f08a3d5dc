"""Fuzz campaign: ``python -m tests.fuzz.campaign [--seconds N] [--only T]``.

Runs each target of ``tests.fuzz.targets`` in its own subprocess under atheris (libFuzzer)
for N seconds, seeded from ``regressions/<target>/``; prints executions, coverage edges and
crashes per target. Crash inputs go to ``fuzz-artifacts/<target>/``.
"""
import argparse
import re
import subprocess
import sys
import tempfile
from pathlib import Path


HERE = Path(__file__).resolve().parent
ARTIFACTS = Path("fuzz-artifacts")


def _child(name: str, args: list[str]) -> None:
    import atheris

    # only the product code is instrumented: the coverage that steers the fuzzer
    with atheris.instrument_imports(include=["nf"]):
        from tests.fuzz.targets import TARGETS
    atheris.Setup([sys.argv[0], *args], TARGETS[name])
    atheris.Fuzz()


def run(name: str, seconds: int = 0, runs: int = 0) -> dict:
    """One target in a subprocess; the libFuzzer figures it reached."""
    out = ARTIFACTS / name
    out.mkdir(parents=True, exist_ok=True)
    corpus = Path(tempfile.mkdtemp(prefix=f"dmm-fuzz-{name}-"))
    seeds = HERE / "regressions" / name
    args = [f"-artifact_prefix={out}/", "-print_final_stats=1"]
    args += [f"-max_total_time={seconds}"] if seconds else []
    args += [f"-runs={runs}"] if runs else []
    args += [str(corpus)] + ([str(seeds)] if seeds.is_dir() else [])
    proc = subprocess.run(
        [sys.executable, "-m", "tests.fuzz.campaign", "--child", name, "--", *args],
        capture_output=True, text=True, errors="replace",
    )
    log = proc.stderr
    execs = re.findall(r"stat::number_of_executed_units:\s*(\d+)", log)
    edges = re.findall(r"cov: (\d+)", log)
    crashes = sorted(str(p) for p in out.glob("crash-*"))
    return {
        "target": name, "returncode": proc.returncode,
        "execs": int(execs[-1]) if execs else 0,
        "edges": int(edges[-1]) if edges else 0,
        "crashes": crashes, "log": log,
    }


def main(argv: list[str] | None = None) -> int:
    if argv is None and sys.argv[1:2] == ["--child"]:
        _child(sys.argv[2], sys.argv[4:])
        return 0
    from tests.fuzz.targets import TARGETS

    parser = argparse.ArgumentParser(prog="python -m tests.fuzz.campaign")
    parser.add_argument("--seconds", type=int, default=60)
    parser.add_argument("--only", choices=sorted(TARGETS))
    opts = parser.parse_args(argv)
    failed = False
    for name in [opts.only] if opts.only else sorted(TARGETS):
        result = run(name, seconds=opts.seconds)
        print(f"{name}: {result['execs']} execs, {result['edges']} edges, "
              f"{len(result['crashes'])} crashes in {opts.seconds} s")
        for crash in result["crashes"]:
            print(f"  crash input: {crash}")
        failed |= result["returncode"] != 0 or bool(result["crashes"])
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
