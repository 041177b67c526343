"""A queue system in software: branches' lines with arrivals, desks and service, seeded.

Each line is a first-come first-served queue served by its open desks. Arrivals are a Poisson
process whose rate follows the time of day (quiet at opening, busy over lunch), service times are
gamma-distributed around the line's mean, and desks open and close on a schedule (an extra
counter desk over lunch, one fewer in the last half hour). Everything is drawn from one seeded
random generator per line, so a seed gives the same day every time.

Besides what a real queue system reports (waiting, open desks, recent mean service time), the
simulator knows the truth: how long someone joining now will actually wait (`true_wait_s`),
worked out by running a copy of the line forward. The tests compare our estimate with it.
"""

from __future__ import annotations

import copy
import heapq
import math
import random
import zlib
from collections import deque
from collections.abc import Iterator
from dataclasses import dataclass, field

OPEN_S, CLOSE_S = 9 * 3600, 17 * 3600


@dataclass(frozen=True)
class LineProfile:
    """How busy a kind of line is: arrivals an hour at its peak, service time, desks."""

    line: str
    peak_arrivals_per_hour: float
    mean_service_s: float
    desks: int
    lunch_extra_desks: int = 0
    service_shape: float = 2.0  # gamma shape: coefficient of variation 1/sqrt(shape)


PROFILES = {
    "counter": LineProfile("counter", 40, 240, 2, lunch_extra_desks=1),
    "cash": LineProfile("cash", 30, 150, 1, lunch_extra_desks=1),
    "advisor": LineProfile("advisor", 4, 1500, 2, service_shape=3.0),
    "priority": LineProfile("priority", 6, 360, 1),
}


def arrival_factor(seconds_of_day: float) -> float:
    """The arrival rate relative to the peak at this time of day (0 when closed)."""
    hour = seconds_of_day / 3600
    if not OPEN_S <= seconds_of_day < CLOSE_S:
        return 0.0
    # Quiet at 9, a lunchtime peak at 12:30-13:30, a smaller one after work hours begin to end.
    lunch = math.exp(-((hour - 13.0) ** 2) / 1.5)
    late = 0.5 * math.exp(-((hour - 16.0) ** 2) / 0.8)
    return min(1.0, 0.35 + 0.65 * lunch + late)


def desks_at(profile: LineProfile, seconds_of_day: float) -> int:
    """Open desks at this time of day: more over lunch, one fewer in the last half hour."""
    if not OPEN_S <= seconds_of_day < CLOSE_S:
        return 0
    desks = profile.desks
    if 11.5 * 3600 <= seconds_of_day < 14.5 * 3600:
        desks += profile.lunch_extra_desks
    if seconds_of_day >= CLOSE_S - 1800 and desks > 1:
        desks -= 1
    return desks


@dataclass
class Customer:
    arrived: float
    service_s: float
    ticket: str | None = None


