"""The typed values a MetricsSource returns reject inconsistent data with SourceDataError."""
import math

import pytest

from exporters.source import (
    HistogramSnapshot,
    NetconfRpcCount,
    PeerLiveness,
    PoolUsage,
    RegistrationCounters,
    RevocationCounters,
    SourceDataError,
)


def test_a_consistent_histogram_is_accepted():
    snapshot = HistogramSnapshot(buckets=((0.01, 1), (math.inf, 3)), sum_seconds=0.5, count=3)
    assert snapshot.count == 3


@pytest.mark.parametrize(
    "buckets, count",
    [
        (((0.01, 1), (0.1, 3)), 3),  # no +Inf bucket
        (((0.1, 1), (0.01, 2), (math.inf, 3)), 3),  # bounds not ascending
        (((0.01, 2), (0.1, 1), (math.inf, 3)), 3),  # counts not cumulative
        (((0.01, 1), (math.inf, 3)), 4),  # +Inf bucket differs from count
        ((), 0),
    ],
)
def test_an_inconsistent_histogram_is_rejected(buckets, count):
    with pytest.raises(SourceDataError):
        HistogramSnapshot(buckets=buckets, sum_seconds=0.1, count=count)


@pytest.mark.parametrize(
    "make",
    [
        lambda: PoolUsage("p", allocated=-1, free=3),
        lambda: PoolUsage("p", allocated=1, free=float("nan")),
        lambda: RegistrationCounters(received=-5),
        lambda: RegistrationCounters(rejected_by_status={"152": 1}),
        lambda: RegistrationCounters(rejected_by_status={300: 1}),
        lambda: RevocationCounters(sent={1: -1}),
        lambda: RevocationCounters(received={-2: 1}),
        lambda: PeerLiveness("2001:db8::1", up=True, last_change=0.0, heartbeat_timeouts=-1),
        lambda: NetconfRpcCount("get", None, -3),
        lambda: PoolUsage("p", allocated=True, free=1),
    ],
)
def test_negative_or_mistyped_counts_are_rejected(make):
    with pytest.raises(SourceDataError):
        make()
