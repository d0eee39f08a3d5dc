"""The event history of a real `dmm-nf run` process survives it: a SIGTERM loses nothing, a
kill -9 loses at most the events of the last flush interval, a damaged history file is set
aside with the node still starting, and a history path that cannot be opened stops the start
with one line."""
from __future__ import annotations

import json
import signal
import time
from pathlib import Path

import pytest
from lxml import etree
from ncclient import manager

from tests.e2e.test_daemon import EXAMPLES, dmm_nf, free_port, ready, wait_for
from tests.e2e.test_dmmctl import free_udp_port

NS = "urn:dmm-nf:yang:dmm-nf"
NC_NS = "urn:ietf:params:xml:ns:netconf:base:1.0"
FLUSH_INTERVAL = 0.2  # seconds, configured below
SLACK = 0.3  # seconds of scheduling noise allowed on a loaded machine beyond the interval


class LmaProcess:
    """The LMA example with free ports, a 200 ms flush interval and a state directory that
    outlives the process."""

    def __init__(self, tmp: Path) -> None:
        text = (EXAMPLES / "lma.xml").read_text().replace("5436", str(free_udp_port()))
        text = text.replace("</location-management>", "</location-management><event-history><flush-interval>"
                            f"{int(FLUSH_INTERVAL * 1000)}</flush-interval></event-history>")
        self.config = tmp / "lma.xml"
        self.config.write_text(text)
        self.state_dir = tmp / "state"
        self.proc = None

    def start(self) -> "LmaProcess":
        self.netconf_port, metrics_port = free_port(), free_port()
        self.proc = dmm_nf("run", "--config", str(self.config), "--state-dir", str(self.state_dir),
                           "--netconf-port", str(self.netconf_port), "--metrics-port", str(metrics_port))
        wait_for(lambda: self.proc.poll() is not None or ready(metrics_port), what="the LMA's /readyz")
        assert self.proc.poll() is None, self.proc.communicate()[1]
        return self

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            self.proc.communicate(timeout=20)

    def session(self) -> manager.Manager:
        return manager.connect(host="::1", port=self.netconf_port, username="admin", password="admin",
                               hostkey_verify=False, allow_agent=False, look_for_keys=False, timeout=10)


@pytest.fixture
def lma(tmp_path):
    node = LmaProcess(tmp_path)
    yield node
    node.stop()


def commit_for(session: manager.Manager, seconds: float) -> list[float]:
    """Commit changes to running for `seconds`; the wall-clock time each was acknowledged (the
    reply comes after the node published its config-committed event)."""
    acknowledged = []
    end = time.monotonic() + seconds
    age = 86400
    while time.monotonic() < end:
        age -= 1
        session.edit_config(target="running", config=(
            f'<config xmlns="{NC_NS}"><dmm-nf xmlns="{NS}"><event-history><max-age>{age}</max-age>'
            "</event-history></dmm-nf></config>"))
        acknowledged.append(time.time())
    return acknowledged


def history(session: manager.Manager, kind: str | None = None) -> list[dict]:
    request = etree.Element(f"{{{NS}}}get-events", nsmap={None: NS})
    etree.SubElement(request, f"{{{NS}}}limit").text = "10000"
    if kind:
        etree.SubElement(request, f"{{{NS}}}kind").text = kind
    reply = etree.fromstring(session.dispatch(request).xml.encode())
    return [{etree.QName(leaf).localname: leaf.text for leaf in event} for event in reply.iter(f"{{{NS}}}event")]


def test_a_sigterm_loses_no_event(lma):
    with lma.start().session() as session:
        acknowledged = commit_for(session, 0.5)
    lma.stop()
    with lma.start().session() as session:
        assert len(history(session, "config-committed")) == len(acknowledged)


def test_a_kill_9_loses_at_most_the_events_of_the_last_flush_interval(lma):
    session = lma.start().session()  # not closed: the process it talks to is killed
    acknowledged = commit_for(session, 1.5)
    lma.proc.kill()  # SIGKILL: no chance to write what is pending
    killed_at = time.time()
    lma.proc.communicate(timeout=20)
    with lma.start().session() as session:
        kept = history(session, "config-committed")
        everything = history(session)
    safe = sum(1 for t in acknowledged if t < killed_at - FLUSH_INTERVAL - SLACK)
    assert safe > 0 and safe <= len(kept) <= len(acknowledged)
    assert "event-history-reset" not in [e["kind"] for e in everything]  # the file came through whole
    assert not list(lma.state_dir.glob("events.db.corrupt-*"))


def test_a_damaged_history_file_is_set_aside_and_the_node_starts_a_new_one(lma):
    lma.state_dir.mkdir()
    (lma.state_dir / "events.db").write_bytes(b"\x00garbage" * 512)
    with lma.start().session() as session:
        [reset] = history(session, "event-history-reset")
    data = json.loads(reset["data"])
    [aside] = lma.state_dir.glob("events.db.corrupt-*")
    assert data["set-aside"] == str(aside) and aside.read_bytes().startswith(b"\x00garbage")
    assert reset["sequence"] == "1"


def test_a_history_path_that_cannot_be_opened_stops_the_start_with_one_line(lma):
    (lma.state_dir / "events.db").mkdir(parents=True)
    proc = dmm_nf("run", "--config", str(lma.config), "--state-dir", str(lma.state_dir),
                  "--netconf-port", str(free_port()), "--metrics-port", str(free_port()))
    _, err = proc.communicate(timeout=30)
    assert proc.returncode == 1
    [line] = err.strip().splitlines()
    assert line.startswith("dmm-nf: error: cannot start: cannot open the event history ")
    assert str(lma.state_dir / "events.db") in line
