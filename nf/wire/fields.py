"""The fixed part of a Mobility Header message, declared once for encoder and decoder.

A message class lists its fields in wire order (`Fixed(U16("sequence"), Flags(...), ...)`);
from that one list the codec packs a message and builds one back by keyword, so a field is
added, moved or renamed in one place and the two directions cannot disagree. The decoding
side is compiled once per layout into one function (a struct unpack and a dict of the
attributes), because it runs for every message received. Flags are named
in a `Flags` field: each flag is a boolean attribute of the message and a bit mask on the
wire; the bits nobody has named are kept in the attribute given as `reserved` (or dropped,
where the RFC says the receiver ignores them and nothing needs them back).
"""
from __future__ import annotations

import struct
from dataclasses import dataclass
from ipaddress import IPv6Address
from typing import Any

from .constants import LIFETIME_UNIT_SECONDS, MAX_LIFETIME_SECONDS
from .errors import EncodeError


class Field:
    """One field of a fixed part: its struct format and how its value maps to the message."""

    fmt = ""
    name: str | None = None  # the message attribute; None for fields that carry nothing

    def to_wire(self, message: Any) -> tuple:
        return (getattr(message, self.name),)

    def from_wire(self, value: str) -> list[tuple[str, str]]:
        """(attribute, Python expression of the unpacked `value`) pairs for the decoder."""
        return [(self.name, value)]


class _Unsigned(Field):
    def __init__(self, name: str) -> None:
        self.name = name


class U8(_Unsigned):
    fmt = "B"


class U16(_Unsigned):
    fmt = "H"


class U32(_Unsigned):
    fmt = "I"


class Lifetime(Field):
    """A 16-bit Lifetime in 4-second units (RFC 6275 §6.1.7), held in seconds.

    A lifetime that is not a multiple of 4 s in 0..262140 s is an `EncodeError`: rounding
    down could turn 1-3 s into a de-registration, rounding up would grant more than chosen.
    """

    fmt = "H"

    def __init__(self, name: str) -> None:
        self.name = name

    def to_wire(self, message: Any) -> tuple:
        seconds = getattr(message, self.name)
        if not 0 <= seconds <= MAX_LIFETIME_SECONDS or seconds % LIFETIME_UNIT_SECONDS:
            raise EncodeError(f"lifetime {seconds} s is not a multiple of {LIFETIME_UNIT_SECONDS} s "
                              f"between 0 and {MAX_LIFETIME_SECONDS} s")
        return (seconds // LIFETIME_UNIT_SECONDS,)

    def from_wire(self, value: str) -> list[tuple[str, str]]:
        return [(self.name, f"{value} * {LIFETIME_UNIT_SECONDS}")]


class Address(Field):
    """A 16-octet IPv6 address."""

    fmt = "16s"

    def __init__(self, name: str) -> None:
        self.name = name

    def to_wire(self, message: Any) -> tuple:
        return (getattr(message, self.name).packed,)

    def from_wire(self, value: str) -> list[tuple[str, str]]:
        return [(self.name, f"IPv6Address({value})")]


class Reserved(Field):
    """Octets the sender zeroes and the receiver ignores."""

    def __init__(self, octets: int) -> None:
        self.fmt = f"{octets}x"

    def to_wire(self, message: Any) -> tuple:
        return ()

    def from_wire(self, value: str) -> list[tuple[str, str]]:
        return []


class Constant(Field):
    """An octet whose value selects the message class (the B.R. Type of RFC 5846 §5)."""

    fmt = "B"

    def __init__(self, value: int) -> None:
        self.value = value

    def to_wire(self, message: Any) -> tuple:
        return (self.value,)

    def from_wire(self, value: str) -> list[tuple[str, str]]:
        return []  # already used to pick the class


@dataclass(frozen=True)
class Flag:
    name: str  # the message attribute
    mask: int  # its bit in the flags field


class Flags(Field):
    """A field of flag bits; `reserved` names the attribute that keeps the unnamed bits."""

    def __init__(self, width: int, *flags: Flag, reserved: str | None = None) -> None:
        self.fmt = {8: "B", 16: "H"}[width]
        self.flags = flags
        self.reserved = reserved
        named = 0
        for flag in flags:
            if flag.mask & named or not 0 < flag.mask < 1 << width:
                raise ValueError(f"flag {flag.name} mask {flag.mask:#x} overlaps or does not fit")
            named |= flag.mask
        self.reserved_mask = ((1 << width) - 1) & ~named

    def to_wire(self, message: Any) -> tuple:
        value = 0
        for flag in self.flags:
            if getattr(message, flag.name):
                value |= flag.mask
        if self.reserved is not None:
            other = getattr(message, self.reserved)
            if other & ~self.reserved_mask:
                raise EncodeError(f"{self.reserved} {other:#x} has bits outside {self.reserved_mask:#x}")
            value |= other
        return (value,)

    def from_wire(self, value: str) -> list[tuple[str, str]]:
        items = [(flag.name, f"bool({value} & {flag.mask:#x})") for flag in self.flags]
        if self.reserved is not None:
            items.append((self.reserved, f"{value} & {self.reserved_mask:#x}"))
        return items

    def mask_of(self, name: str) -> int:
        return next(flag.mask for flag in self.flags if flag.name == name)


class Fixed:
    """The fields of a message between the Checksum and the first option, in wire order."""

    def __init__(self, *fields: Field) -> None:
        self.fields = fields
        self.struct = struct.Struct("!" + "".join(f.fmt for f in fields))
        self.size = self.struct.size
        self.unpack = self._compile_unpack()

    def _compile_unpack(self):
        """`unpack(data, offset) -> {attribute: value}`, one function for this layout."""
        valued = [f for f in self.fields if not isinstance(f, Reserved)]  # 'x' padding yields no value
        variables = [f"v{i}" for i in range(len(valued))]
        items = [item for field, var in zip(valued, variables) for item in field.from_wire(var)]
        body = ", ".join(f"{name!r}: {expression}" for name, expression in items)
        source = (f"def unpack(data, offset):\n"
                  f"    {', '.join(variables)}, = unpack_from(data, offset)\n"
                  f"    return {{{body}}}\n")
        namespace: dict[str, Any] = {"unpack_from": self.struct.unpack_from, "IPv6Address": IPv6Address}
        exec(source, namespace)  # noqa: S102 - built only from the field declarations above
        unpack = namespace["unpack"]
        unpack.__doc__ = "The message attributes of the fixed part at `offset`, by name."
        return unpack

    def names(self) -> list[str]:
        """Every message attribute the fixed part carries."""
        return [name for field in self.fields for name, _ in field.from_wire("v")]

    def pack(self, message: Any) -> bytes:
        values: list[Any] = []
        for field in self.fields:
            values += field.to_wire(message)
        try:
            return self.struct.pack(*values)
        except struct.error as exc:
            raise EncodeError(f"{type(message).__name__}: {exc}") from None

    def flags(self, name: str) -> int:
        """The mask of flag `name` (for tests and hand-built vectors)."""
        for field in self.fields:
            if isinstance(field, Flags) and any(flag.name == name for flag in field.flags):
                return field.mask_of(name)
        raise KeyError(name)
