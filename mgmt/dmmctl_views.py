"""dmmctl's human-readable output: aligned tables and short summaries.

Views take the dicts the client parsed (YANG leaf names as keys) and return text; they do
no I/O, so each can be read and tested on its own.
"""
from __future__ import annotations

from typing import Any, Iterable, Sequence

NONE = "-"


def table(headers: Sequence[str], rows: Iterable[Sequence[Any]]) -> str:
    """Left-aligned columns separated by two spaces; missing values show as '-'."""
    cells = [[str(h) for h in headers]] + [[NONE if v in (None, "", []) else str(v) for v in row] for row in rows]
    widths = [max(len(row[i]) for row in cells) for i in range(len(headers))]
    return "\n".join("  ".join(c.ljust(w) for c, w in zip(row, widths)).rstrip() for row in cells)


def pairs(items: Sequence[tuple[str, Any]]) -> str:
    """`key: value` lines with the values aligned."""
    width = max(len(k) for k, _ in items) + 1
    return "\n".join(f"{k + ':':<{width}} {NONE if v in (None, '', []) else v}" for k, v in items)


def duration(seconds: int | None) -> str | None:
    """3725 -> '1h 2m 5s'; the largest units first, zero units left out."""
    if seconds is None:
        return None
    seconds = int(seconds)
    parts = []
    for unit, size in (("d", 86400), ("h", 3600), ("m", 60)):
        if seconds >= size:
            parts.append(f"{seconds // size}{unit}")
            seconds %= size
    if seconds or not parts:
        parts.append(f"{seconds}s")
    return " ".join(parts)


def identity(value: str | None) -> str | None:
    """'dmm-nf-types:lma' -> 'lma' (an identityref without its module)."""
    return value.rsplit(":", 1)[-1] if value else value


def timestamp(value: str | None) -> str | None:
    """yang:date-and-time shortened to the second: '2026-11-23 20:58:38'."""
    return value[:19].replace("T", " ") if value else value


def microseconds(value: int | None) -> str | None:
    return None if value is None else f"{value / 1000:.1f} ms"


def prefixes(values: list[str] | None) -> str | None:
    return ",".join(values) if values else None


# ----- commands ---------------------------------------------------------------------------
def status_view(summary: dict[str, Any]) -> str:
    stats = summary["statistics"]
    lines = pairs([
        ("node", summary["name"]),
        ("roles", ", ".join(summary["roles"])),
        ("software version", summary["software-version"]),
        ("restart counter", summary["restart-counter"]),
        ("uptime", duration(summary["uptime"])),
        ("bindings", summary["bindings"]),
        ("peers", f"{summary['peers-up']} up, {summary['peers-down']} down, {summary['peers-unknown']} unknown"),
        ("active alarms", summary["active-alarms"]),
    ])
    wanted = ["pbu-received", "pbu-accepted", "pbu-rejected", "pbu-sent", "pba-received", "pba-timeouts",
              "handoffs", "deregistrations", "bindings-expired"]
    counters = [(k, stats[k]) for k in wanted if k in stats]
    heartbeat = stats.get("heartbeat", {})
    counters += [(f"heartbeat-{k}", heartbeat[k]) for k in ("timeouts",) if k in heartbeat]
    rejected = stats.get("pba-sent-by-status", []) + stats.get("pba-received-by-status", [])
    text = lines + "\n\nstatistics\n" + pairs(counters) if counters else lines
    not_accepted = [r for r in rejected if r["status"] != "accepted"]
    if not_accepted:
        text += "\n\nregistrations not accepted, by PBA status\n" + table(
            ["STATUS", "COUNT"], [(r["status"], r.get("count")) for r in not_accepted])
    if summary["pools"]:
        text += "\n\nprefix pools\n" + table(
            ["POOL", "PREFIX", "USED", "FREE"],
            [(p["name"], p.get("prefix"), p.get("used"), p.get("free")) for p in summary["pools"]])
    return text


