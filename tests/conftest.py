"""Shared test configuration.

Tests marked ``root`` need root (network namespaces, raw sockets). Outside CI they are
skipped for an unprivileged user; in CI (CI=true, which runs as root) they are never skipped:
a missing privilege there is a failure, not a skip.
"""
import os

import pytest


def pytest_collection_modifyitems(config, items):
    if os.geteuid() == 0:
        return
    if os.environ.get("CI", "").lower() == "true":
        return  # run them anyway: they fail loudly instead of hiding behind a skip
    for item in items:
        if "root" in item.keywords:
            item.add_marker(pytest.mark.skip(reason="needs root"))
