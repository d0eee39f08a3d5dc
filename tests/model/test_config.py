"""load_config: XML or JSON in, a validated tree out; anything else a one-line ConfigError."""
from __future__ import annotations

from pathlib import Path

import pytest

from nf.config import ConfigError, load_config
from nf.model import new_context, yang_dir

LMA_XML = yang_dir() / "examples" / "lma.xml"
NS = 'xmlns="urn:dmm-nf:yang:dmm-nf" xmlns:dmmt="urn:dmm-nf:yang:dmm-nf-types"'
NODE = "<node><name>n</name><role>dmmt:lma</role><address>2001:db8::1</address></node>"


def write(tmp_path: Path, name: str, text: str) -> Path:
    path = tmp_path / name
    path.write_text(text)
    return path


def error_of(path: Path) -> ConfigError:
    with pytest.raises(ConfigError) as caught:
        load_config(path)
    assert "\n" not in str(caught.value)
    assert str(caught.value).startswith(f"{path}: ")
    return caught.value


def test_returns_the_dmm_nf_container() -> None:
    tree = load_config(LMA_XML)
    assert tree.path() == "/dmm-nf:dmm-nf"
    assert tree.context.get_module("dmm-nf").implemented()


def test_fills_in_rfc_defaults() -> None:
    data = load_config(LMA_XML).print_dict(include_implicit_defaults=True)
    timers = data["dmm-nf"]["timers"]
    assert timers["min-delay-before-bce-delete"] == 10000
    assert data["dmm-nf"]["heartbeat"]["interval"] == 60


def test_uses_a_given_context() -> None:
    ctx = new_context()
    assert load_config(LMA_XML, ctx).context is ctx


def test_format_is_taken_from_content_when_the_extension_says_nothing(tmp_path: Path) -> None:
    xml = write(tmp_path, "lma.conf", f"<dmm-nf {NS}>{NODE}</dmm-nf>")
    assert load_config(xml).path() == "/dmm-nf:dmm-nf"
    json = write(tmp_path, "lma.cfg", '{"dmm-nf:dmm-nf": {"node": {"name": "n", '
                 '"role": ["dmm-nf-types:lma"], "address": "2001:db8::1"}}}')
    assert load_config(json).path() == "/dmm-nf:dmm-nf"


def test_nacm_beside_dmm_nf_is_accepted(tmp_path: Path) -> None:
    path = write(tmp_path, "c.xml",
                 f'<dmm-nf {NS}>{NODE}</dmm-nf>'
                 '<nacm xmlns="urn:ietf:params:xml:ns:yang:ietf-netconf-acm">'
                 '<enable-nacm>true</enable-nacm></nacm>')
    tree = load_config(path)
    assert {n.name() for n in tree.first_sibling().siblings()} >= {"dmm-nf", "nacm"}


def test_missing_file(tmp_path: Path) -> None:
    error = error_of(tmp_path / "absent.xml")
    assert "cannot read" in error.problem


def test_neither_xml_nor_json(tmp_path: Path) -> None:
    error = error_of(write(tmp_path, "x.conf", "node name lma1\n"))
    assert "neither XML nor JSON" in error.problem


def test_malformed_xml_names_the_line(tmp_path: Path) -> None:
    error = error_of(write(tmp_path, "bad.xml", f"<dmm-nf {NS}>\n<node>\n"))
    assert "line" in error.problem


def test_malformed_json(tmp_path: Path) -> None:
    error = error_of(write(tmp_path, "bad.json", '{"dmm-nf:dmm-nf": {"node": '))
    assert error.path.startswith("/dmm-nf:dmm-nf")


def test_file_without_dmm_nf(tmp_path: Path) -> None:
    error = error_of(write(tmp_path, "empty.json", "{}"))
    assert error.path == "/dmm-nf:dmm-nf"
    assert "no dmm-nf container" in error.problem


def test_binary_garbage(tmp_path: Path) -> None:
    path = tmp_path / "garbage.xml"
    path.write_bytes(b"\xff\xfe\x00<dmm")
    error_of(path)


def test_wrong_type_names_the_leaf(tmp_path: Path) -> None:
    path = write(tmp_path, "c.xml",
                 f"<dmm-nf {NS}>{NODE}<heartbeat><interval>soon</interval></heartbeat></dmm-nf>")
    error = error_of(path)
    assert error.path == "/dmm-nf:dmm-nf/heartbeat/interval"
    assert "soon" in error.problem


def test_etcd_backend_needs_an_endpoint(tmp_path: Path) -> None:
    path = write(tmp_path, "c.xml",
                 f"<dmm-nf {NS}>{NODE}<location-management><backend>dmmt:etcd</backend>"
                 "</location-management></dmm-nf>")
    error = error_of(path)
    assert error.path == "/dmm-nf:dmm-nf/location-management/backend"
    assert "etcd-endpoint" in error.problem


def test_mag_role_needs_an_lma_address(tmp_path: Path) -> None:
    path = write(tmp_path, "c.xml",
                 f"<dmm-nf {NS}><node><name>m</name><role>dmmt:mag</role>"
                 "<address>2001:db8::2</address></node><mag/></dmm-nf>")
    error = error_of(path)
    assert error.path == "/dmm-nf:dmm-nf/mag/lma-address"


def test_lifetime_beyond_the_16_bit_field_is_refused(tmp_path: Path) -> None:
    path = write(tmp_path, "c.xml",
                 f"<dmm-nf {NS}>{NODE}<timers><max-binding-lifetime>262144"
                 "</max-binding-lifetime></timers></dmm-nf>")
    assert error_of(path).path == "/dmm-nf:dmm-nf/timers/max-binding-lifetime"


def test_mobile_node_generated_timestamps_need_the_timestamp_approach(tmp_path: Path) -> None:
    path = write(tmp_path, "c.xml",  # RFC 5213 §9.3: MUST NOT be 1 when TimestampBasedApproachInUse is 0
                 f"<dmm-nf {NS}>{NODE}<timers><timestamp-based-approach-in-use>false"
                 "</timestamp-based-approach-in-use><mobile-node-generated-timestamp-in-use>true"
                 "</mobile-node-generated-timestamp-in-use></timers></dmm-nf>")
    assert error_of(path).path == "/dmm-nf:dmm-nf/timers/mobile-node-generated-timestamp-in-use"


def test_the_revocation_back_off_cannot_start_above_its_ceiling(tmp_path: Path) -> None:
    path = write(tmp_path, "c.xml",  # RFC 5846 §6.3: from InitMINDelayBRIs up to MAX_BRACK_TIMEOUT
                 f"<dmm-nf {NS}>{NODE}<timers><init-min-delay-bris>3000</init-min-delay-bris>"
                 "</timers></dmm-nf>")
    assert error_of(path).path == "/dmm-nf:dmm-nf/timers/max-brack-timeout"


def test_local_routing_at_the_mag_is_refused_because_it_is_not_implemented(tmp_path: Path) -> None:
    path = write(tmp_path, "c.xml",
                 f"<dmm-nf {NS}><node><name>m</name><role>dmmt:mag</role><address>2001:db8::2</address></node>"
                 "<mag><lma-address>2001:db8::1</lma-address><enable-mag-local-routing>true"
                 "</enable-mag-local-routing></mag></dmm-nf>")
    error = error_of(path)
    assert error.path == "/dmm-nf:dmm-nf/mag/enable-mag-local-routing" and "reverse-tunnels" in error.problem