def bindings_view(cache: list[dict[str, Any]], update_list: list[dict[str, Any]]) -> str:
    sections = []
    if cache:
        sections.append("binding cache\n" + table(
            ["MN", "LINK-LAYER-ID", "PREFIXES", "MAG (PROXY-COA)", "STATE", "REMAINING", "TUNNEL"],
            [(b["mn-identifier"], b.get("link-layer-id"), prefixes(b.get("home-network-prefix")),
              b.get("proxy-coa"), b.get("state"), duration(b.get("remaining-lifetime")), b.get("tunnel"))
             for b in cache]))
    if update_list:
        sections.append("binding update list\n" + table(
            ["MN", "LINK-LAYER-ID", "INTERFACE", "PREFIXES", "LMA", "STATE", "REMAINING", "TUNNEL"],
            [(e["mn-identifier"], e.get("link-layer-id"), e.get("interface"), prefixes(e.get("home-network-prefix")),
              e.get("lma-address"), e.get("state"), duration(e.get("remaining-lifetime")), e.get("tunnel"))
             for e in update_list]))
    return "\n\n".join(sections) if sections else "no bindings"


def peers_view(peers: list[dict[str, Any]]) -> str:
    if not peers:
        return "no peers configured"
    return table(
        ["ADDRESS", "NAME", "STATE", "RTT", "MISSED", "RESTART-COUNTER", "RESTARTS", "DOWNS", "LAST-UP", "LAST-DOWN"],
        [(p["address"], p.get("name"), p.get("liveness-state"), microseconds(p.get("rtt")),
          p.get("missed-heartbeats"), p.get("restart-counter"), p.get("restart-count"), p.get("down-count"),
          timestamp(p.get("last-up")), timestamp(p.get("last-down"))) for p in peers])


def events_view(events: list[dict[str, Any]]) -> str:
    if not events:
        return "no events"
    return table(["SEQ", "TIME (UTC)", "KIND", "MN", "PEER", "TEXT"],
                 [(e["sequence"], event_time(e.get("time")), e.get("kind"), e.get("mn-identifier"), e.get("peer"),
                   e.get("text")) for e in events])


def event_time(value: str | None) -> str | None:
    """An event's yang:date-and-time (UTC) to the millisecond: '2026-11-23 20:58:38.125'."""
    return value[:23].replace("T", " ") if value else value


def revoke_view(mn: str, output: dict[str, Any]) -> str:
    return pairs([("mobile node", mn), ("revoked", output.get("revoked", 0)),
                  ("status", output.get("status", "no Binding Revocation Acknowledgement"))])


def relocate_view(anchor: str, outputs: list[dict[str, Any]]) -> str:
    lines = []
    for o in outputs:
        if o["result"] == "relocated" and o.get("previous-anchor") == anchor:
            lines.append(f"{o['mn-identifier']}: already anchored at {anchor}")
        elif o["result"] == "relocated":
            lines.append(f"{o['mn-identifier']}: relocated from {o.get('previous-anchor')} to {anchor}")
        else:
            lines.append(f"{o['mn-identifier']}: NOT relocated ({o['result']}): {o.get('detail', '')}".rstrip(": "))
    moved = sum(1 for o in outputs if o["result"] == "relocated")
    lines.append(f"{moved} of {len(outputs)} at {anchor}")
    return "\n".join(lines)


def probe_view(output: dict[str, Any]) -> str:
    items = [("result", output["result"]), ("peer", output.get("peer")),
             ("answered", f"{output.get('received', 0)} of {output.get('sent', 0)}")]
    if "rtt" in output:
        items.append(("rtt avg/min/max", f"{microseconds(output['rtt'])} / {microseconds(output.get('rtt-min'))} / "
                                         f"{microseconds(output.get('rtt-max'))}"))
    if "bfd-state" in output:
        items.append(("bfd", f"{output['bfd-state']} ({output.get('bfd-diagnostic', 'no-diagnostic')})"))
    for probe in output.get("path-probe", []):
        verdict = "passed" if probe.get("passed") else "FAILED"
        rtt = f", rtt {microseconds(probe['rtt'])}" if "rtt" in probe else ""
        items.append((f"path {probe['prefix']}", f"{verdict}{rtt}"))
        for check in probe.get("check", []):
            mark = "ok" if check.get("as-expected") else "WRONG"
            items.append((f"  {check.get('node')} {check.get('check')}", f"{mark}: {check.get('actual', '')}"))
    for line in output.get("failure", "").splitlines():
        items.append(("failure", line))
    return pairs(items)


def self_test_view(output: dict[str, Any]) -> str:
    rows = [(c["name"], "ok" if c.get("passed") else "FAILED", f"{c.get('duration', 0)} ms", c.get("detail", ""))
            for c in output.get("check", [])]
    verdict = "self-test passed" if output["result"] == "pass" else f"self-test FAILED at {output.get('failed-step')}"
    return table(["STEP", "RESULT", "TIME", "DETAIL"], rows) + "\n" + verdict


