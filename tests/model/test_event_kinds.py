"""Every kind of event the function publishes is a notification of the model, so NETCONF
subscribers (and the history's readers) get it: an event the model does not know would be
dropped on its way to the NETCONF stream. The alarm list's events are notifications of
ietf-alarms (alarm-notification, and operator-action inside the alarm entry)."""
from __future__ import annotations

import re
from pathlib import Path

from mgmt.notify import notification_schema
from nf.model import new_context

ROOT = Path(__file__).resolve().parents[2]
PUBLISHED = re.compile(r"""\.publish\(\s*["']([a-z0-9-]+)["']""")


def published_kinds() -> dict[str, list[str]]:
    kinds: dict[str, list[str]] = {}
    for path in sorted((ROOT / "nf").rglob("*.py")):
        for kind in PUBLISHED.findall(path.read_text()):
            kinds.setdefault(kind, []).append(str(path.relative_to(ROOT)))
    return kinds


def test_every_published_event_kind_is_a_notification_of_the_model():
    ctx = new_context()
    kinds = published_kinds()
    assert kinds, "no publish() call found: the pattern no longer matches the code"
    missing = {kind: where for kind, where in kinds.items() if notification_schema(ctx, kind) is None}
    assert not missing, f"event kinds without a notification in dmm-nf.yang or ietf-alarms: {missing}"
