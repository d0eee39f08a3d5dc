"""Benchmark: the durable event history — what keeping an event costs, and how long reads of
a full history take.

- Recording on the loop: the time `record` takes per event (what a registration pays),
  against the memory history's in the same run.
- Writing off the loop: the CPU the writer spends per event (encoding the blocks, SQLite,
  one synced commit per batch), against encoding the same events' data as JSON alone.
- Reads of a history of 100,000 events (the default max-entries) of binding events of
  10,000 mobile nodes with a configuration commit every 1,000 events: the five newest
  events of one node (what `dmmctl check-mn` asks), every event of one node, the events of
  one kind that is rare, the operational event-history list as NETCONF builds it (records,
  JSON, libyang tree), each against reading every event of the history in the same run.

Run: `.venv/bin/python -m tests.bench --only history [--quick]`
"""
from __future__ import annotations

import json
import time
from pathlib import Path
from tempfile import TemporaryDirectory
from types import MappingProxyType

from nf.core.events import Event
from nf.history import DurableHistory, EventQuery, MemoryHistory
from tests.bench.harness import baseline, median, result

NODES = 10_000
COMMIT_EVERY = 1_000


def _events(count: int, start: float) -> list[Event]:
    """Registration-like events, as the LMA publishes them."""
    events = []
    for i in range(count):
        if i % COMMIT_EVERY == COMMIT_EVERY - 1:
            data = {"user": "admin", "session-id": 7, "changes": [{"path": "/dmm-nf:dmm-nf/timers/"
                    "timestamp-validity-window", "operation": "replace"}], "change-count": 1, "confirmed": False}
            events.append(Event("config-committed", start + i * 0.001, MappingProxyType(data)))
            continue
        mn = i % NODES
        events.append(Event("binding-created", start + i * 0.001, MappingProxyType({
            "mn-identifier": f"mn{mn}@bench.example", "link-layer-id": "",
            "home-network-prefix": [f"2001:db8:{mn:x}::/64"], "proxy-coa": f"2001:db8:ffff::{mn % 100 + 1:x}",
            "lma-address": "2001:db8::1", "access-technology-type": 3, "handoff-indicator": 1,
            "lifetime": 3600, "tunnel": f"pmip-{mn % 100:08x}"})))
    return events


def _record_ns(history, events: list[Event]) -> float:
    """As the bus records: the event and the plain dict of its data the bus built."""
    data = [dict(event.data) for event in events]
    start = time.perf_counter()
    for event, values in zip(events, data):
        history.record(event, values)
    return (time.perf_counter() - start) / len(events) * 1e9


def _timed(fn, repeat: int = 3) -> tuple[float, object]:
    times, value = [], None
    for _ in range(repeat):
        start = time.perf_counter()
        value = fn()
        times.append(time.perf_counter() - start)
    return median(times), value


def run(quick: bool = False) -> list[dict]:
    count = 20_000 if quick else 100_000
    events = _events(count, time.time() - count * 0.001)
    results = []
    with TemporaryDirectory() as tmp:
        # recording on the loop, and the writer's CPU per event
        memory_ns = _record_ns(MemoryHistory(max_entries=count, max_age=None), events)
        history = DurableHistory(Path(tmp) / "events.db", count, None, flush_interval=60.0, pending_limit=count)
        durable_ns = _record_ns(history, events)
        recorded = time.process_time()
        assert history.flush(timeout=300)
        write_us = (time.process_time() - recorded) / count * 1e6
        encode = time.process_time()
        for i in range(0, count, 256):
            json.dumps([(j, round(e.time * 1e6), e.kind, dict(e.data)) for j, e in enumerate(events[i:i + 256])],
                       separators=(",", ":"))
        encode_us = (time.process_time() - encode) / count * 1e6
        size = (Path(tmp) / "events.db").stat().st_size
        results += [
            result("event recorded on the runtime's loop (durable history)", durable_ns, "ns/event",
                   baseline=baseline("memory history, same events", memory_ns, "ns/event"),
                   goal="< 1 µs per event: no encoding, no I/O on the loop", met=durable_ns < 1000,
                   notes=f"{count:,} binding events recorded into the pending queue"),
            result("event written by the history's writer thread", write_us, "µs CPU/event",
                   baseline=baseline("JSON encoding of the same events alone", encode_us, "µs CPU/event"),
                   goal="< 5 µs CPU per event (5 % of a core at 10,000 events/s)", met=write_us < 5,
                   notes=f"{count:,} events written at once: blocks of 256, one synced transaction; file "
                         f"{size / count:.0f} B/event"),
        ]

        # reads of a full history
        mn = "mn4242@bench.example"
        full_s, page = _timed(lambda: history.query(EventQuery(limit=None)))
        assert len(page.events) == count
        reads = {
            "the 5 newest events of one mobile node (dmmctl check-mn)":
                EventQuery(mn_identifier=mn, newest_first=True, limit=5),
            "every event of one mobile node": EventQuery(mn_identifier=mn, limit=None),
            f"every config-committed event (1 in {COMMIT_EVERY:,})":
                EventQuery(kinds=frozenset({"config-committed"}), limit=None),
            "the events of the last 10 s": EventQuery(since=events[-1].time - 10, limit=None),
        }
        for name, query in reads.items():
            seconds, page = _timed(lambda query=query: history.query(query))
            assert page.events, name
            results.append(result(f"read of {name} from {count:,} events", seconds * 1000, "ms",
                                  baseline=baseline(f"reading all {count:,} events", full_s * 1000, "ms"),
                                  notes=f"{len(page.events)} events found"))
        results.append(_operational_list(history, count, full_s))
        history.close()
    return results


def _operational_list(history: DurableHistory, count: int, full_s: float) -> dict:
    """The event-history list as the NETCONF server builds it for a <get> of it whole."""
    from mgmt.history import HistoryService
    from nf.core.events import EventBus
    from nf.model import new_context
    from nf.snapshot import EventHistoryState

    ctx = new_context()
    service = HistoryService(ctx, EventBus(history=history), {"lma"})

    def build():
        state = service.state(EventHistoryState(history.status(), None, None))
        tree = ctx.parse_data_mem(json.dumps({"dmm-nf:dmm-nf": {"event-history": state}}), "json",
                                  parse_only=True, strict=True)
        tree.free()
        return state

    seconds, state = _timed(build, repeat=1)
    assert len(state["event"]) == count
    return result(f"operational event-history list of {count:,} events (records, JSON, libyang tree)",
                  seconds, "s", baseline=baseline(f"reading all {count:,} events", full_s, "s"),
                  notes="what a <get> of /dmm-nf/event-history does before NACM, the filter and printing")


if __name__ == "__main__":
    import sys

    print(json.dumps(run(quick="--quick" in sys.argv), indent=2))
