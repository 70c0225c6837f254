"""Quality-matched controls: an ordinary model as good (as bad) as a star, to tell its barriers apart from its quality.

A star is usually a worse model than its anchors, and a barrier subtracts a chord that starts at the worse
endpoint, so a worse model gets a smaller barrier whatever it is. The control is trained like an anchor (the
plain objective, the anchors' optimizer and schedule, its own seed) on a shorter budget: the number of steps at
which its train loss, on the evaluation set the barriers use, lies within a tolerance of the star's.

Why a shorter schedule rather than early stopping: a model stopped early sits mid-schedule at a high learning
rate, its loss moves from step to step, and it is not a solution in the sense the anchors are. A full schedule of
fewer steps ends annealed, as every anchor does, and its final loss falls steadily with the budget, so the budget
can be searched: `search_budget` brackets the target and interpolates in log-log (loss against steps), falling
back to halving the bracket, until a training lands within tolerance or the number of trainings runs out (then
the closest is kept, and recorded as not matched).
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass


@dataclass(frozen=True)
class Probe:
    """One training of the search: its budget in steps and the train loss it reached."""

    steps: int
    loss: float


def within(loss: float, target: float, tolerance: float) -> bool:
    """Whether `loss` lies within `tolerance` (relative) of `target`."""
    return abs(loss - target) <= tolerance * target


def _between(lo: Probe, hi: Probe, target: float) -> int:
    """The budget at which the line through `lo` (loss above target) and `hi` (loss below) in log-log space meets
    the target, kept inside the middle 80 % of the bracket; its midpoint where the line cannot say."""
    width = hi.steps - lo.steps
    guess = (lo.steps + hi.steps) / 2
    if lo.loss > hi.loss > 0 and target > 0:
        slope = (math.log(hi.loss) - math.log(lo.loss)) / (math.log(hi.steps) - math.log(lo.steps))
        guess = math.exp(math.log(lo.steps) + (math.log(target) - math.log(lo.loss)) / slope)
    return round(min(max(guess, lo.steps + 0.1 * width), hi.steps - 0.1 * width))


def next_budget(probes: list[Probe], target: float, full: int) -> int | None:
    """The next budget to train, or None when the search cannot improve: the full budget is already too good
    (the star is worse than nothing the schedule can make) or too poor (the star is better than an anchor), or the
    bracket is down to adjacent steps."""
    if not probes:
        return max(1, full // 2)
    above = [p for p in probes if p.loss > target]  # too poor: more steps needed
    below = [p for p in probes if p.loss <= target]  # too good: fewer steps
    if not below:
        longest = max(above, key=lambda p: p.steps)
        return full if longest.steps < full else None
    if not above:  # every budget so far too good: go shorter, by the log-log line through the two shortest
        shortest, *rest = sorted(below, key=lambda p: p.steps)
        if shortest.steps <= 1:
            return None
        guess = shortest.steps / 2
        if rest and rest[0].loss < shortest.loss:
            slope = math.log(rest[0].loss / shortest.loss) / math.log(rest[0].steps / shortest.steps)
            guess = shortest.steps * math.exp(math.log(target / shortest.loss) / slope)
        return max(1, round(min(max(guess, shortest.steps / 8), shortest.steps / 2)))
    lo = max((p for p in above if p.steps < min(b.steps for b in below)), key=lambda p: p.steps, default=None)
    hi = min(below, key=lambda p: p.steps)
    if lo is None or hi.steps - lo.steps <= 1:
        return None
    budget = _between(lo, hi, target)
    return None if budget in {p.steps for p in probes} else budget


def search_budget(train_to: Callable[[int], float], target: float, full: int, tolerance: float,
                  max_trainings: int, done: list[Probe] | None = None) -> tuple[Probe, list[Probe]]:
    """Train at successive budgets (`train_to(steps)` trains from scratch and returns the train loss) until one
    lands within `tolerance` of `target`. `done` holds the trainings of an interrupted search, which continues
    where it stopped. Returns (the chosen probe, every probe in order): the first within tolerance, else the
    closest. The caller keeps the model of the chosen probe."""
    probes = list(done or [])
    for probe in probes:
        if within(probe.loss, target, tolerance):
            return probe, probes
    while len(probes) < max_trainings:
        steps = next_budget(probes, target, full)
        if steps is None:
            break
        probes.append(Probe(steps, train_to(steps)))
        if within(probes[-1].loss, target, tolerance):
            return probes[-1], probes
    return min(probes, key=lambda p: abs(p.loss - target)), probes
