"""The collector reads the source at scrape time and exports bounded, well-named metrics."""
from dataclasses import replace

import pytest
from prometheus_client import CollectorRegistry, generate_latest
from prometheus_client.parser import text_string_to_metric_families

from exporters.collector import Collector
from exporters.source import FakeSource, peer, statistics
from nf.roles.mag import MagCounters
from nf.snapshot import BindingCounts

ALLOWED_LABELS = {"role", "version", "state", "pool", "status", "direction", "trigger", "peer", "reason",
                  "operation", "error", "section", "le", "kind", "type", "result", "code"}


def registry_for(source) -> CollectorRegistry:
    registry = CollectorRegistry()
    registry.register(Collector(source))
    return registry


def cache_counts(**by_state: int) -> BindingCounts:
    return BindingCounts(cache={state.replace("_", "-"): n for state, n in by_state.items()})


def test_values_come_from_the_source_at_scrape_time():
    source = FakeSource()
    source.update(bindings=cache_counts(active=3))
    registry = registry_for(source)
    assert registry.get_sample_value("dmm_bindings", {"state": "active"}) == 3
    source.update(bindings=cache_counts(active=4, deregistration_pending=1))
    assert registry.get_sample_value("dmm_bindings", {"state": "active"}) == 4
    assert registry.get_sample_value("dmm_bindings", {"state": "deregistration-pending"}) == 1


def test_populated_source_exports_every_family_with_its_values():
    registry = registry_for(FakeSource.populated())
    value = registry.get_sample_value
    assert value("dmm_info", {"role": "lma", "version": "0.1.0"}) == 1
    assert value("dmm_info", {"role": "mag", "version": "0.1.0"}) == 1
    assert value("dmm_tunnels") == 3
    assert value("dmm_pool_prefixes_allocated", {"pool": "pool-a"}) == 42
    assert value("dmm_pool_prefixes_free", {"pool": "pool-a"}) == 982
    assert value("dmm_registrations_received_total", {"role": "lma"}) == 120
    assert value("dmm_registrations_accepted_total", {"role": "lma"}) == 110
    assert value("dmm_registrations_rejected_total", {"role": "lma", "status": "152"}) == 6
    assert value("dmm_registrations_received_total", {"role": "mag"}) == 120
    assert value("dmm_registrations_accepted_total", {"role": "mag"}) == 118
    assert value("dmm_registrations_rejected_total", {"role": "mag", "status": "130"}) == 2
    assert value("dmm_bindings", {"state": "active"}) == 40 and value("dmm_bindings", {"state": "registered"}) == 3
    assert value("dmm_revocations_total", {"direction": "sent", "trigger": "1"}) == 2
    assert value("dmm_revocations_total", {"direction": "received", "trigger": "2"}) == 5
    assert value("dmm_peer_up", {"peer": "2001:db8::1"}) == 1
    assert value("dmm_peer_up", {"peer": "2001:db8::2"}) == 0
    assert value("dmm_heartbeat_requests_total", {"peer": "2001:db8::2"}) == 60
    assert value("dmm_heartbeat_responses_total", {"peer": "2001:db8::2"}) == 50
    assert value("dmm_heartbeat_timeouts_total", {"peer": "2001:db8::2"}) == 10
    assert value("dmm_peer_restarts_total", {"peer": "2001:db8::1"}) == 1
    assert value("dmm_handovers_total") == 9
    assert value("dmm_messages_dropped_total", {"reason": "unknown-peer"}) == 3
    assert value("dmm_netconf_sessions") == 2
    assert value("dmm_netconf_rpcs_total", {"operation": "get", "error": "none"}) == 30
    assert value("dmm_netconf_rpcs_total", {"operation": "edit-config", "error": "invalid-value"}) == 2
    assert value("dmm_config_commits_total") == 5
    assert value("dmm_start_time_seconds") > 0
    assert value("dmm_exporter_scrape_duration_seconds") >= 0


def test_netconf_refusals_failed_logins_and_ended_reads_are_exported_without_user_or_address():
    registry = registry_for(FakeSource.populated())
    value = registry.get_sample_value
    assert value("dmm_netconf_pending_connections") == 1
    assert value("dmm_netconf_login_failures_total") == 7
    assert value("dmm_netconf_login_timeouts_total") == 2
    assert value("dmm_netconf_refused_total", {"reason": "pending-per-source-limit"}) == 4
    assert value("dmm_netconf_refused_total", {"reason": "session-limit"}) == 1
    assert value("dmm_netconf_refused_total", {"reason": "pending-limit"}) == 0  # every reason has a sample
    assert value("dmm_netconf_requests_ended_total", {"reason": "time-limit"}) == 3
    assert value("dmm_netconf_requests_ended_total", {"reason": "client-gone"}) == 1
    families = text_string_to_metric_families(generate_latest(registry).decode())
    labels = {key for family in families if family.name.startswith("dmm_netconf_")
              for sample in family.samples for key in sample.labels}
    assert labels == {"operation", "error", "reason"}