def audit_view(output: dict[str, Any]) -> str:
    rows = [(m.get("kind"), m.get("mn-identifier", "-"), m.get("object", ""), m.get("actual", "") or "-",
             "yes" if m.get("repaired") else (m.get("repair-error") and "no") or "-")
            for m in output.get("mismatch", [])]
    summary = (f"checked {output.get('checked', 0)} entries in {output.get('duration', 0)} ms: "
               f"{output.get('mismatches', 0)} difference(s), {output.get('repaired', 0)} repaired")
    return (table(["KIND", "MN", "OBJECT", "KERNEL HAS", "REPAIRED"], rows) + "\n" if rows else "") + summary


def check_mn_view(report: dict[str, Any]) -> str:
    items: list[tuple[str, Any]] = [("mobile node", report["mn-identifier"]), ("node", report.get("node"))]
    for b in report.get("bindings", []):
        left = f", {duration(b.get('remaining-lifetime'))} left" if b.get("remaining-lifetime") is not None else ""
        items.append(("binding", f"{b.get('state')}, {prefixes(b.get('home-network-prefix'))}{left}"))
    if "anchor" in report:
        items += [("anchor (LMA)", report.get("anchor")), ("serving MAG", report.get("serving-mag"))]
    forwarding = report.get("forwarding")
    if forwarding is not None:
        items.append(("tunnel", forwarding.get("tunnel")))
        for lookup in forwarding.get("kernel-lookup", []):
            mark = "ok" if lookup.get("as-expected") else "WRONG"
            items.append((f"kernel {lookup.get('check')}", f"{mark}: {lookup.get('actual')}"))
        items.append(("binding vs kernel", "consistent" if forwarding.get("consistent") else "DIFFERENT"))
    probe = report.get("data-path")
    if probe is not None:
        items.append(("data path", probe.get("result")))
        if "bfd-state" in probe:
            items.append(("bfd", f"{probe['bfd-state']} ({probe.get('bfd-diagnostic')})"))
        for path in probe.get("path-probe", []):
            items.append((f"path {path.get('prefix')}", "passed" if path.get("passed") else "FAILED"))
    for event in report.get("events", []):
        items.append(("event", f"{timestamp(event.get('time'))} {event.get('kind')} {event.get('text') or ''}".strip()))
    problems = report.get("problems", [])
    items.append(("verdict", "OK" if not problems else "PROBLEM"))
    items += [("problem", problem) for problem in problems]
    return pairs(items)


def check_path_view(report: dict[str, Any]) -> str:
    items: list[tuple[str, Any]] = [("peer", report["peer"])]
    state = report.get("peer-state")
    if state is not None:
        items += [("name", state.get("name")), ("signalling", state.get("liveness-state")),
                  ("last heartbeat", timestamp(state.get("last-heartbeat-received"))),
                  ("path downs", state.get("down-count"))]
    probe = report.get("probe")
    if probe is not None:
        rtt = f", rtt {microseconds(probe['rtt'])}" if "rtt" in probe else ""
        items.append(("heartbeats", f"{probe.get('received', 0)} of {probe.get('sent', 0)} answered{rtt}"))
    bfd = report.get("bfd")
    if state is not None:
        if bfd is None:
            items.append(("bfd", "no session (peers/peer/bfd: needs probe addresses, or mode direct)"))
        else:
            items += [("bfd", f"{bfd.get('state')} ({bfd.get('local-diagnostic')}), remote {bfd.get('remote-state')}"),
                      ("bfd detection", microseconds(bfd.get("detection-time"))),
                      ("bfd up/down", f"{bfd.get('up-count', 0)} / {bfd.get('down-count', 0)}, last down "
                                      f"{timestamp(bfd.get('last-down')) or 'never'}")]
    problems = report.get("problems", [])
    items.append(("verdict", "OK" if not problems else "PROBLEM"))
    items += [("problem", problem) for problem in problems]
    return pairs(items)


def notification_line(time: str | None, name: str, content: dict[str, Any]) -> str:
    fields = " ".join(f"{k}={_flat(v)}" for k, v in content.items())
    return f"{timestamp(time) or time} {name} {fields}".rstrip()


def _flat(value: Any) -> str:
    if isinstance(value, list):
        return ",".join(_flat(v) for v in value)
    if isinstance(value, dict):
        return "{" + " ".join(f"{k}={_flat(v)}" for k, v in value.items()) + "}"
    return str(value)
