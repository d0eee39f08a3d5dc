"""NETCONF notifications from the running lab's functions (RFC 5277 subscriptions over ncclient)."""
from __future__ import annotations

import time

from lxml import etree
from ncclient import manager

from mgmt.lab_cli import Lab
from nf.lab.configs import PASSWORD, USER

NS = "urn:dmm-nf:yang:dmm-nf"


def subscribe(lab: Lab, host: str):
    """A NETCONF session to `host` subscribed to its notification stream; close it after use."""
    session = manager.connect(host=str(lab.topology.management_address(host)), port=830, username=USER,
                              password=PASSWORD, hostkey_verify=False, look_for_keys=False, allow_agent=False,
                              timeout=10)
    session.create_subscription()
    return session


def next_notification(session, kind: str, timeout: float = 10.0, **match: str) -> etree._Element:
    """The next `kind` notification whose leaves have the values `match` gives (a leaf name
    with '_' for '-'); AssertionError after `timeout` s."""
    return notifications(session, [kind], timeout, **match)[kind]


def notifications(session, kinds: list[str], timeout: float = 10.0, **match: str) -> dict[str, etree._Element]:
    """The first notification of each of `kinds` matching `match`, in whatever order they come
    (one event can give several, and their order on the stream is not defined)."""
    found: dict[str, etree._Element] = {}
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline and len(found) < len(kinds):
        note = session.take_notification(block=True, timeout=max(0.1, deadline - time.monotonic()))
        if note is None:
            continue
        tree = etree.fromstring(note.notification_xml.encode())
        for kind in kinds:
            element = tree.find(f".//{{{NS}}}{kind}")
            if kind not in found and element is not None and all(
                    element.findtext(f"{{{NS}}}{leaf.replace('_', '-')}") == value for leaf, value in match.items()):
                found[kind] = element
    missing = [kind for kind in kinds if kind not in found]
    if missing:
        raise AssertionError(f"no {', '.join(missing)} notification {match or ''} within {timeout} s")
    return found


def leaves(note: etree._Element) -> dict[str, str]:
    """A notification's leaves by name."""
    return {etree.QName(child).localname: child.text for child in note}
