"""Bad and expensive reads leak nothing: the resident memory of an LMA with 2,000 bindings
stays flat over a few hundred invalid and expensive XPath requests (each used to keep the
~5.7 MB operational tree built for it), and the worker processes stay bounded."""
from __future__ import annotations

from pathlib import Path

import pytest
from ncclient import manager
from ncclient.operations.rpc import RPCError

from mgmt.netconf.xpath_worker import MAX_WORKERS
from tests.netconf.filled_lma import FilledLma
from tests.netconf.product import ADMIN, NS, lma_config

INVALID = ["/dmm-nf/[", "count(/dmm-nf/binding-cache/binding)", "/dmm-nf/binding-cache/binding[frobnicate()]",
           "/nosuch:dmm-nf"]
EXPENSIVE = "//*[count(//*)>0]"
ROUNDS = 70  # 4 invalid requests each: 280
EXPENSIVE_EVERY = 7  # 10 expensive requests
GROWTH_LIMIT_KB = 16 * 1024  # a leaked tree of 2,000 bindings is ~5,700 KB


@pytest.fixture
def lma(tmp_path: Path):
    config = lma_config(tmp_path / "lma.xml")
    config.write_text(config.read_text().replace("<netconf>", "<netconf><request-time-limit>1</request-time-limit>", 1))
    server = FilledLma(config, tmp_path / "state", 2000)
    yield server
    server.stop()


def refused(session, select: str) -> str:
    with pytest.raises(RPCError) as error:
        session.get(filter=("xpath", select))
    return error.value.tag


def test_rss_stays_flat_over_hundreds_of_invalid_and_expensive_requests(lma):
    with manager.connect(host="::1", port=lma.port, username=ADMIN[0], password=ADMIN[1], hostkey_verify=False,
                         allow_agent=False, look_for_keys=False, timeout=60) as session:
        for select in INVALID * 5 + [EXPENSIVE]:  # warm-up: the allocator's pools, a worker
            refused(session, select)
        session.get()
        before = lma.rss_kb()
        tags = []
        for round_ in range(ROUNDS):
            tags += [refused(session, select) for select in INVALID]
            if round_ % EXPENSIVE_EVERY == 0:
                tags.append(refused(session, EXPENSIVE))
        whole = session.get().data_xml  # the full tree is still built and answered
        after = lma.rss_kb()
    assert tags.count("invalid-value") == ROUNDS * len(INVALID)
    assert tags.count("operation-failed") == ROUNDS // EXPENSIVE_EVERY
    assert whole.count("</binding>") == 2000
    assert after - before < GROWTH_LIMIT_KB, f"RSS grew {after - before} KB over {len(tags)} requests"
    assert len(lma.children()) <= MAX_WORKERS
