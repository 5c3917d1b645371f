"""The poll schedule on its own: renders whose progress follows different curves, and readings that make no sense.

A simulated clock, like export's loop: submit (the answer reads 5 %), wait what
the schedule says, read the status, record it. Progress is reported as the
backend does: whole numbers, at most 99 % until the render is complete.
"""

from __future__ import annotations

import math
import random
from collections.abc import Callable

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from nemovideo_mcp.app.polling import BEHIND_WAIT, SHORTEST, PollSchedule

CURVES: dict[str, Callable[[float], float]] = {
    "even": lambda x: x,
    "slow start": lambda x: x * x,
    "fast start": math.sqrt,
    "stall at 90 %": lambda x: min(0.9, x / 0.8),
}


def render(curve: Callable[[float], float], seconds: float, seed: int) -> tuple[float, int, list[float]]:
    """(seconds from completion to the answer saying so, status requests, every wait)."""
    rng = random.Random(seed)
    queued = rng.uniform(0, 2)  # the backend starts the render a little after answering the submit
    schedule = PollSchedule()
    schedule.record(0.0, 5)
    now = 0.0
    waits: list[float] = []
    while len(waits) < 1000:
        waits.append(schedule.next_delay(now))
        now += waits[-1] + rng.uniform(0.01, 0.15)  # the request's way there
        x = (now - queued) / seconds
        progress = None if x >= 1 else 5 if x <= 0 else min(99, 5 + math.floor(95 * curve(x)))
        now += rng.uniform(0.01, 0.15)  # and back
        if progress is None:
            return now - (queued + seconds), len(waits), waits
        schedule.record(now, progress)
    raise AssertionError("never noticed the render finish")


@pytest.mark.parametrize("curve", CURVES)
def test_a_45_second_render_is_noticed_within_5_s_with_at_most_6_requests_on_every_curve(curve: str) -> None:
    results = [render(CURVES[curve], 45.0, seed) for seed in range(40)]
    worst_late = max(late for late, _, _ in results)
    most_polls = max(polls for _, polls, _ in results)
    assert worst_late <= 5.0, (curve, worst_late)
    assert most_polls <= 6, (curve, most_polls)
    assert min(late for late, _, _ in results) >= 0  # it was never "seen" before it finished


@pytest.mark.parametrize("seconds", [20.0, 90.0, 300.0])
@pytest.mark.parametrize("curve", CURVES)
def test_other_lengths_are_noticed_sooner_than_the_vendor_poll_at_a_bounded_cost(curve: str, seconds: float) -> None:
    results = [render(CURVES[curve], seconds, seed) for seed in range(20)]
    mean_late = sum(late for late, _, _ in results) / len(results)
    assert mean_late < 15.0  # the fixed 30 s poll's average
    # A long stall is watched less closely the longer it lasts, so requests stay well short of one a second.
    assert max(polls for _, polls, _ in results) <= max(6, seconds / 10)


def test_every_wait_is_capped_however_wrong_the_aim() -> None:
    # Readings that promise a finish hours away: the wait is still the vendor's 30 s at most.
    schedule = PollSchedule()
    schedule.record(0.0, 5)
    schedule.record(15.0, 6)
    schedule.record(30.0, 7)
    assert schedule.next_delay(30.0) == 30.0


def test_a_render_that_stalls_is_looked_at_every_few_seconds() -> None:
    schedule = PollSchedule()
    for elapsed, progress in ((0.0, 5), (15.0, 40), (25.0, 62), (36.0, 90), (40.0, 90)):
        schedule.record(elapsed, progress)
    assert schedule.behind_since == 40.0
    assert schedule.next_delay(40.5) <= 30.0 * BEHIND_WAIT


def test_a_stall_long_past_is_watched_less_closely_but_still_within_the_ceiling() -> None:
    schedule = PollSchedule()
    for elapsed, progress in ((0.0, 5), (15.0, 40), (25.0, 62), (36.0, 90), (40.0, 90)):
        schedule.record(elapsed, progress)
    assert 30.0 * BEHIND_WAIT < schedule.next_delay(120.0) <= 30.0


