"""The event list printed straight to XML (for a <get> of the whole history) is what libyang
prints for the same records."""
from __future__ import annotations

import json

from hypothesis import example, given, settings
from hypothesis import strategies as st

from mgmt.history import EventRecords, xml_pieces
from mgmt.yang_values import pin_utc
from nf.history import StoredEvent
from nf.history.query import peer_fields
from nf.model import new_context

NS = "urn:dmm-nf:yang:dmm-nf"
pin_utc()  # as the NETCONF service does: libyang prints times in the local zone
CTX = new_context()
RECORDS = EventRecords(CTX, peer_fields({"lma"}))

# strings XML can hold, as the model's string leaves take them
texts = st.text(st.characters(blacklist_categories=("Cs", "Cc"), blacklist_characters="\ufffe\uffff"),
                min_size=1, max_size=30)
values = st.recursive(st.one_of(st.none(), st.booleans(), st.integers(-2**40, 2**40), texts),
                      lambda inner: st.lists(inner, max_size=3) | st.dictionaries(texts, inner, max_size=3),
                      max_leaves=6)
events = st.builds(
    lambda sequence, time, kind, data: StoredEvent(sequence, time, kind, data),
    st.integers(1, 2**63 - 1), st.floats(0, 4_102_444_800, allow_nan=False),
    st.sampled_from(["binding-created", "peer-path-down", "config-committed", "a-kind-of-a-later-release"]),
    st.dictionaries(texts, values, max_size=4)
    | st.fixed_dictionaries({"mn-identifier": texts, "proxy-coa": st.just("2001:db8::a"),
                             "handoff-indicator": st.sampled_from([1, 2, 250])}),
)
ODD = StoredEvent(7, 1_700_000_000.25, "binding-deleted", {"mn-identifier": "a&b<c>\"'@example.net",
                                                           "proxy-coa": "2001:db8::a", "reason": "x > y & z"})


def libyang_xml(records: list[dict]) -> str:
    doc = {"dmm-nf:dmm-nf": {"event-history": {"event": records}}}
    tree = CTX.parse_data_mem(json.dumps(doc, ensure_ascii=False), "json", parse_only=True, strict=True)
    try:
        return tree.print_mem("xml", pretty=False)
    finally:
        tree.free()


@settings(max_examples=300, deadline=None)
@example([ODD])
@given(st.lists(events, min_size=1, max_size=4, unique_by=lambda e: e.sequence).map(
    lambda found: sorted(found, key=lambda e: e.sequence)))
def test_printed_events_equal_libyang_print_of_the_same_records(found):
    records = [RECORDS.record(e) for e in found]
    ours = f'<dmm-nf xmlns="{NS}"><event-history>{"".join(xml_pieces(records))}</event-history></dmm-nf>'
    assert ours == libyang_xml(records)


def test_events_come_in_pieces_of_the_batch_size():
    records = [RECORDS.record(StoredEvent(i, 1_700_000_000.0, "k", {})) for i in range(1, 6)]
    pieces = list(xml_pieces(records, batch=2))
    assert [p.count("<event>") for p in pieces] == [1, 2, 2]


def test_characters_xml_cannot_hold_are_replaced_so_the_event_can_still_be_read():
    raw = "mn\x01\udc80@example.net"  # a Mobile Node Identifier's bytes, decoded as the wire does
    record = RECORDS.record(StoredEvent(1, 1_700_000_000.0, "binding-created", {"mn-identifier": raw}))
    assert record["mn-identifier"] == "mn\ufffd\ufffd@example.net"
    assert json.loads(record["data"]) == {"mn-identifier": "mn\ufffd\ufffd@example.net"}
    assert "".join(xml_pieces([record])) in libyang_xml([record])
