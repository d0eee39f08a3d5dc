"""The exporter's typed values reject inconsistent data with SourceDataError."""
import math

import pytest

from exporters.source import (
    METRICS_REQUEST,
    FakeSource,
    HistogramSnapshot,
    NetconfRpcCount,
    SourceDataError,
    check_count,
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


def test_a_negative_rpc_count_is_rejected():
    with pytest.raises(SourceDataError):
        NetconfRpcCount("get", None, -3)


@pytest.mark.parametrize("value", [-1, float("nan"), True, "3"])
def test_check_count_refuses_what_is_not_a_count(value):
    with pytest.raises(SourceDataError):
        check_count("pool 'p' free", value)


def test_the_populated_fake_covers_every_section_a_scrape_asks_for():
    state = FakeSource.populated().snapshot()
    assert all(getattr(state, name) is not None for name in METRICS_REQUEST.sections)