@dataclass
class LineSim:
    """One line of one branch, advanced event by event."""

    profile: LineProfile
    rng: random.Random
    scale: float = 1.0  # how busy this branch is compared with the profile
    clock: float = 0.0
    queue: deque = field(default_factory=deque)
    busy: list = field(default_factory=list)  # heap of (free at, seq, customer)
    open_desks: int = 0
    recent_services: deque = field(default_factory=lambda: deque(maxlen=20))
    next_arrival: float = math.inf
    served_waits: list = field(default_factory=list)
    events: list = field(default_factory=list)  # (ticket, "called" | "served")
    _seq: int = 0

    @classmethod
    def start(cls, profile: LineProfile, seed: int, key: str, at: float = 0.0) -> LineSim:
        rng = random.Random(zlib.crc32(f"{seed}:{key}:{profile.line}".encode()))
        sim = cls(profile, rng, scale=rng.uniform(0.6, 1.3), clock=at)
        sim.open_desks = desks_at(profile, at)
        sim.next_arrival = sim._draw_arrival(at)
        return sim

    def _draw_arrival(self, after: float) -> float:
        # Thinning: candidates at the peak rate, kept with the time of day's factor.
        peak = self.profile.peak_arrivals_per_hour * self.scale / 3600
        t = after
        while t < CLOSE_S:
            t += self.rng.expovariate(peak)
            if self.rng.random() < arrival_factor(t):
                return t
        return math.inf

    def _draw_service(self) -> float:
        shape = self.profile.service_shape
        return self.rng.gammavariate(shape, self.profile.mean_service_s / shape)

    def _next_schedule_change(self) -> float:
        # No change at closing time: the desks still open serve everyone inside.
        marks = [OPEN_S, 11.5 * 3600, 14.5 * 3600, CLOSE_S - 1800]
        return next((m for m in marks if m > self.clock), math.inf)

    def _start_services(self) -> None:
        while self.queue and len(self.busy) < self.open_desks:
            customer = self.queue.popleft()
            self.served_waits.append((customer.arrived, self.clock - customer.arrived))
            self._seq += 1
            heapq.heappush(self.busy, (self.clock + customer.service_s, self._seq, customer))
            if customer.ticket:
                self.events.append((customer.ticket, "called"))

    def advance(self, until: float) -> None:
        """Run every arrival, completion and desk change up to `until` (seconds of the day)."""
        while True:
            done = self.busy[0][0] if self.busy else math.inf
            change = self._next_schedule_change()
            t = min(self.next_arrival, done, change)
            if t > until:
                self.clock = until
                return
            self.clock = t
            if t == done:
                _, _, customer = heapq.heappop(self.busy)
                self.recent_services.append(customer.service_s)
                if customer.ticket:
                    self.events.append((customer.ticket, "served"))
            if t == self.next_arrival:
                self.queue.append(Customer(t, self._draw_service()))
                self.next_arrival = self._draw_arrival(t)
            if t == change:
                # A desk that closes finishes its customer first (busy may exceed open_desks).
                self.open_desks = desks_at(self.profile, t)
            self._start_services()

    def join(self, ticket: str) -> None:
        """A remote ticket joins the end of the line now."""
        self.queue.append(Customer(self.clock, self._draw_service(), ticket))
        self._start_services()

    def leave(self, ticket: str) -> None:
        """A cancelled or lapsed ticket leaves the line."""
        self.queue = deque(c for c in self.queue if c.ticket != ticket)

    def ahead_of(self, ticket: str) -> int | None:
        for index, customer in enumerate(self.queue):
            if customer.ticket == ticket:
                return index
        return None

    def report(self) -> dict:
        """What the queue system tells us: waiting, open desks, recent mean service time."""
        mean = (sum(self.recent_services) / len(self.recent_services)
                if self.recent_services else self.profile.mean_service_s)
        return {"line": self.profile.line, "waiting": len(self.queue),
                "open_desks": self.open_desks, "serving": len(self.busy),
                "mean_service_s": round(mean, 1)}

    def true_wait_s(self) -> float | None:
        """How long someone joining now will wait for a desk (None when it will not open)."""
        if self.open_desks == 0:
            return None
        probe = copy.deepcopy(self)
        probe.next_arrival = math.inf  # later arrivals queue behind and do not matter
        marker = Customer(self.clock, 0.0, ticket="\0probe")
        probe.queue.append(marker)
        probe.events = []
        probe._start_services()
        while probe.ahead_of("\0probe") is not None:
            done = probe.busy[0][0] if probe.busy else math.inf
            change = probe._next_schedule_change()
            t = min(done, change)
            if t == math.inf:
                return None
            probe.advance(t)
        return probe.clock - self.clock


def lines_of(services: list[str], accessibility: list[str]) -> list[str]:
    """The lines a branch runs: counter and cash always, advisor and priority where it has them."""
    lines = ["counter", "cash"]
    if "MortgageAdvisor" in services:
        lines.append("advisor")
    if {"LowerLevelCounter", "WheelchairAccess"} & set(accessibility):
        lines.append("priority")
    return lines


