"""Candidate, commit, discard-changes, validate, locks and confirmed commit
(RFC 6241 §7.5, §8.3, §8.4, §8.6)."""
from __future__ import annotations

import pytest
from ncclient.operations import RPCError
from ncclient.xml_ import to_ele

from tests.netconf.conftest import connect, wait_for
from tests.netconf.test_server_edit import SRV, cfg, hostname, peer, peers

HOST = lambda name: cfg(f'<system xmlns="{SRV}"><hostname>{name}</hostname></system>')  # noqa: E731


def candidate_hostname(mgr) -> str | None:
    return mgr.get_config("candidate").data_ele.findtext(f"{{{SRV}}}system/{{{SRV}}}hostname")


def test_commit_moves_candidate_to_running(client):
    client.edit_config(target="candidate", config=HOST("c1"))
    assert hostname(client) is None
    client.commit()
    assert hostname(client) == "c1"


def test_discard_changes_resets_candidate_to_running(client):
    client.edit_config(target="running", config=HOST("r1"))
    client.edit_config(target="candidate", config=HOST("c1"))
    client.discard_changes()
    assert candidate_hostname(client) == "r1"


def test_validate_reports_errors_of_candidate_and_inline_config(client):
    client.edit_config(target="candidate", test_option="set", config=cfg(peer("a")))
    with pytest.raises(RPCError) as err:
        client.validate("candidate")
    assert err.value.tag == "missing-element"
    assert client.validate(to_ele(cfg(peer("a", "x")))).ok
    with pytest.raises(RPCError) as err:
        client.validate(to_ele(cfg(peer("a", "x") + peer("b", "x"))))
    assert err.value.app_tag == "data-not-unique"


def test_copy_config_running_to_startup_and_same_datastore_is_invalid(client):
    client.edit_config(target="running", config=HOST("r1"))
    client.copy_config(source="running", target="startup")
    startup = client.get_config("startup").data_ele
    assert startup.findtext(f"{{{SRV}}}system/{{{SRV}}}hostname") == "r1"
    with pytest.raises(RPCError) as err:
        client.copy_config(source="running", target="running")
    assert err.value.tag == "invalid-value"


def test_delete_config_of_running_is_refused_and_of_startup_empties_it(client):
    client.edit_config(target="running", config=HOST("r1"))
    client.copy_config(source="running", target="startup")
    with pytest.raises(RPCError) as err:
        client.delete_config("running")
    assert err.value.tag == "invalid-value"
    client.delete_config("startup")
    assert client.get_config("startup").data_ele.find(f"{{{SRV}}}system/{{{SRV}}}hostname") is None


def test_lock_held_by_another_session_is_lock_denied_with_its_session_id(server):
    with connect(server) as one, connect(server) as two:
        one.lock("running")
        with pytest.raises(RPCError) as err:
            two.lock("running")
        assert err.value.tag == "lock-denied"
        assert f"<session-id>{one.session_id}</session-id>" in err.value.info.replace(" ", "").replace(
            'xmlns="urn:ietf:params:xml:ns:netconf:base:1.0"', "").replace("nc:", "")
        with pytest.raises(RPCError) as err:
            two.edit_config(target="running", config=HOST("x"))
        assert err.value.tag == "in-use"
        one.unlock("running")
        assert two.lock("running").ok


def test_unlock_without_holding_the_lock_fails(client):
    with pytest.raises(RPCError) as err:
        client.unlock("candidate")
    assert err.value.tag == "operation-failed"


def test_lock_of_modified_candidate_is_denied(server):
    with connect(server) as one, connect(server) as two:
        one.edit_config(target="candidate", config=HOST("c1"))
        with pytest.raises(RPCError) as err:
            two.lock("candidate")
        assert err.value.tag == "lock-denied"


def test_locks_are_released_when_the_session_closes(server):
    one = connect(server)
    one.lock("candidate")
    one.close_session()
    with connect(server) as two:
        assert wait_for(lambda: server.locks.holder("candidate") == 0)
        assert two.lock("candidate").ok


def candidate_hostname(mgr) -> str | None:
    return mgr.get_config("candidate").data_ele.findtext(f"{{{SRV}}}system/{{{SRV}}}hostname")


def test_unlocking_the_candidate_discards_its_outstanding_changes(client):
    client.lock("candidate")
    client.edit_config(target="candidate", config=HOST("uncommitted"))
    client.unlock("candidate")  # RFC 6241 §8.3.5.2
    assert candidate_hostname(client) is None


def test_the_candidate_locks_session_ending_discards_its_outstanding_changes(server):
    one = connect(server)
    one.lock("candidate")
    one.edit_config(target="candidate", config=HOST("uncommitted"))
    one.close_session()
    with connect(server) as two:
        assert wait_for(lambda: server.locks.holder("candidate") == 0)
        assert candidate_hostname(two) is None
        assert two.lock("candidate").ok  # not denied for changes that are no longer there


