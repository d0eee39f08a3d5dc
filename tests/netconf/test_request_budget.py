"""The request budget on a fake clock, and which XPath filters need a worker process."""
from __future__ import annotations

import pytest

from mgmt.netconf.budget import TICK, OverTimeLimit, RequestAbandoned, RequestBudget
from mgmt.netconf.filters import XPathFilter
from nf.model import new_context


class Clock:
    def __init__(self) -> None:
        self.now = 50.0

    def __call__(self) -> float:
        return self.now


def test_the_budget_ends_a_request_once_its_time_is_up_with_operation_failed_naming_the_limit():
    clock = Clock()
    budget = RequestBudget(2.0, clock=clock)
    clock.now += 1.9
    budget.check()
    clock.now += 0.1
    with pytest.raises(OverTimeLimit) as ended:
        budget.check()
    assert ended.value.tag == "operation-failed" and "time limit of 2 s" in ended.value.message


def test_the_budget_ends_a_request_whose_client_went():
    gone = [False]
    budget = RequestBudget(60.0, lambda: gone[0], clock=Clock())
    budget.check()
    gone[0] = True
    with pytest.raises(RequestAbandoned):
        budget.check()


def test_a_walk_checks_the_budget_once_every_tick_nodes():
    clock = Clock()
    budget = RequestBudget(1.0, clock=clock)
    clock.now += 5
    for _ in range(TICK - 1):
        budget.tick()
    with pytest.raises(OverTimeLimit):
        budget.tick()


@pytest.fixture(scope="module")
def ctx():
    return new_context()


@pytest.mark.parametrize("select", [
    "/dmm-nf/binding-cache/binding",
    "/dmm-nf/binding-cache/binding[mn-identifier='mn1@example.net']",
    "/dmm-nf:dmm-nf/binding-cache/binding[mn-identifier='mn1@example.net' and link-layer-id=\"\"]/proxy-coa",
    "/dmm-nf/peers/peer[address='::1'] | /dmm-nf/timers",
])
def test_absolute_paths_with_equalities_are_evaluated_in_the_server(ctx, select):
    assert XPathFilter(select, {}, ctx).bounded()


@pytest.mark.parametrize("select", [
    "//*[count(//*)>0]",
    "//binding",
    "/dmm-nf/binding-cache/*",
    "/dmm-nf/binding-cache/binding[starts-with(mn-identifier, 'mn1')]",
    "/dmm-nf/binding-cache/binding[mn-identifier='a' or mn-identifier='b']",
    "/dmm-nf/binding-cache/binding[tunnel/name='x']",
    "/dmm-nf/binding-cache/binding[mn-identifier=/dmm-nf/node/name]",
    "/dmm-nf/binding-cache/binding/ancestor::*",
    "/dmm-nf/timers | //binding",
])
def test_anything_else_goes_to_a_worker(ctx, select):
    assert not XPathFilter(select, {}, ctx).bounded()
