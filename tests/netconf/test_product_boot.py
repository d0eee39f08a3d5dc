"""A dmm-nf node boots with what its running datastore then holds (RFC 6241 §8.7, §8.4.1):
the startup datastore saved over NETCONF, and the runtime runs exactly that."""
from __future__ import annotations

from pathlib import Path

from tests.netconf.product import ServiceThread
from tests.netconf.test_default_data_changes import WINDOW_700, configured_window, runtime_window


def test_the_node_boots_from_the_startup_it_saved_not_from_its_config_file(tmp_path: Path):
    node = ServiceThread(tmp_path)
    try:
        with node.connect() as admin:
            admin.edit_config(target="running", config=WINDOW_700)
            admin.copy_config(source="running", target="startup")
    finally:
        node.stop()
    again = ServiceThread(tmp_path)  # the same config file and state directory
    try:
        with again.connect() as admin:
            assert configured_window(admin) == "700"
        assert runtime_window(again) == 0.7
    finally:
        again.stop()


def test_a_node_that_went_down_during_a_confirmed_commit_boots_without_it(tmp_path: Path):
    node = ServiceThread(tmp_path)
    try:
        with node.connect() as admin:
            admin.edit_config(target="candidate", config=WINDOW_700)
            admin.commit(confirmed=True, timeout="600", persist="p1")
            admin.copy_config(source="running", target="startup")  # even saved, it was never confirmed
        assert runtime_window(node) == 0.7
    finally:
        node.stop()
    again = ServiceThread(tmp_path)
    try:
        with again.connect() as admin:
            assert configured_window(admin) is None
        assert runtime_window(again) == 0.3
    finally:
        again.stop()
