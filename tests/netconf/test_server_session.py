"""Sessions over SSH: hello, authentication, close/kill-session, bad input, limits."""
from __future__ import annotations

import paramiko
import pytest
from lxml import etree
from ncclient.operations import RPCError
from ncclient.transport.errors import AuthenticationError

from tests.netconf.conftest import RawClient, connect, wait_for

NC = "urn:ietf:params:xml:ns:netconf:base:1.0"
CAP = "urn:ietf:params:netconf:capability:"


def _error_tags(reply: str) -> list[str]:
    root = etree.fromstring(reply.encode())
    return [e.text for e in root.iter(f"{{{NC}}}error-tag")]


def test_hello_advertises_the_rfc_6241_capabilities(client):
    caps = set(client.server_capabilities)
    for cap in ("writable-running:1.0", "candidate:1.0", "confirmed-commit:1.1",
                "rollback-on-error:1.0", "validate:1.1", "startup:1.0", "xpath:1.0"):
        assert CAP + cap in caps
    assert "urn:ietf:params:netconf:base:1.1" in caps
    assert any(c.startswith(CAP + "with-defaults:1.0?basic-mode=explicit") for c in caps)
    assert not any(c.startswith(CAP + "url") for c in caps)


def test_sessions_get_distinct_ids(server):
    with connect(server) as one, connect(server) as two:
        assert int(one.session_id) != int(two.session_id)
        assert wait_for(lambda: len(server.sessions) == 2)


def test_wrong_password_is_refused(server):
    with pytest.raises(AuthenticationError):
        connect(server, password="wrong")


def test_public_key_authentication(servers, tmp_path):
    key = paramiko.ECDSAKey.generate(bits=256)
    key_file = tmp_path / "client_key"
    key.write_private_key_file(str(key_file))
    server = servers.start(authorized_keys={"admin": [paramiko.ECDSAKey(filename=str(key_file))]})
    from ncclient import manager
    with manager.connect(host="::1", port=server.port, username="admin", key_filename=str(key_file),
                         hostkey_verify=False, allow_agent=False, look_for_keys=False, timeout=10) as mgr:
        assert mgr.get_config("running").ok


def test_close_session_ends_the_session(server):
    mgr = connect(server)
    sid = int(mgr.session_id)
    mgr.close_session()
    assert wait_for(lambda: sid not in server.sessions)


def test_kill_session_closes_the_other_session_and_releases_its_lock(server):
    victim = connect(server)
    with connect(server) as killer:
        victim.lock("running")
        killer.kill_session(victim.session_id)
        assert wait_for(lambda: not victim.connected)
        assert int(victim.session_id) not in server.sessions
        assert killer.lock("running").ok  # the victim's lock went with it


def test_kill_session_of_own_id_is_invalid_value(client):
    with pytest.raises(RPCError) as err:
        client.kill_session(client.session_id)
    assert err.value.tag == "invalid-value"
    assert client.get_config("running").ok


def test_kill_session_of_unknown_id_is_invalid_value(client):
    with pytest.raises(RPCError) as err:
        client.kill_session("4242")
    assert err.value.tag == "invalid-value"


def test_malformed_xml_gets_malformed_message_and_session_survives_on_base11(server):
    raw = RawClient(server)
    try:
        raw.send("<rpc xmlns='urn:ietf:params:xml:ns:netconf:base:1.0' message-id='1'><get-config>")
        assert _error_tags(raw.receive()) == ["malformed-message"]
        reply = raw.rpc("<get-config><source><running/></source></get-config>", "2")
        assert 'message-id="2"' in reply and "<data" in reply
    finally:
        raw.close()


def test_malformed_xml_closes_a_base10_session(server):
    raw = RawClient(server, base11=False)
    try:
        raw.send("<rpc message-id='1'><unclosed>")
        assert wait_for(raw.closed)
    finally:
        raw.close()


def test_missing_message_id_is_missing_attribute(server):
    raw = RawClient(server)
    try:
        raw.send(f'<rpc xmlns="{NC}"><get-config><source><running/></source></get-config></rpc>')
        reply = raw.receive()
        assert _error_tags(reply) == ["missing-attribute"]
        assert "<bad-attribute>message-id</bad-attribute>" in reply
    finally:
        raw.close()


def test_reply_carries_every_rpc_attribute_with_its_namespace_declaration(server):
    raw = RawClient(server)
    try:
        raw.send(f'<rpc xmlns="{NC}" message-id="7" xmlns:ex="urn:x" ex:user-id="fred">'
                 "<get-config><source><running/></source></get-config></rpc>")
        text = raw.receive()
        root = etree.fromstring(text.encode())
        assert root.get("message-id") == "7"
        assert root.nsmap["ex"] == "urn:x"  # RFC 6241 §4.2: unmodified, prefix and all
        assert ' ex:user-id="fred"' in text
    finally:
        raw.close()


