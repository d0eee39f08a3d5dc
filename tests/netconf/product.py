"""A real dmm-nf service (runtime, NETCONF server, the dmm-nf model) in this process, so a
test can edit it over NETCONF and look at what the runtime then holds.

The service runs on its own asyncio loop in a thread, as `dmm-nf run` does in its main
thread; the test speaks NETCONF to it over SSH with ncclient. Events of other parts (BFD,
the forwarding audit) are injected with `publish(...)`, on the loop like any producer.
"""
from __future__ import annotations

import asyncio
import socket
import threading
from pathlib import Path
from typing import Any, Callable, Sequence

from lxml import etree
from ncclient import manager

ROOT = Path(__file__).resolve().parents[2]
NS = "urn:dmm-nf:yang:dmm-nf"
AL = "urn:ietf:params:xml:ns:yang:ietf-alarms"
NACM_NS = "urn:ietf:params:xml:ns:yang:ietf-netconf-acm"
ADMIN = ("admin", "admin")  # an operator in the shipped NACM policy
GUEST = ("guest", "guest")  # a NETCONF user the shipped NACM policy puts in no group
READER = ("reader", "reader")  # in the monitoring group of `nacm_with_reader()`


def _free_port(kind: int = socket.SOCK_STREAM) -> int:
    with socket.socket(socket.AF_INET6, kind) as s:
        s.bind(("::1", 0))
        return s.getsockname()[1]


def nacm_with_reader() -> str:
    """The shipped NACM policy, with READER in its monitoring group, as configuration XML."""
    from mgmt.netconf.nacm import DEFAULT_NACM_XML

    nacm = etree.fromstring(DEFAULT_NACM_XML.read_bytes())
    group = nacm.find(f"{{{NACM_NS}}}groups/{{{NACM_NS}}}group[{{{NACM_NS}}}name='monitoring']")
    etree.SubElement(group, f"{{{NACM_NS}}}user-name").text = READER[0]
    return etree.tostring(nacm, encoding="unicode")


def lma_config(out: Path, users: Sequence[tuple[str, str]] = (GUEST,), extra: str = "") -> Path:
    """lma.xml on free ports (its MAG peer on one nobody listens on), with `users` beside
    ``admin`` and `extra` top-level configuration XML (NACM, /alarms/control...)."""
    tree = etree.parse(str(ROOT / "yang" / "examples" / "lma.xml"))
    tree.find(f"{{{NS}}}transport/{{{NS}}}udp-port").text = str(_free_port(socket.SOCK_DGRAM))
    for port in tree.findall(f"{{{NS}}}peers/{{{NS}}}peer/{{{NS}}}udp-port"):
        port.text = str(_free_port(socket.SOCK_DGRAM))
    netconf = tree.find(f"{{{NS}}}management/{{{NS}}}netconf")
    for name, password in users:
        user = etree.SubElement(netconf, f"{{{NS}}}user")
        etree.SubElement(user, f"{{{NS}}}name").text = name
        etree.SubElement(user, f"{{{NS}}}password").text = f"$0${password}"
    out.write_text(etree.tostring(tree.getroot(), encoding="unicode") + extra)
    return out


def loopback_configs(tmp: Path) -> tuple[Path, Path]:
    """lma.xml and mag.xml signalling to each other over UDP on loopback, on free ports."""
    ports = {"lma": _free_port(socket.SOCK_DGRAM), "mag": _free_port(socket.SOCK_DGRAM)}
    paths = []
    for role, other in (("lma", "mag"), ("mag", "lma")):
        tree = etree.parse(str(ROOT / "yang" / "examples" / f"{role}.xml"))
        tree.find(f"{{{NS}}}transport/{{{NS}}}udp-port").text = str(ports[role])
        tree.find(f"{{{NS}}}peers/{{{NS}}}peer/{{{NS}}}udp-port").text = str(ports[other])
        paths.append(tmp / f"{role}.xml")
        tree.write(str(paths[-1]))
    return paths[0], paths[1]


class ServiceThread:
    """``dmm-nf run`` with lma.xml (or `config`), its loop in a thread; ``stop()`` ends it."""

    def __init__(self, tmp: Path, config: Path | None = None, users: Sequence[tuple[str, str]] = (GUEST,),
                 extra_config: str = "") -> None:
        """``tmp`` holds the config file and the state directory; a second service on the
        same ``tmp`` (and config) is the same node booting again."""
        self.tmp = tmp
        self.config = config or tmp / "lma.xml"
        if not self.config.exists():
            lma_config(self.config, users, extra_config)
        self.service: Any = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._stopping: asyncio.Event | None = None
        self._ready = threading.Event()
        self._error: BaseException | None = None
        self._thread = threading.Thread(target=self._run, name="dmm-nf-service", daemon=True)
        self._thread.start()
        if not self._ready.wait(60):
            raise RuntimeError("the service did not start")
        if self._error is not None:
            raise self._error

    def _run(self) -> None:
        try:
            asyncio.run(self._main())
        except BaseException as exc:  # reported to the test thread by __init__
            self._error = exc
            self._ready.set()

    async def _main(self) -> None:
        from mgmt.service import Service, ServiceOptions
        from nf.config import load_config

        options = ServiceOptions(config_path=self.config, netconf_port=_free_port(), metrics_port=_free_port(),
                                 state_dir=self.tmp / f"state-{self.config.stem}")
        self.service = Service(load_config(self.config), options, lambda name: self.tmp / name)
        await self.service.start()
        self._loop = asyncio.get_running_loop()
        self._stopping = asyncio.Event()
        self._ready.set()
        await self._stopping.wait()
        await self.service.stop()

    @property
    def port(self) -> int:
        return self.service.netconf.port

    @property
    def runtime(self) -> Any:
        return self.service.runtime

    @property
    def metrics_url(self) -> str:
        return self.service.metrics.url + "/metrics"

    def on_loop(self, fn: Callable[[], Any]) -> Any:
        """``fn()`` run on the service's loop, where the runtime's state lives."""
        async def call() -> Any:
            return fn()
        return asyncio.run_coroutine_threadsafe(call(), self._loop).result(10)

    def publish(self, kind: str, **data: Any) -> None:
        """An event on the runtime's bus, published from its loop."""
        self.on_loop(lambda: self.runtime.events.publish(kind, **data))

    def connect(self, user: tuple[str, str] = ADMIN) -> manager.Manager:
        return manager.connect(host="::1", port=self.port, username=user[0], password=user[1],
                               hostkey_verify=False, allow_agent=False, look_for_keys=False, timeout=10)

    def stop(self) -> None:
        if self._loop is not None and self._stopping is not None:
            self._loop.call_soon_threadsafe(self._stopping.set)
        self._thread.join(30)
