"""Waiting for a condition to hold, instead of sleeping: inside a running asyncio loop
(`wait_until`) or outside one (`wait_for`)."""
from __future__ import annotations

import asyncio
import time
from typing import Any, Callable


async def wait_until(condition: Callable[[], Any], what: str = "condition", timeout: float = 5.0) -> None:
    """Poll `condition` until it is true; AssertionError naming `what` after `timeout` s."""
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"not within {timeout} s: {what}")
        await asyncio.sleep(0.002)


def wait_for(condition: Callable[[], Any], what: str = "condition", timeout: float = 10.0,
             interval: float = 0.02) -> Any:
    """The same outside an event loop (a process or a lab under test): poll `condition` every
    `interval` s until it returns something true, and return that; AssertionError naming
    `what` after `timeout` s."""
    deadline = time.monotonic() + timeout
    while True:
        value = condition()
        if value:
            return value
        if time.monotonic() >= deadline:
            raise AssertionError(f"not within {timeout} s: {what}")
        time.sleep(interval)
