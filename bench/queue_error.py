"""The estimate's error against the simulator's truth, per line (the figures in docs/queues.md).

    .venv/bin/python -m bench.queue_error
"""

from __future__ import annotations

import statistics
import sys

from backend.queues.service import estimate_wait_min
from backend.queues.simulator import PROFILES, simulate_day

SEEDS = (1, 7, 11, 23)
BRANCHES = 6


def errors_of(line: str, seeds=SEEDS, branches=BRANCHES) -> tuple[list[float], list[float]]:
    """(estimate minus truth, truth) in minutes, every 2 simulated minutes while open."""
    signed, truths = [], []
    for seed in seeds:
        for key in range(branches):
            for _, report, truth_s in simulate_day(PROFILES[line], seed, f"BR-{key}"):
                estimate = estimate_wait_min(report["waiting"], report["open_desks"],
                                             report["mean_service_s"], report["serving"])
                signed.append(estimate - truth_s / 60)
                truths.append(truth_s / 60)
    return signed, truths


def main() -> int:
    print(f"seeds {SEEDS}, {BRANCHES} branches each, a report every 2 simulated minutes "
          "from 09:00 to 17:00")
    print("| line | estimates | mean true wait | mean abs error | bias | 90% within |")
    print("|---|---|---|---|---|---|")
    for line in PROFILES:
        signed, truths = errors_of(line)
        absolute = [abs(e) for e in signed]
        print(f"| {line} | {len(signed)} | {statistics.mean(truths):.1f} min | "
              f"{statistics.mean(absolute):.2f} min | {statistics.mean(signed):+.2f} min | "
              f"{statistics.quantiles(absolute, n=10)[-1]:.1f} min |")
    return 0


if __name__ == "__main__":
    sys.exit(main())