def test_progress_going_backwards_starts_the_fit_over() -> None:
    schedule = PollSchedule()
    for elapsed, progress in ((0.0, 5), (15.0, 50), (25.0, 80)):
        schedule.record(elapsed, progress)
    aimed = schedule.next_delay(25.0)
    schedule.record(30.0, 10)  # the render restarted (or the answer is garbage)
    assert schedule.samples == [(30.0, 10.0)]
    assert schedule.behind_since is None
    # No pace to aim with any more: the blind back-off, not a wait aimed at the old finish.
    assert schedule.next_delay(30.0) == pytest.approx(15.0) != pytest.approx(aimed)


@pytest.mark.parametrize("garbage", [None, 101, 250.0, -3, math.nan, math.inf])
def test_readings_that_are_not_a_percentage_are_ignored(garbage: float | None) -> None:
    schedule = PollSchedule()
    schedule.record(0.0, 5)
    schedule.record(15.0, 40)
    before = list(schedule.samples)
    schedule.record(20.0, garbage)
    assert schedule.samples == before


def test_no_progress_ever_backs_off_to_the_vendor_poll() -> None:
    schedule = PollSchedule()
    schedule.record(0.0, 5)
    waits: list[float] = []
    for _ in range(6):
        waits.append(schedule.next_delay(sum(waits)))
        schedule.record(sum(waits), None)
    assert waits == [15.0, 22.5, 30.0, 30.0, 30.0, 30.0]


def test_a_finished_reading_without_the_finished_status_is_looked_at_again_soon() -> None:
    schedule = PollSchedule()
    schedule.record(0.0, 5)
    schedule.record(15.0, 100)
    assert schedule.next_delay(15.0) == 30.0 * BEHIND_WAIT


def test_the_whole_schedule_scales_with_the_configured_pace() -> None:
    # The local studio and the tests run on a faster clock by setting the two intervals: nothing absolute is left.
    scale = 0.01
    readings = [(15.0, 21), (24.0, 46), (38.0, 79), (41.0, 84), (44.0, 84), (49.0, 90)]
    slow, fast = PollSchedule(), PollSchedule(initial=15.0 * scale, ceiling=30.0 * scale)
    slow.record(0.0, 5)
    fast.record(0.0, 5)
    for elapsed, progress in readings:
        slow.record(elapsed, progress)
        fast.record(elapsed * scale, progress)
        assert fast.next_delay(elapsed * scale) == pytest.approx(slow.next_delay(elapsed) * scale)


readings = st.lists(
    st.tuples(
        st.floats(min_value=0.0, max_value=60.0),  # time since the last reading; 0 is a clock that did not move
        st.one_of(st.none(), st.integers(-10, 120), st.floats(allow_nan=True, allow_infinity=True)),
    ),
    max_size=40,
)


@settings(max_examples=300, deadline=None)
@given(readings, st.sampled_from([(15.0, 30.0), (0.005, 0.05), (60.0, 0.05), (2.0, 12.0), (0.001, 30.0)]))
def test_no_wait_is_longer_than_the_ceiling_or_shorter_than_the_floor_whatever_the_readings(
    steps: list[tuple[float, float | None]], pace: tuple[float, float]
) -> None:
    initial, ceiling = pace
    schedule = PollSchedule(initial=initial, ceiling=ceiling)
    schedule.record(0.0, 5)
    elapsed = 0.0
    first = True
    for gap, progress in steps:
        wait = schedule.next_delay(elapsed)
        assert math.isfinite(wait)
        if first:
            assert wait == initial  # the first look is the configured one, even when longer than the ceiling
        else:
            assert ceiling * SHORTEST <= wait <= ceiling, (wait, schedule.samples)
        first = False
        elapsed += gap
        schedule.record(elapsed, progress)