def test_changes_made_without_the_candidate_lock_outlive_the_session(server):
    one = connect(server)
    one.edit_config(target="candidate", config=HOST("shared"))
    one.close_session()
    with connect(server) as two:
        assert candidate_hostname(two) == "shared"


def test_confirmed_commit_rolls_back_on_timeout(client):
    client.edit_config(target="running", config=HOST("before"))
    client.edit_config(target="candidate", config=HOST("after"))
    client.commit(confirmed=True, timeout="1")
    assert hostname(client) == "after"
    assert wait_for(lambda: hostname(client) == "before", timeout=5)


def test_confirming_commit_keeps_the_change(client, server):
    client.edit_config(target="candidate", config=HOST("after"))
    client.commit(confirmed=True, timeout="1")
    client.commit()
    assert not server.confirmed.pending
    assert hostname(client) == "after"


def test_confirmed_commit_rolls_back_when_its_session_ends(server):
    with connect(server) as watcher:
        owner = connect(server)
        owner.edit_config(target="candidate", config=HOST("after"))
        owner.commit(confirmed=True)
        assert hostname(watcher) == "after"
        owner.close_session()
        assert wait_for(lambda: hostname(watcher) is None)


def test_persistent_confirmed_commit_survives_the_session_and_needs_persist_id(server):
    owner = connect(server)
    owner.edit_config(target="candidate", config=HOST("after"))
    owner.commit(confirmed=True, persist="token-1")
    owner.close_session()
    with connect(server) as other:
        assert hostname(other) == "after"
        with pytest.raises(RPCError) as err:
            other.commit(persist_id="wrong")
        assert err.value.tag == "invalid-value"
        other.commit(persist_id="token-1")
        assert not server.confirmed.pending
        assert hostname(other) == "after"


def test_cancel_commit_rolls_back_at_once(client, server):
    client.edit_config(target="running", config=HOST("before"))
    client.edit_config(target="candidate", config=HOST("after"))
    client.commit(confirmed=True)
    client.cancel_commit()
    assert hostname(client) == "before"
    with pytest.raises(RPCError) as err:
        client.cancel_commit()
    assert err.value.tag == "operation-failed"


def test_follow_up_commit_from_another_session_without_persist_is_refused(server):
    with connect(server) as owner, connect(server) as other:
        owner.edit_config(target="candidate", config=HOST("after"))
        owner.commit(confirmed=True)
        with pytest.raises(RPCError):
            other.commit()
        assert server.confirmed.pending


def test_killing_the_session_of_a_confirmed_commit_restores_the_configuration(server):
    with connect(server) as killer:
        owner = connect(server)
        owner.edit_config(target="candidate", config=HOST("unconfirmed"))
        owner.commit(confirmed=True)
        killer.kill_session(owner.session_id)  # RFC 6241 §7.9
        assert wait_for(lambda: hostname(killer) is None)
        assert not server.confirmed.pending


def test_running_cannot_be_locked_while_another_sessions_confirmed_commit_is_pending(server):
    with connect(server) as owner, connect(server) as other:
        owner.edit_config(target="candidate", config=HOST("after"))
        owner.commit(confirmed=True)
        with pytest.raises(RPCError) as err:
            other.lock("running")  # RFC 6241 §7.5
        assert err.value.tag == "lock-denied"
        assert owner.lock("running").ok


def test_commit_is_in_use_while_another_session_locks_running(server):
    with connect(server) as holder, connect(server) as committer:
        committer.edit_config(target="candidate", config=HOST("after"))
        holder.lock("running")
        with pytest.raises(RPCError) as err:
            committer.commit()  # RFC 6241 §8.3.4.1
        assert err.value.tag == "in-use"
        assert hostname(holder) is None


def test_commit_is_in_use_while_another_session_locks_the_candidate(server):
    with connect(server) as holder, connect(server) as committer:
        holder.lock("candidate")
        holder.edit_config(target="candidate", config=HOST("holders"))
        with pytest.raises(RPCError) as err:
            committer.commit()  # RFC 6241 §8.3.4.1
        assert err.value.tag == "in-use"
        assert hostname(holder) is None


def test_cancel_commit_with_another_persist_id_is_invalid_value(server):
    with connect(server) as mgr:
        mgr.edit_config(target="candidate", config=HOST("after"))
        mgr.commit(confirmed=True, persist="right")
        with pytest.raises(RPCError) as err:
            mgr.cancel_commit(persist_id="wrong")  # RFC 6241 §8.4.4.1
        assert err.value.tag == "invalid-value"
        assert server.confirmed.pending
        mgr.cancel_commit(persist_id="right")
        assert hostname(mgr) is None
