"""Waiting inside a running asyncio loop for a condition to hold, instead of sleeping."""
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
