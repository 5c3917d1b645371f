"""When to ask for a render's status next.

The vendor's way is a fixed 30 s poll: a finished render is noticed 15 s late
on average. We aim instead. Each status carries a progress percentage, and
progress since the first reading fitted as a power of time, q = c * t^k,
through the last two readings follows an even pace (k = 1), a slow start
(k > 1) and a fast start (k < 1) alike, so the next poll can go to where the
render should finish. Readings are whole numbers, so a few fits are
consistent with them, giving an earliest and a latest finish: we poll at the
earliest while that window is wide (the reading there narrows it) and just
after the latest once it is narrow.

A render that falls behind the slowest pace its readings allowed (a stall, a
sudden slowdown) is no longer left to the fit: it is looked at every few
seconds, less often the longer it stays behind.

Caps, whatever the readings: the first look comes at `initial`; no later wait
is longer than `ceiling` (the vendor's own poll) nor shorter than `SHORTEST`
of it; while a render is behind, none is longer than `BEHIND_WAIT` of it, or a
quarter of the time it has been behind. Every time is a fraction of `ceiling`,
so a faster clock (the local studio, the tests' accelerated renders) scales the whole
schedule through the settings.
Tuned with bench/render_polling.py on even, slow-start, fast-start and
stalling progress.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

# Fractions of `ceiling` (in parentheses, the seconds for the default 30 s).
NARROW = 0.1  # a finish window this narrow (3 s) is aimed at its end: noticed within it
MARGIN = 1 / 120  # aim this far past the latest finish (0.25 s): absorbs clock and network jitter
SHORTEST = 1 / 30  # no wait is shorter (1 s): never a busy loop, whatever the readings say
BEHIND_WAIT = 0.15  # the longest wait while a render is behind (4.5 s), at first...
BEHIND_GROWTH = 0.25  # ...then a quarter of the time it has been behind: a long stall is not watched as closely
BEHIND_SHORTEST = 0.075  # and the shortest (2.25 s): a render stuck at 99 % is not asked about every second

# A render is behind when a reading falls short of the slowest pace by more than this share of the gain it promised.
BEHIND_SLACK = 0.2

# With one reading there is no curve yet: any pace from a fast start to a slow start.
FIRST_POWERS = (0.5, 2.0)
# The fitted power is held within these: two close readings can suggest absurd curves.
POWERS = (0.25, 4.0)


@dataclass(frozen=True)
class _Pace:
    """Progress since the first reading as q(u) = q * (u / u_at) ** k, u being seconds since it."""

    u_at: float
    q: float
    k: float

    def progress_at(self, u: float) -> float:
        return self.q * (u / self.u_at) ** self.k

    def reaches(self, q: float) -> float:
        return self.u_at * (q / self.q) ** (1 / self.k)


@dataclass
class PollSchedule:
    initial: float = 15.0
    ceiling: float = 30.0
    factor: float = 1.5
    samples: list[tuple[float, float]] = field(default_factory=list)  # (seconds since submit, progress %)
    behind_since: float | None = None  # when a reading first fell behind the pace the earlier ones allowed
    _blind_delay: float | None = None

    def record(self, elapsed: float, progress: float | None) -> None:
        """Note a status reading; readings that say nothing about the render's pace are dropped."""
        if progress is None or not 0 <= progress <= 100:  # NaN fails the comparison too
            return
        if self.samples and elapsed <= self.samples[-1][0]:
            return
        if self.samples and progress < self.samples[-1][1]:
            # Backwards: the render restarted, or the reading is garbage. Either way the old pace is void.
            self.samples.clear()
            self.behind_since = None
        if self.behind_since is None and self.samples and progress < 100:
            t0, p0 = self.samples[0]
            paces = self._paces()
            if paces:
                done, slowest = self.samples[-1][1] - p0, min(p.progress_at(elapsed - t0) for p in paces)
                # Slack: a whole-number reading hides up to 1 %, and a pace drawn from readings seconds
                # apart is only roughly right; a fifth of the promised gain covers both.
                if progress - p0 < slowest - 1 - BEHIND_SLACK * (slowest - done):
                    self.behind_since = elapsed
        self.samples.append((elapsed, float(progress)))

    def next_delay(self, elapsed: float) -> float:
        """Seconds to wait, `elapsed` seconds after submitting, before the next status request."""
        paces = self._paces()
        if not paces:
            if self.samples and self.samples[-1][1] >= 100:
                return self.ceiling * BEHIND_WAIT  # done but for the status: look again soon
            return self._back_off()
        t0, p0 = self.samples[0]
        finishes = [t0 + p.reaches(100 - p0) for p in paces]
        earliest, latest = min(finishes), max(finishes)
        target = latest + self.ceiling * MARGIN if latest - earliest <= self.ceiling * NARROW else earliest
        longest, shortest = self.ceiling, self.ceiling * SHORTEST
        if self.behind_since is not None:
            behind = elapsed - self.behind_since
            longest = min(longest, max(self.ceiling * BEHIND_WAIT, behind * BEHIND_GROWTH))
            if target <= elapsed:
                return longest  # overdue by the fit as well: the fit has nothing left to say
            shortest = self.ceiling * BEHIND_SHORTEST
        return max(shortest, min(longest, target - elapsed))

    def _back_off(self) -> float:
        """Until there is a pace: `initial`, then longer by `factor`, within the floor and the ceiling."""
        if self._blind_delay is None:
            self._blind_delay = self.initial
        else:
            self._blind_delay = min(self.ceiling, max(self.ceiling * SHORTEST, self._blind_delay * self.factor))
        return self._blind_delay

    def _paces(self) -> list[_Pace]:
        """Every pace consistent with the readings: each whole number may hide up to 1 % more."""
        if len(self.samples) < 2 or self.samples[-1][1] >= 100:
            return []
        t0, p0 = self.samples[0]
        t1, p1 = self.samples[-1]
        u1, q1 = t1 - t0, p1 - p0
        if q1 < 1 or u1 < self.ceiling * SHORTEST:
            return []  # no movement yet (a whole percentage, over a moment at least): nothing to fit
        earlier = [(t - t0, p - p0) for t, p in self.samples[1:-1] if p0 + 1 <= p < p1]
        paces = []
        for q_last in (q1, min(q1 + 1, 100 - p0)):
            if not earlier:
                paces += [_Pace(u1, q_last, k) for k in FIRST_POWERS]
                continue
            u0, q0 = earlier[-1]
            for q_before in (q0, q0 + 1):
                if q_before < q_last:
                    k = math.log(q_last / q_before) / math.log(u1 / u0)
                    paces.append(_Pace(u1, q_last, min(max(k, POWERS[0]), POWERS[1])))
        return paces
