"""Errors of the BFD engine's API: each names what was wrong, for a one-line message."""
from __future__ import annotations


class BfdError(Exception):
    """Base of the errors the BFD API raises (never raised for a received datagram)."""


class BfdSpecError(BfdError, ValueError):
    """A session specification field has a bad value; ``field`` names it."""

    def __init__(self, field: str, message: str) -> None:
        super().__init__(f"{field}: {message}")
        self.field = field


class BfdBindError(BfdError, OSError):
    """A socket could not be bound: the address is not local, or the port is taken."""

    def __init__(self, address: object, port: int, cause: str) -> None:
        super().__init__(f"cannot bind BFD socket to [{address}]:{port}: {cause}")
        self.address = address
        self.port = port


class BfdSessionError(BfdError, KeyError):
    """No such session, or a session with that key or address pair exists already."""

    def __str__(self) -> str:  # KeyError would quote the message
        return str(self.args[0]) if self.args else ""
