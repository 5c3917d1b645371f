"""When to ask for a render's status next.

The vendor's way is a fixed 30 s poll: a render that finishes is noticed
15 s late on average. We aim instead: the status carries a progress
percentage, and two readings give a rate, so the next poll can go to where
the render should finish. Progress is a whole number, so each reading is
only known to +-1 %: we keep the earliest and latest finish consistent with
the readings, poll at the earliest while that window is wide (the reading
there narrows it) and just after the latest once it is narrow.

Until there is a rate to aim with, polls back off from `initial` by
`factor` up to the `ceiling` (30 s, as the vendor docs poll). The first
look comes at 15 s: renders take 30-90 s, and a reading taken that late
already bounds the finish well enough to aim the next poll at it. The
defaults were tuned with bench/render_polling.py (median detection under
2 s with fewer status requests than a fixed 30 s poll).
"""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass
class PollSchedule:
    initial: float = 1.0
    ceiling: float = 30.0
    factor: float = 1.5
    # Aim this far past the latest possible finish: absorbs clock and network jitter.
    margin: float = 0.25
    # A window narrower than this is aimed at its end: one poll, noticed within the window.
    narrow: float = 6.0
    # Even an aimed wait is bounded: progress that speeds up at the end must not leave a finished render unseen.
    longest_aim: float = 120.0
    samples: list[tuple[float, float]] = field(default_factory=list)  # (seconds since submit, progress %)
    _blind_delay: float | None = None

    def record(self, elapsed: float, progress: float | None) -> None:
        if progress is not None and 0 <= progress <= 100:
            self.samples.append((elapsed, float(progress)))

    def next_delay(self, elapsed: float) -> float:
        """Seconds to wait, `elapsed` seconds after submitting, before the next status request."""
        window = self._finish_window()
        if window is None:
            self._blind_delay = (
                self.initial if self._blind_delay is None else min(self.ceiling, self._blind_delay * self.factor)
            )
            return self._blind_delay
        earliest, latest = window
        target = latest + self.margin if latest - earliest <= self.narrow else earliest
        return min(self.longest_aim, max(min(self.initial, 0.1), target - elapsed))

    def _finish_window(self) -> tuple[float, float] | None:
        if len(self.samples) < 2:
            return None
        t0, p0 = self.samples[0]
        t1, p1 = self.samples[-1]
        span = t1 - t0
        if span <= 0 or p1 - p0 < 1 or p1 >= 100:
            return None
        # Whole-number readings: each true value lies within 1 % of what was shown.
        fast = (p1 - p0 + 1) / span
        slow = (p1 - p0 - 1) / span
        remaining = 100 - p1
        earliest = t1 + max(0.0, remaining - 1) / fast
        if slow <= 0:
            # Too little movement to bound the finish from above: only look early again.
            return earliest, earliest + self.ceiling * 10
        latest = t1 + (remaining + 1) / slow
        return earliest, latest
