"""The Restart Counter of RFC 5847 section 3.2, kept across restarts.

A peer learns that we restarted when the counter it sees in our Heartbeat messages (the
Restart Counter mobility option) changes, so the value must survive a crash: it is read from
the state directory at start, incremented, and written back atomically before the function
sends its first message.
"""
from __future__ import annotations

import os
from pathlib import Path

MAX_VALUE = 0xFFFFFFFF  # a 32-bit field on the wire; it wraps to 0
FILE_NAME = "restart-counter"


def atomic_write_text(path: Path, text: str) -> None:
    """Write `text` so a crash leaves either the old file or the new one, never a torn one."""
    tmp = path.with_name(f".{path.name}.tmp")
    with open(tmp, "w", encoding="utf-8") as f:
        f.write(text)
        f.flush()
        os.fsync(f.fileno())
    os.replace(tmp, path)
    dir_fd = os.open(path.parent, os.O_DIRECTORY)
    try:
        os.fsync(dir_fd)
    finally:
        os.close(dir_fd)


def next_restart_counter(state_dir: Path) -> int:
    """Return this start's counter (previous + 1, wrapping) and persist it."""
    state_dir.mkdir(parents=True, exist_ok=True)
    path = state_dir / FILE_NAME
    try:
        previous = int(path.read_text(encoding="utf-8").strip())
    except FileNotFoundError:
        previous = -1  # first start: the counter begins at 0
    except ValueError:
        # A corrupt file can only come from outside interference; restarting the count still
        # changes the value peers see, which is what they need to detect the restart.
        previous = -1
    value = (previous + 1) & MAX_VALUE
    atomic_write_text(path, f"{value}\n")
    return value
