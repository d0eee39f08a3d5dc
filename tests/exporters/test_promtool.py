"""Alert rules and the scrape pass Prometheus' own checker, promtool."""
import shutil
import subprocess
import urllib.request
from pathlib import Path

import pytest

from exporters.http import MetricsServer
from exporters.source import FakeSource

RULES_DIR = Path(__file__).resolve().parents[2] / "exporters" / "prometheus"
PROMTOOL = shutil.which("promtool") or "/usr/bin/promtool"


def promtool(*args: str, stdin: bytes | None = None) -> subprocess.CompletedProcess:
    return subprocess.run([PROMTOOL, *args], input=stdin, capture_output=True, cwd=RULES_DIR, timeout=60)


def test_rules_are_valid():
    result = promtool("check", "rules", "rules.yml")
    assert result.returncode == 0, result.stdout + result.stderr
    assert b"SUCCESS: 7 rules found" in result.stdout


def test_rule_unit_tests_pass():
    result = promtool("test", "rules", "rules_test.yml")
    assert result.returncode == 0, result.stdout + result.stderr
    assert b"SUCCESS" in result.stdout


def test_rule_unit_tests_catch_a_wrong_threshold(tmp_path):
    """The unit tests are sharp: loosening one threshold makes them fail."""
    rules = (RULES_DIR / "rules.yml").read_text()
    assert "< 0.1\n" in rules
    (tmp_path / "rules.yml").write_text(rules.replace("< 0.1\n", "< 0.6\n"))
    shutil.copy(RULES_DIR / "rules_test.yml", tmp_path)
    result = subprocess.run([PROMTOOL, "test", "rules", "rules_test.yml"], capture_output=True, cwd=tmp_path, timeout=60)
    assert result.returncode != 0
    assert b"DmmPrefixPoolNearlyExhausted" in result.stdout + result.stderr


@pytest.mark.parametrize("source", [FakeSource(), FakeSource.populated()], ids=["idle", "populated"])
def test_a_real_scrape_passes_promtool_check_metrics(source):
    with MetricsServer(source, "127.0.0.1", 0) as server:
        with urllib.request.urlopen(server.url + "/metrics", timeout=5) as response:
            body = response.read()
    assert b"dmm_info" in body
    result = promtool("check", "metrics", stdin=body)
    assert result.returncode == 0, result.stdout + result.stderr
    assert result.stdout + result.stderr == b""