def test_an_error_reply_carries_the_rpc_attributes_too(server):
    raw = RawClient(server)
    try:
        raw.send(f'<nc:rpc xmlns:nc="{NC}" message-id="8" xmlns:ex="urn:x" ex:trace="t1"><nc:frobnicate/></nc:rpc>')
        text = raw.receive()
        root = etree.fromstring(text.encode())
        assert _error_tags(text) == ["operation-not-supported"]
        assert (root.get("message-id"), root.nsmap["ex"]) == ("8", "urn:x")
        assert ' ex:trace="t1"' in text
    finally:
        raw.close()


def test_unknown_netconf_operation_is_operation_not_supported(server):
    raw = RawClient(server)
    try:
        assert _error_tags(raw.rpc("<frobnicate/>")) == ["operation-not-supported"]
    finally:
        raw.close()


def test_unknown_parameter_is_unknown_element(server):
    raw = RawClient(server)
    try:
        reply = raw.rpc("<get-config><source><running/></source><colour/></get-config>")
        assert _error_tags(reply) == ["unknown-element"]
        assert "<bad-element>colour</bad-element>" in reply
    finally:
        raw.close()


@pytest.mark.parametrize("base11", [True, False], ids=["chunked", "end-of-message"])
def test_a_message_over_the_size_limit_is_answered_too_big_and_the_session_goes_on(servers, base11):
    server = servers.start(max_message_size=4096)
    raw = RawClient(server, base11=base11)
    try:
        raw.send(f'<rpc xmlns="{NC}" message-id="1"><get-config><source><running/></source>'
                 + "<!--" + "x" * 10000 + "--></get-config></rpc>")
        assert _error_tags(raw.receive()) == ["too-big"]
        assert "<data" in raw.rpc("<get-config><source><running/></source></get-config>", "2")
    finally:
        raw.close()


@pytest.mark.parametrize("header", [b"\n#012\n", b"\n#4294967296\n", b"\n#0\n", b"\n#x\n", b"\n+4\n"])
def test_a_bad_chunk_header_closes_the_session(server, header):
    raw = RawClient(server)
    try:
        raw.chan.sendall(header + b"<rpc>" + b"\n##\n")  # RFC 6242 §4.2
        assert wait_for(raw.closed)
    finally:
        raw.close()
    with connect(server) as other:
        assert other.get_config("running").ok


def test_a_message_that_is_not_utf8_is_malformed_message(server):
    raw = RawClient(server)
    try:
        raw.send(f'<rpc xmlns="{NC}" message-id="1"><get-config><source><running/></source>'
                 f"</get-config><!-- \xff --></rpc>".encode("latin-1"))
        assert _error_tags(raw.receive()) == ["malformed-message"]  # RFC 6241 §3
    finally:
        raw.close()


def test_a_document_type_declaration_is_malformed_message(server):
    raw = RawClient(server)
    try:
        raw.send(f'<!DOCTYPE rpc [<!ENTITY x "y">]><rpc xmlns="{NC}" message-id="1">'
                 "<get-config><source><running/></source></get-config></rpc>")
        assert _error_tags(raw.receive()) == ["malformed-message"]  # RFC 6241 §3.2
    finally:
        raw.close()


def hello(*capabilities: str, extra: str = "") -> str:
    """A client <hello> with these capabilities (and ``extra`` after them)."""
    caps = "".join(f"<capability>{c}</capability>" for c in capabilities)
    return f'<hello xmlns="{NC}"><capabilities>{caps}</capabilities>{extra}</hello>'


@pytest.mark.parametrize("client_hello", [
    hello("urn:ietf:params:netconf:base:1.1", extra="<session-id>4</session-id>"),  # a client sends none
    hello("urn:ietf:params:netconf:base:2.0"),  # no base version in common
], ids=["with-session-id", "no-common-version"])
def test_a_hello_with_a_session_id_or_no_common_version_ends_the_session(server, client_hello):
    raw = RawClient(server, hello=client_hello)
    try:
        assert wait_for(raw.closed)  # RFC 6241 §8.1
    finally:
        raw.close()


def test_the_server_hello_carries_a_session_id_and_base_1_1_which_is_then_used(server):
    raw = RawClient(server)
    try:
        hello = etree.fromstring(raw.hello.encode())
        assert int(hello.findtext(f"{{{NC}}}session-id")) > 0
        caps = {c.text for c in hello.iter(f"{{{NC}}}capability")}
        assert {"urn:ietf:params:netconf:base:1.0", "urn:ietf:params:netconf:base:1.1"} <= caps
        assert "<data" in raw.rpc("<get-config><source><running/></source></get-config>")  # chunked
    finally:
        raw.close()


def test_no_message_after_close_session_is_processed(server):
    raw = RawClient(server)
    edit = (f'<edit-config><target><running/></target><config><system xmlns="urn:example:server">'
            "<hostname>late</hostname></system></config></edit-config>")
    try:
        close = f'<rpc xmlns="{NC}" message-id="1"><close-session/></rpc>'.encode()
        late = f'<rpc xmlns="{NC}" message-id="2">{edit}</rpc>'.encode()
        raw.chan.sendall(b"\n#%d\n%s\n##\n\n#%d\n%s\n##\n" % (len(close), close, len(late), late))
        assert "<ok/>" in raw.receive()
        assert wait_for(raw.closed)  # RFC 6242 §5
    finally:
        raw.close()
    with connect(server) as other:
        data = other.get_config("running").data_ele
    assert data.find(".//{urn:example:server}hostname") is None


