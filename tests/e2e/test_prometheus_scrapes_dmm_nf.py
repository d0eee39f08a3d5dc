"""A real Prometheus scrapes a running dmm-nf LMA: its series arrive and follow a registration."""
from __future__ import annotations

from lxml import etree

from tests.e2e.test_lma_mag_loopback import MN, NS, connect, lab  # noqa: F401  (fixture)
from tests.exporters.test_prometheus_server import run_prometheus, wait_for


def test_registration_counters_move_in_prometheus(lab, tmp_path):  # noqa: F811
    (_, lma_nc, lma_metrics), (_, mag_nc, _) = lab
    with run_prometheus(tmp_path, [f"[::1]:{lma_metrics}"]) as prometheus:
        wait_for(lambda: prometheus.value('dmm_info{role="lma"}') == 1.0, "dmm_info from the LMA")
        assert prometheus.value('up{job="dmm-nf"}') == 1.0
        assert (prometheus.value("dmm_registrations_accepted_total") or 0.0) == 0.0
        with connect(mag_nc) as mag:
            mag.dispatch(etree.fromstring(f'<mn-attach xmlns="{NS}"><mn-identifier>{MN}</mn-identifier></mn-attach>'))
        wait_for(lambda: prometheus.value("dmm_registrations_accepted_total") == 1.0, "one accepted registration")
        wait_for(lambda: prometheus.value('dmm_bindings{state="active"}') == 1.0, "one active binding")
        # The LMA started before the MAG, so its first Heartbeat went unanswered and the next is
        # 60 s away (RFC 5847's interval); the registration makes it ask the MAG at once.
        wait_for(lambda: prometheus.value('dmm_peer_up{peer="::1"}') == 1.0, "the path to the MAG up")


def test_promtool_finds_no_problem_in_a_live_scrape(lab):  # noqa: F811
    import subprocess
    import urllib.request

    (_, _, lma_metrics), (_, mag_nc, mag_metrics) = lab
    with connect(mag_nc) as mag:
        mag.dispatch(etree.fromstring(f'<mn-attach xmlns="{NS}"><mn-identifier>{MN}</mn-identifier></mn-attach>'))
    for port in (lma_metrics, mag_metrics):
        with urllib.request.urlopen(f"http://[::1]:{port}/metrics", timeout=5) as r:
            scrape = r.read()
        check = subprocess.run(["promtool", "check", "metrics"], input=scrape, capture_output=True, timeout=30)
        assert check.returncode == 0 and check.stdout.strip() == b"" and check.stderr.strip() == b"", check
