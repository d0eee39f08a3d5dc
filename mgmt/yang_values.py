"""Runtime values in the canonical text of their YANG types, as libyang prints them."""
from __future__ import annotations

import os
import time
from functools import lru_cache
from typing import Optional


def pin_utc() -> None:
    """Make local time UTC for this process. libyang prints yang:date-and-time values in the
    process's local zone (and prints negative half-hour offsets wrongly, e.g. -03:-30); state
    times are reported in UTC whatever the host's zone."""
    os.environ["TZ"] = "UTC"
    time.tzset()


@lru_cache(maxsize=4096)
def _second_text(second: int) -> str:
    return time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(second))


def date_and_time(epoch: Optional[float]) -> Optional[str]:
    """RFC 6991 yang:date-and-time in UTC with milliseconds (truncated), in libyang's
    canonical form: 2026-11-23T21:00:00.125+00:00."""
    if epoch is None:
        return None
    # whole microseconds first, as datetime does, so x.3 is not printed as x.299
    second, micro = divmod(round(epoch * 1e6), 1_000_000)
    return f"{_second_text(second)}.{micro // 1000:03d}+00:00"


def link_layer_text(link_layer_id: Optional[bytes]) -> str:
    return link_layer_id.hex(":") if link_layer_id else ""


def xml_escape(text: str) -> str:
    if "&" in text or "<" in text or ">" in text:
        return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
    return text


def link_layer_bytes(text: str) -> Optional[bytes]:
    return bytes.fromhex(text.replace(":", "")) if text else None
