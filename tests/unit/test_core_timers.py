import asyncio

from nf.core.timers import TimerService


class FakeClock:
    def __init__(self, now: float = 1000.0) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now


def test_timers_fire_in_deadline_order_once_due():
    clock = FakeClock()
    timers = TimerService(clock)
    fired = []
    timers.schedule(1003, fired.append, "c")
    timers.schedule(1001, fired.append, "a")
    timers.schedule(1002, fired.append, "b")
    assert timers.run_due() == 0
    clock.now = 1002
    assert timers.run_due() == 2
    assert fired == ["a", "b"]
    clock.now = 2000
    timers.run_due()
    assert fired == ["a", "b", "c"]
    assert len(timers) == 0


def test_equal_deadlines_fire_in_scheduling_order():
    clock = FakeClock()
    timers = TimerService(clock)
    fired = []
    for name in "xyz":
        timers.schedule(1001, fired.append, name)
    clock.now = 1001
    timers.run_due()
    assert fired == ["x", "y", "z"]


def test_cancelled_timer_never_fires_and_cancel_is_idempotent():
    clock = FakeClock()
    timers = TimerService(clock)
    fired = []
    t = timers.call_later(5, fired.append, "gone")
    timers.call_later(6, fired.append, "kept")
    t.cancel()
    timers.cancel(t)
    timers.cancel(None)
    assert len(timers) == 1
    clock.now += 10
    timers.run_due()
    assert fired == ["kept"]


def test_cancel_after_firing_does_not_change_count():
    clock = FakeClock()
    timers = TimerService(clock)
    t = timers.call_later(1, lambda: None)
    timers.call_later(2, lambda: None)
    clock.now += 1
    timers.run_due()
    t.cancel()
    assert len(timers) == 1


def test_failing_callback_does_not_stop_others():
    clock = FakeClock()
    timers = TimerService(clock)
    fired = []
    timers.call_later(1, lambda: 1 / 0)
    timers.call_later(1, fired.append, "after")
    clock.now += 1
    assert timers.run_due() == 2
    assert fired == ["after"]


def test_callback_may_schedule_a_due_timer_in_the_same_run():
    clock = FakeClock()
    timers = TimerService(clock)
    fired = []
    timers.call_later(1, lambda: timers.call_later(0, fired.append, "chained"))
    clock.now += 1
    timers.run_due()
    assert fired == ["chained"]


def test_next_deadline_skips_cancelled_timers():
    clock = FakeClock()
    timers = TimerService(clock)
    first = timers.schedule(1001, lambda: None)
    timers.schedule(1005, lambda: None)
    first.cancel()
    assert timers.next_deadline() == 1005


def test_mass_cancellation_compacts_the_heap():
    clock = FakeClock()
    timers = TimerService(clock)
    handles = [timers.call_later(i, lambda: None) for i in range(10_000)]
    for h in handles[:9_000]:
        h.cancel()
    assert len(timers) == 1_000
    assert len(timers._heap) < 5_000  # cancelled entries were dropped, not kept until due


def test_on_a_loop_one_handle_fires_the_earliest_timer():
    async def scenario() -> list[str]:
        loop = asyncio.get_running_loop()
        timers = TimerService(loop.time, loop)
        done = loop.create_future()
        fired: list[str] = []

        def record(name: str) -> None:
            fired.append(name)
            if len(fired) == 2:
                done.set_result(None)
        timers.call_later(0.02, record, "second")
        timers.call_later(0.01, record, "first")
        timers.call_later(0.015, lambda: None).cancel()
        await asyncio.wait_for(done, timeout=5)
        timers.close()
        return fired
    assert asyncio.run(scenario()) == ["first", "second"]
