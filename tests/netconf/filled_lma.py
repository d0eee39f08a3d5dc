"""A dmm-nf LMA in a process of its own with its binding cache filled, for tests and
benchmarks that measure the server from outside (its memory, its logins).

    python -m tests.netconf.filled_lma CONFIG STATE_DIR BINDINGS

It prints its NETCONF port on a line once it serves, and stops when its stdin closes. A line
``budget off`` on its stdin makes its reads run without a request budget (the benchmarks'
baseline), ``budget on`` with it again; each is answered ``ok``. ``FilledLma`` runs it from a
test or a benchmark.
"""
from __future__ import annotations

import asyncio
from dataclasses import replace
import subprocess
import sys
from pathlib import Path

from tests.netconf.product import ROOT, _free_port


async def _serve(config: Path, state_dir: Path, bindings: int) -> None:
    from mgmt.service import Service, ServiceOptions
    from nf.config import load_config
    from tests.bench.bench_netconf import _fill

    options = ServiceOptions(config_path=config, netconf_port=_free_port(), metrics_port=_free_port(),
                             state_dir=state_dir)
    service = Service(load_config(config), options, lambda name: state_dir / name)
    await service.start()
    _fill(service.runtime.lma, bindings)
    print(service.netconf.port, flush=True)
    admission = service.netconf.admission
    configured = admission.limits
    loop = asyncio.get_running_loop()
    while line := await loop.run_in_executor(None, sys.stdin.readline):  # until the parent closes our stdin
        if line.strip() in ("budget off", "budget on"):
            limit = None if line.strip() == "budget off" else configured.request_time_limit
            admission.limits = replace(configured, request_time_limit=limit)
            print("ok", flush=True)
    service.runtime.lma.cache.clear()  # the entries were added behind the role's back
    await service.stop()


class FilledLma:
    """The process above; ``port``, ``rss_kb()``, ``children()``, ``stop()``."""

    def __init__(self, config: Path, state_dir: Path, bindings: int) -> None:
        self.process = subprocess.Popen([sys.executable, "-m", "tests.netconf.filled_lma", str(config),
                                         str(state_dir), str(bindings)], cwd=ROOT, stdin=subprocess.PIPE,
                                        stdout=subprocess.PIPE, text=True)
        line = self.process.stdout.readline()
        if not line.strip().isdigit():
            self.stop()
            raise RuntimeError("the LMA did not start")
        self.port = int(line)

    def budget(self, on: bool) -> None:
        """Reads with (True) or without a request budget from now on."""
        self.process.stdin.write("budget on\n" if on else "budget off\n")
        self.process.stdin.flush()
        if self.process.stdout.readline().strip() != "ok":
            raise RuntimeError("the LMA did not take the command")

    def rss_kb(self) -> int:
        for line in Path(f"/proc/{self.process.pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
        raise KeyError("VmRSS")

    def children(self) -> list[int]:
        """Process ids of its children (XPath workers)."""
        tasks = Path(f"/proc/{self.process.pid}/task")
        return [int(pid) for task in tasks.iterdir() for pid in (task / "children").read_text().split()]

    def stop(self) -> None:
        if self.process.stdin and not self.process.stdin.closed:
            self.process.stdin.close()
        try:
            self.process.wait(30)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()


if __name__ == "__main__":
    asyncio.run(_serve(Path(sys.argv[1]), Path(sys.argv[2]), int(sys.argv[3])))