def simulate_day(profile: LineProfile, seed: int, key: str, every_s: float = 120,
                 start: float = OPEN_S,
                 end: float = CLOSE_S) -> Iterator[tuple[float, dict, float]]:
    """(time of day, report, true wait in seconds) every `every_s` while the line is open."""
    sim = LineSim.start(profile, seed, key, at=start - 1)
    t = start
    while t < end:
        sim.advance(t)
        truth = sim.true_wait_s()
        if truth is not None:
            yield t, sim.report(), truth
        t += every_s


def _seconds_of_day(hhmm: str) -> float:
    hours, minutes = hhmm.split(":")
    return int(hours) * 3600 + int(minutes) * 60


@dataclass
class SampleFeed:
    """The simulator as a queue system for real branches: reports their lines and tickets.

    Simulated time runs from `start` (a local time of day, so that `make run` shows a busy
    branch at any hour) at `speed` simulated seconds per real second; after closing time the
    next simulated day begins. Reports are stamped with the real time.
    """

    seed: int
    start: str = "11:00"
    speed: float = 1.0
    sims: dict = field(default_factory=dict)  # (branch public id, line) -> LineSim
    tickets: dict = field(default_factory=dict)  # ticket id -> (sim key, status)
    ticket_after: int = 0
    day: int = 0
    _day_began_s: float = 0.0  # real seconds elapsed when the current simulated day began

    def build(self, branches: list[dict]) -> None:
        """Lines for each branch ({id, key, services, accessibility}), warmed up to `start`."""
        at = _seconds_of_day(self.start)
        for branch in branches:
            for line in lines_of(branch["services"], branch["accessibility"]):
                sim = LineSim.start(PROFILES[line], self.seed, f"{self.day}:{branch['key']}",
                                    at=OPEN_S - 1)
                sim.advance(at)
                self.sims[(branch["id"], line)] = sim
        self._branches = branches

    def sim_time(self, real_elapsed_s: float) -> float:
        """The simulated time of day after `real_elapsed_s` real seconds."""
        return _seconds_of_day(self.start) + (real_elapsed_s - self._day_began_s) * self.speed

    def tick(self, real_elapsed_s: float, ticket_changes: list[dict]) -> list[dict]:
        """Advance to now, take in ticket changes; the reports to send (without as_of)."""
        t = self.sim_time(real_elapsed_s)
        if t >= CLOSE_S + 1800:  # half an hour after closing the next day opens
            self.day += 1
            self.start, self._day_began_s = "09:00", real_elapsed_s
            self.sims, self.tickets = {}, {}
            self.build(self._branches)
            t = OPEN_S
        for change in ticket_changes:
            key = (change["branch_id"], change["line"])
            sim = self.sims.get(key)
            if sim is None:
                continue
            if change["status"] == "waiting" and change["id"] not in self.tickets:
                sim.join(change["id"])
                self.tickets[change["id"]] = (key, "waiting")
            elif change["status"] in ("cancelled", "lapsed"):
                sim.leave(change["id"])
                self.tickets.pop(change["id"], None)
        by_branch: dict[str, dict] = {}
        for (branch_id, _line), sim in self.sims.items():
            sim.advance(t)
            report = by_branch.setdefault(branch_id, {"branch_id": branch_id, "lines": [],
                                                      "tickets": []})
            if (OPEN_S <= t < CLOSE_S) or sim.queue or sim.busy:
                report["lines"].append(sim.report())
            for ticket, status in sim.events:
                if ticket in self.tickets:
                    report["tickets"].append({"id": ticket, "status": status})
                    if status == "served":
                        self.tickets.pop(ticket)
                    else:
                        self.tickets[ticket] = (self.tickets[ticket][0], status)
            sim.events = []
            for index, customer in enumerate(sim.queue):
                if customer.ticket and customer.ticket in self.tickets:
                    report["tickets"].append({"id": customer.ticket, "status": "waiting",
                                              "ahead": index})
        return [r for r in by_branch.values() if r["lines"] or r["tickets"]]
