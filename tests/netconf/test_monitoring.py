"""RFC 6022 monitoring state, get-schema and RFC 8525 YANG library data."""
from datetime import datetime, timezone

import pytest

from mgmt.netconf.filters import RequestError
from mgmt.netconf.monitoring import MonitoringState, get_schema, yang_library
from tests.netconf.yang.testctx import make_context

NCM = "/ietf-netconf-monitoring:netconf-state"


@pytest.fixture(scope="module")
def ctx():
    return make_context()


def test_state_tree_counts_sessions_and_rpcs(ctx):
    state = MonitoringState()
    state.session_started(3, "admin", "192.0.2.7")
    state.rpc_received(3, ok=True)
    state.rpc_received(3, ok=False)
    state.bad_rpc(3)
    state.notification_sent(3)
    state.bad_hello()
    tree = state.to_data(ctx, ["urn:ietf:params:netconf:base:1.1"],
                         {"candidate": (3, datetime(2024, 1, 1, tzinfo=timezone.utc))})
    s = f"{NCM}/sessions/session[session-id='3']"
    assert tree.find_path(f"{s}/username").value() == "admin"
    assert tree.find_path(f"{s}/in-rpcs").value() == 2
    assert tree.find_path(f"{s}/out-rpc-errors").value() == 2
    assert tree.find_path(f"{s}/in-bad-rpcs").value() == 1
    assert tree.find_path(f"{NCM}/statistics/in-bad-hellos").value() == 1
    assert tree.find_path(f"{NCM}/statistics/out-notifications").value() == 1
    assert tree.find_path(f"{NCM}/datastores/datastore[name='candidate']/locks/global-lock/locked-by-session").value() == 3
    assert tree.find_path(f"{NCM}/schemas/schema[identifier='example-top'][version='2024-01-01'][format='yang']/location[.='NETCONF']") is not None
    state.session_ended(3, dropped=True)
    tree = state.to_data(ctx, [])
    assert tree.find_path(f"{NCM}/sessions/session[session-id='3']") is None
    assert tree.find_path(f"{NCM}/statistics/dropped-sessions").value() == 1


def test_get_schema_returns_module_text(ctx):
    text = get_schema(ctx, "example-top", "2024-01-01", "yang")
    assert text.startswith("module example-top")
    assert "<module" in get_schema(ctx, "example-top", fmt="ncm:yin")


@pytest.mark.parametrize("ident, version, fmt", [("nope", None, "yang"), ("example-top", "1999-01-01", "yang"),
                                                  ("example-top", None, "xsd")])
def test_get_schema_errors(ctx, ident, version, fmt):
    with pytest.raises(RequestError) as err:
        get_schema(ctx, ident, version, fmt)
    assert err.value.tag == "invalid-value"


def test_yang_library_lists_modules_and_datastores(ctx):
    data = yang_library(ctx, "1")
    assert data.find_path("/ietf-yang-library:yang-library/module-set[name='complete']/module[name='example-top']") is not None
    assert data.find_path("/ietf-yang-library:yang-library/datastore[name='ietf-datastores:operational']") is not None


def test_the_content_id_changes_with_the_module_set():
    from mgmt.netconf.integration import Services

    plain, more = make_context(), make_context()
    more.load_module("example-server")
    assert Services(plain).content_id() != Services(more).content_id()  # RFC 8525 §3
    assert Services(plain).content_id() == Services(make_context()).content_id()


def test_the_yang_library_lists_each_module_once():
    tree = yang_library(make_context(), "x")
    names = [m.value() for m in tree.find_all("/ietf-yang-library:yang-library/module-set/module/name")]
    assert len(names) == len(set(names))  # RFC 8525 §4: one entry per YANG 1.0 module name