def test_pba_round_trip_is_a_cumulative_histogram_in_seconds():
    registry = registry_for(FakeSource.populated())
    value = registry.get_sample_value
    assert value("dmm_pba_round_trip_seconds_bucket", {"le": "0.005"}) == 80
    assert value("dmm_pba_round_trip_seconds_bucket", {"le": "+Inf"}) == 120
    assert value("dmm_pba_round_trip_seconds_count") == 120
    assert value("dmm_pba_round_trip_seconds_sum") == pytest.approx(1.51)


def test_a_node_without_the_mag_role_exports_no_histogram():
    source = FakeSource()
    assert source.state.counters.mag is None
    assert registry_for(source).get_sample_value("dmm_pba_round_trip_seconds_count") is None


def test_labels_are_bounded_and_names_follow_prometheus_conventions():
    text = generate_latest(registry_for(FakeSource.populated())).decode()
    for family in text_string_to_metric_families(text):
        assert family.name.startswith("dmm_")
        if family.type == "counter":
            assert all(sample.name.endswith("_total") for sample in family.samples)
        for sample in family.samples:
            assert set(sample.labels) <= ALLOWED_LABELS, sample


def test_scrape_size_does_not_grow_with_bindings():
    source = FakeSource()
    source.update(bindings=cache_counts(active=10))
    registry = registry_for(source)
    small = generate_latest(registry).splitlines()
    source.update(bindings=cache_counts(active=1_000_000))
    large = generate_latest(registry).splitlines()
    assert len(large) == len(small)
    assert b'dmm_bindings{state="active"} 1e+06' in large
    assert abs(sum(map(len, large)) - sum(map(len, small))) < 16  # only the digits differ


def scrape_once(registry: CollectorRegistry) -> dict[tuple[str, frozenset], float]:
    """One scrape, as {(sample name, labels): value}; each scrape reads the source again."""
    text = generate_latest(registry).decode()
    return {(sample.name, frozenset(sample.labels.items())): sample.value
            for family in text_string_to_metric_families(text) for sample in family.samples}


def errors(samples, section: str) -> float:
    return samples[("dmm_exporter_source_errors_total", frozenset({("section", section)}))]


def test_a_section_with_inconsistent_values_is_left_out_counted_and_the_rest_still_served():
    source = FakeSource()
    source.update(bindings=cache_counts(active=2),
                  peers=(peer("2001:db8::1", up=True, last_change=0.0, timeouts=-1),))
    registry = registry_for(source)
    first = scrape_once(registry)
    assert not any(name == "dmm_peer_up" for name, _ in first)
    assert first[("dmm_bindings", frozenset({("state", "active")}))] == 2
    assert errors(first, "peers") == 1
    assert errors(first, "bindings") == 0
    second = scrape_once(registry)
    assert errors(second, "peers") == 2


def test_a_negative_counter_is_counted_not_raised():
    source = FakeSource()
    source.update(counters=replace(source.state.counters, statistics=statistics(pbu_received=-1)))
    samples = scrape_once(registry_for(source))
    assert not any(name == "dmm_registrations_received_total" for name, _ in samples)
    assert errors(samples, "registrations") == 1


def test_a_snapshot_that_cannot_be_read_leaves_the_runtime_out_and_serves_the_rest():
    class Unanswered(FakeSource):
        def snapshot(self):
            raise TimeoutError("runtime did not answer within 10.0 s")

    samples = scrape_once(registry_for(Unanswered()))
    assert errors(samples, "snapshot") == 1
    assert not any(name.startswith(("dmm_info", "dmm_bindings", "dmm_peer_up")) for name, _ in samples)
    assert ("dmm_netconf_sessions", frozenset()) in samples


def test_infinite_histogram_bound_is_rendered_as_plus_inf_only_once():
    source = FakeSource()
    mag = MagCounters()
    mag.pba_rtt_seconds.append(0.2)
    source.update(counters=replace(source.state.counters, mag=mag))
    text = generate_latest(registry_for(source)).decode()
    assert text.count('le="+Inf"') == 1
    assert 'dmm_pba_round_trip_seconds_bucket{le="0.25"} 1.0' in text


def test_the_event_history_exports_what_it_recorded_and_what_it_lost():
    value = registry_for(FakeSource.populated()).get_sample_value
    assert value("dmm_event_history_recorded_total") == 500
    assert value("dmm_event_history_dropped_total") == 2
    assert value("dmm_event_history_write_failures_total") == 1
    assert value("dmm_event_history_pending") == 3
