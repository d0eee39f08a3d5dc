"""Fuzz targets: each takes the fuzzer's bytes and raises only on a real defect.

A target returns normally when the product handled the input as documented (a value or
one of the expected, typed errors); any other exception is a finding.
"""
import tempfile
from ipaddress import IPv6Address
from pathlib import Path

from nf import config
from nf.wire import codec
from nf.wire.errors import WireError

_SRC = IPv6Address("2001:db8::1")
_DST = IPv6Address("2001:db8::2")


def wire(data: bytes) -> None:
    """Mobility Header decoder: ``decode`` raises only ``WireError`` (checksum not verified,
    so mutations reach the message and option parsers)."""
    try:
        codec.decode(data, _SRC, _DST, verify_checksum=False)
    except WireError:
        pass


_CONFIG_DIR = Path(tempfile.mkdtemp(prefix="dmm-fuzz-config-"))


def config_loader(data: bytes) -> None:
    """Config loader: any file gives a tree or a ``ConfigError`` whose text is printable."""
    suffix = ".json" if data[:1] == b"{" else ".xml"
    path = _CONFIG_DIR / f"input{suffix}"
    path.write_bytes(data)
    try:
        config.load_config(path)
    except config.ConfigError as exc:
        str(exc).encode("utf-8")


TARGETS = {"wire": wire, "config": config_loader}
