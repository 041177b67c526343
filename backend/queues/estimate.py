"""The estimate of a wait from a line's state (docs/queues.md: method and error)."""

from __future__ import annotations

# Services left, on average, until the first busy desk frees up: half a service if services
# took exactly their mean, one if they were exponential; 0.75 fits service times as variable
# as a bank counter's (coefficient of variation about 0.7, see docs/queues.md).
RESIDUAL_SERVICES = 0.75


def estimate_wait_min(waiting: int, open_desks: int, mean_service_s: float,
                      serving: int | None = None) -> float | None:
    """Expected minutes before someone joining now reaches a desk; None when no desk is open.

    Everyone ahead is served first-come first-served by `open_desks` desks that each take
    `mean_service_s` on average. Free desks (open minus `serving`, when the system reports it;
    otherwise all of them when nobody waits, none when someone does) take the first in line at
    once; after that each place in the line costs one service spread over the desks, plus on
    average RESIDUAL_SERVICES of a service until the first busy desk frees up.
    docs/queues.md gives the error against the simulator's truth.
    """
    if open_desks <= 0:
        return None
    free = max(0, open_desks - serving) if serving is not None else (
        open_desks if waiting <= 0 else 0)
    if waiting < free:
        return 0.0
    return (waiting - free + RESIDUAL_SERVICES) * mean_service_s / open_desks / 60.0