def test_client_vanishing_mid_message_does_not_affect_others(server):
    with connect(server) as bystander:
        raw = RawClient(server)
        raw.chan.sendall(b"\n#1000\n<rpc xmlns='urn:ietf:params:xml:ns:netconf:base:1.0'")
        raw.close()
        assert wait_for(lambda: len(server.sessions) == 1)
        assert bystander.get_config("running").ok


def test_idle_session_is_closed(servers):
    server = servers.start(idle_timeout=0.3)
    raw = RawClient(server)
    try:
        assert wait_for(raw.closed, timeout=5)
        assert wait_for(lambda: not server.sessions)
    finally:
        raw.close()


def test_a_subscriber_is_not_idle(servers):
    server = servers.start(idle_timeout=0.2)
    with connect(server) as mgr:
        mgr.create_subscription()
        assert not wait_for(lambda: not mgr.connected, timeout=1.0)
        assert mgr.get_config("running").ok


def test_base10_framing_serves_requests(server):
    raw = RawClient(server, base11=False)
    try:
        assert "urn:ietf:params:netconf:base:1.0" in raw.hello
        reply = raw.rpc("<get-config><source><running/></source></get-config>", "10")
        assert 'message-id="10"' in reply and "<data" in reply
    finally:
        raw.close()


def test_a_user_name_xml_cannot_carry_gets_no_session(tmp_path):
    from mgmt.netconf.server import NetconfServer
    from tests.netconf.conftest import server_context

    server = NetconfServer(server_context(), tmp_path, port=0, address="::1", users={"bad\x01name": "pw"})
    try:
        transport = paramiko.Transport(("::1", server.port))
        try:
            with pytest.raises(paramiko.AuthenticationException):
                transport.connect(username="bad\x01name", password="pw")  # RFC 6242 §3
        finally:
            transport.close()
    finally:
        server.close()


def test_pipelined_requests_are_answered_one_by_one_in_order(server):
    raw = RawClient(server)
    try:
        messages = b"".join(
            b"\n#%d\n%s\n##\n" % (len(m), m) for m in (
                f'<rpc xmlns="{NC}" message-id="{i}"><get-config><source><running/></source></get-config></rpc>'.encode()
                for i in ("a", "b", "c")))
        raw.chan.sendall(messages)  # RFC 6241 §4.5: sent before any reply came
        ids = [etree.fromstring(raw.receive().encode()).get("message-id") for _ in range(3)]
        assert ids == ["a", "b", "c"]
    finally:
        raw.close()


def test_a_capability_the_server_does_not_know_is_ignored(server):
    raw = RawClient(server, hello=hello("urn:ietf:params:netconf:base:1.1", "urn:example:unheard-of:1.0"))
    try:
        assert "<data" in raw.rpc("<get-config><source><running/></source></get-config>")  # RFC 6241 §8
    finally:
        raw.close()


def test_the_server_listens_on_830_unless_told_otherwise():
    import inspect

    from mgmt.netconf.server import NetconfServer
    from nf.model import new_context

    assert inspect.signature(NetconfServer).parameters["port"].default == 830  # RFC 6242 §3
    port = next(new_context().find_path("/dmm-nf:dmm-nf/management/netconf/port"))
    assert port.default() == 830


def test_only_the_netconf_subsystem_is_offered(server):
    transport = paramiko.Transport(("::1", server.port))
    try:
        transport.connect(username="admin", password="admin")
        channel = transport.open_session()
        with pytest.raises(paramiko.SSHException):
            channel.invoke_subsystem("sftp")
    finally:
        transport.close()


def test_a_reply_that_cannot_be_completed_ends_the_session(servers):
    """RFC 6241 §3: a reply that cannot be sent ends the session (a spliced list whose
    printing fails half way, here)."""
    from mgmt.netconf.splice import Splice, State, new_token
    from tests.netconf.test_server_integration import full_context

    token = new_token()

    def broken():
        yield "<binding><mn-identifier>mn1</mn-identifier></binding>"
        raise RuntimeError("the binding cache went away")

    ctx = full_context()

    def state(request):
        tree = ctx.parse_data_mem(f'<bindings xmlns="http://example.com/schema/1.2/config"><binding>'
                                  f"<mn-identifier>{token}</mn-identifier></binding></bindings>",
                                  "xml", parse_only=True, strict=True)
        return State(tree, [Splice(token, "binding", broken)])

    from mgmt.netconf.server import ServerHooks
    server = servers.start(ctx=ctx, hooks=ServerHooks(state_provider=state))
    raw = RawClient(server)
    try:
        raw.send(f'<rpc xmlns="{NC}" message-id="1"><get/></rpc>')
        assert wait_for(raw.closed)
    finally:
        raw.close()
