"""The benchmark's results as Markdown: the tables, the targets, and why a target was missed."""

from __future__ import annotations

import math
from dataclasses import dataclass, field

from bench.httpbench import HttpRun
from bench.profile import Profile
from bench.sqlbench import SqlRun
from bench.stats import Latency

SQL_P50_TARGET_MS = 0.5
HTTP_VS_TRIVIAL_TARGET = 0.40
HTTP_VS_SQL_TARGET = 0.50
VS_REFERENCE_TARGET = 0.9

# The HTTP runs of every round, Nearbank's and the reference app's (bench/minimal.py).
NEARBANK_NEARBY = "Nearbank nearby"
REFERENCE_NEARBY = "reference nearby (json.dumps)"
REFERENCE_PG_NEARBY = "reference nearby (PostgreSQL builds the JSON)"
NEARBANK_HEALTHZ = "Nearbank /healthz"
BARE_HEALTHZ = "bare Flask /healthz"


@dataclass
class Checks:
    """Results compared with the brute-force reference at one size."""

    points: int = 0
    http_equal: int = 0
    http_near_ties: int = 0
    sql_equal: int = 0
    results: int = 0
    problems: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        """Every point agreed."""
        return not self.problems and self.http_equal == self.sql_equal == self.points


@dataclass
class SizeResult:
    """Everything measured at one number of places."""

    size: int
    searchable: int
    generate_s: float
    table_mib: float
    index_mib: float
    sql: SqlRun
    fresh: SqlRun
    brute: Latency
    brute_mib: float
    trivial: HttpRun
    nearby: HttpRun
    worker_hwm_kib: list[int]
    connections_held: int | None
    connections_opened: int | None
    checks: Checks
    explain: str | None = None
    profile: Profile | None = None
    buffers: tuple[float, float] | None = None  # mean shared buffers hit, read per query
    rounds: dict[str, list[HttpRun]] = field(default_factory=dict)

    def median_cpu_us(self, label: str) -> float:
        """The median over rounds of the CPU per request: workers, PostgreSQL and wrk."""
        runs = self.rounds.get(label) or []
        values = sorted(_per_request_total(run) for run in runs)
        return values[(len(values) - 1) // 2] if values else math.nan

    def median_rps(self, label: str) -> float:
        """The median throughput of a run's rounds."""
        return median_run(self.rounds[label]).latency.per_second if self.rounds.get(label) \
            else math.nan

    @property
    def nearby_vs_trivial(self) -> float:
        """HTTP nearby rps / trivial endpoint rps."""
        return self.nearby.latency.per_second / self.trivial.latency.per_second

    @property
    def nearby_vs_sql(self) -> float:
        """HTTP nearby rps / psycopg loop qps."""
        return self.nearby.latency.per_second / self.sql.latency.per_second

    @property
    def fresh_vs_pooled(self) -> float:
        """p50 with a new connection per query / p50 on a pooled, prepared connection."""
        return self.fresh.latency.p50_ms / self.sql.latency.p50_ms

    @property
    def brute_vs_sql(self) -> float:
        """p50 of the Python brute force / p50 of the SQL."""
        return self.brute.p50_ms / self.sql.latency.p50_ms


@dataclass(frozen=True)
class Target:
    """One of the issue's targets, measured."""

    name: str
    goal: str
    measured: str
    met: bool
    shortfall: str = ""


def balanced(run: HttpRun, most: float = 0.7) -> bool:
    """Whether no worker did more than `most` of the work (a run on one worker is 100%)."""
    if len(run.worker_cpu_each_s) < 2 or not run.worker_cpu_s:
        return True
    return max(run.worker_cpu_each_s) / run.worker_cpu_s <= most


def median_run(runs: list[HttpRun]) -> HttpRun:
    """The round with the median throughput (the lower middle one for an even count)."""
    ordered = sorted(runs, key=lambda run: run.latency.per_second)
    return ordered[(len(ordered) - 1) // 2]


def comparison_table(results: list[SizeResult], cores: int) -> str:
    """Each HTTP run's throughput per round, the median, and where its CPU went."""
    lines = [
        "| places | endpoint | requests/s per round | median | vs reference | median round: "
        "workers' split | worker µs/req | PostgreSQL µs/req | CPU µs/req in all (median of "
        "rounds) | vs reference by CPU | other processes (max of rounds) |",
        "|---:|---|---|---:|---:|---|---:|---:|---:|---:|---:|",
    ]
    versus = {NEARBANK_NEARBY: REFERENCE_NEARBY, NEARBANK_HEALTHZ: BARE_HEALTHZ}
    for r in results:
        for label, runs in r.rounds.items():
            if not runs:
                continue
            mid = median_run(runs)
            base = versus.get(label)
            ratio = f"{r.median_rps(label) / r.median_rps(base):.2f}x" if base else ""
            cpu = r.median_cpu_us(label)
            by_cpu = f"{r.median_cpu_us(base) / cpu:.2f}x" if base and cpu else ""
            other = max(other_cpu_share(run, cores) for run in runs)
            lines.append(
                f"| {_size(r.size)} | {label} | "
                f"{', '.join(_rate(run.latency.per_second) for run in runs)} | "
                f"{_rate(mid.latency.per_second)} | {ratio} | {split(mid)} | "
                f"{_us(mid.per_request_us(mid.worker_cpu_s))} | "
                f"{_us(mid.per_request_us(mid.server_cpu_s))} | {_us(cpu)} | {by_cpu} | "
                f"{other:.0%} |")
    return "\n".join(lines)


def _ms(value: float) -> str:
    return "n/a" if math.isnan(value) else f"{value:.3f}" if value < 10 else f"{value:,.1f}"


def _rate(value: float) -> str:
    return f"{value:,.0f}"


def _us(value: float | None) -> str:
    return "n/a" if value is None else f"{value:,.0f}"


def _size(value: int) -> str:
    return f"{value:,}"


def results_table(results: list[SizeResult], concurrency: int) -> str:
    """Latency and throughput of every measurement at every size."""
    lines = [
        "| places | measurement | p50 ms | p99 ms | per second | notes |",
        "|---:|---|---:|---:|---:|---|",
    ]
    for r in results:
        n = _size(r.size)
        lines += [
            f"| {n} | SQL, prepared, one pooled connection (psycopg loop) | "
            f"{_ms(r.sql.latency.p50_ms)} | {_ms(r.sql.latency.p99_ms)} | "
            f"{_rate(r.sql.latency.per_second)} | {r.sql.latency.count:,} queries, serial |",
            f"| {n} | SQL, new connection per query | {_ms(r.fresh.latency.p50_ms)} | "
            f"{_ms(r.fresh.latency.p99_ms)} | {_rate(r.fresh.latency.per_second)} | "
            f"{r.fresh.latency.count:,} queries, serial |",
            f"| {n} | HTTP `/api/v1/places/nearby` (gunicorn) | {_ms(r.nearby.latency.p50_ms)} | "
            f"{_ms(r.nearby.latency.p99_ms)} | {_rate(r.nearby.latency.per_second)} | "
            f"wrk, {concurrency} connections, {r.nearby.latency.count:,} requests, "
            f"{r.nearby.errors} errors, workers' CPU split {split(r.nearby)} |",
            f"| {n} | HTTP `/healthz` (framework ceiling) | {_ms(r.trivial.latency.p50_ms)} | "
            f"{_ms(r.trivial.latency.p99_ms)} | {_rate(r.trivial.latency.per_second)} | "
            f"wrk, {concurrency} connections, {r.trivial.latency.count:,} requests, "
            f"{r.trivial.errors} errors, workers' CPU split {split(r.trivial)} |",
            f"| {n} | brute force in Python (numpy haversine + geographiclib) | "
            f"{_ms(r.brute.p50_ms)} | {_ms(r.brute.p99_ms)} | {_rate(r.brute.per_second)} | "
            f"{r.brute.count} queries over {r.searchable:,} points |",
        ]
    return "\n".join(lines)


def ratios_table(results: list[SizeResult]) -> str:
    """The ratios the issue asks for."""
    lines = [
        "| places | HTTP nearby rps / `/healthz` rps | HTTP nearby rps / psycopg loop qps "
        "| new connection / pooled (p50) | brute force / SQL (p50) |",
        "|---:|---:|---:|---:|---:|",
    ]
    for r in results:
        lines.append(f"| {_size(r.size)} | {r.nearby_vs_trivial:.1%} | {r.nearby_vs_sql:.1%} | "
                     f"{r.fresh_vs_pooled:.1f}x | {r.brute_vs_sql:,.0f}x |")
    return "\n".join(lines)


def cpu_table(results: list[SizeResult], cores: int) -> str:
    """CPU spent per request by each side, and how busy the machine was."""
    lines = [
        "| places | run | gunicorn workers µs/req | split between workers | PostgreSQL µs/req "
        "| load generator µs/req | machine busy | of which interrupts | of which other processes |",
        "|---:|---|---:|---|---:|---:|---:|---:|---:|",
    ]
    for r in results:
        for label, run in (("HTTP nearby", r.nearby), ("HTTP /healthz", r.trivial)):
            busy = run.machine_busy_s / (run.duration_s * cores)
            lines.append(
                f"| {_size(r.size)} | {label} | {_us(run.per_request_us(run.worker_cpu_s))} | "
                f"{split(run)} | {_us(run.per_request_us(run.server_cpu_s))} | "
                f"{_us(run.per_request_us(run.client_cpu_s))} | {busy:.0%} of {cores} cores | "
                f"{run.machine_interrupt_s / (run.duration_s * cores):.0%} | "
                f"{other_cpu_share(run, cores):.0%} |")
        count = r.sql.latency.count
        server = None if r.sql.server_cpu_s is None else r.sql.server_cpu_s / count * 1e6
        lines.append(f"| {_size(r.size)} | SQL psycopg loop | — | — | {_us(server)} | "
                     f"{_us(r.sql.client_cpu_s / count * 1e6)} (psycopg client) | — | — | — |")
    return "\n".join(lines)


def split(run: HttpRun) -> str:
    """Each worker's share of the workers' CPU, e.g. "52% / 48%"."""
    total = run.worker_cpu_s or 1e-9
    return " / ".join(f"{cpu / total:.0%}" for cpu in run.worker_cpu_each_s) or "n/a"


def memory_table(results: list[SizeResult]) -> str:
    """Peak memory of the workers against the size of the data."""
    lines = [
        "| places | VmHWM per gunicorn worker | table / GiST index on disk "
        "| brute-force arrays in memory |",
        "|---:|---|---|---:|",
    ]
    for r in results:
        peaks = ", ".join(f"{kib / 1024:.0f} MiB" for kib in r.worker_hwm_kib) or "n/a"
        lines.append(f"| {_size(r.size)} | {peaks} | {r.table_mib:,.0f} MiB / "
                     f"{r.index_mib:,.0f} MiB | {r.brute_mib:,.0f} MiB |")
    return "\n".join(lines)


def checks_table(results: list[SizeResult], limit: int) -> str:
    """How the HTTP and SQL results compared with the reference."""
    lines = [
        "| places | query points | HTTP equal to brute force | of which near-tie swaps "
        "| SQL rows checked | mean results per point | problems |",
        "|---:|---:|---:|---:|---:|---:|---|",
    ]
    for r in results:
        c = r.checks
        problems = "; ".join(c.problems[:3]) or "none"
        mean = c.results / c.points if c.points else 0.0
        lines.append(f"| {_size(r.size)} | {c.points} | {c.http_equal}/{c.points} | "
                     f"{c.http_near_ties} | {c.sql_equal}/{c.points} | {mean:.1f} of {limit} | "
                     f"{problems} |")
    return "\n".join(lines)


def evaluate(r: SizeResult, workers: int, threads: int) -> list[Target]:
    """The issue's targets at one size."""
    p50 = r.sql.latency.p50_ms
    targets = [Target(
        "SQL p50", f"< {SQL_P50_TARGET_MS} ms", f"{p50:.3f} ms", p50 < SQL_P50_TARGET_MS,
        f"{p50 / SQL_P50_TARGET_MS:.2f}x the target, {(p50 - SQL_P50_TARGET_MS) * 1e3:,.0f} µs "
        "over")]
    for name, label, base_label in (
        ("HTTP nearby vs the reference endpoint", NEARBANK_NEARBY, REFERENCE_NEARBY),
        ("`/healthz` vs bare Flask", NEARBANK_HEALTHZ, BARE_HEALTHZ),
    ):
        if not r.rounds.get(label) or not r.rounds.get(base_label):
            continue
        ours, base = r.median_rps(label), r.median_rps(base_label)
        ratio = ours / base if base else math.nan
        targets.append(Target(
            name, f">= {VS_REFERENCE_TARGET}x (medians of {len(r.rounds[label])} rounds)",
            f"{ratio:.2f}x ({ours:,.0f} vs {base:,.0f}/s)", ratio >= VS_REFERENCE_TARGET,
            f"{VS_REFERENCE_TARGET * base:,.0f} rps needed, {ours:,.0f} measured "
            f"({ratio / VS_REFERENCE_TARGET:.0%} of the way)"))
    slots = workers * threads
    held, opened = r.connections_held, r.connections_opened
    served = r.checks.points + r.nearby.latency.count
    pooled = held is not None and opened is not None and 0 < held <= slots and opened <= slots
    measured = "n/a" if held is None else \
        f"{held} held under load; {opened} opened by gunicorn in all, for over " \
        f"{served:,} nearby requests"
    targets.append(Target(
        "pooled connection per worker thread",
        f"at most {slots} connections ({workers} workers x {threads} threads), all reused",
        measured, pooled, f"{opened} connections opened for {slots} threads"))
    return targets


def targets_table(targets: list[Target]) -> str:
    """Target, goal, measured, verdict."""
    lines = ["| target | goal | measured | verdict |", "|---|---|---|---|"]
    for t in targets:
        verdict = "met" if t.met else f"**missed**: {t.shortfall}"
        lines.append(f"| {t.name} | {t.goal} | {t.measured} | {verdict} |")
    return "\n".join(lines)


def _per_request_total(run: HttpRun) -> float:
    """CPU µs per request of workers, PostgreSQL and the load generator together."""
    return sum(x or 0.0 for x in (run.per_request_us(run.worker_cpu_s),
                                  run.per_request_us(run.server_cpu_s),
                                  run.per_request_us(run.client_cpu_s)))


def other_cpu_share(run: HttpRun, cores: int) -> float:
    """Share of the machine's cores busy with processes outside the benchmark during a run."""
    ours = run.worker_cpu_s + (run.server_cpu_s or 0.0) + run.client_cpu_s
    other = run.machine_busy_s - run.machine_interrupt_s - ours
    return max(0.0, other) / (run.duration_s * cores)


def why(r: SizeResult, targets: list[Target], cores: int, shared_buffers: str) -> str:
    """The measured reasons behind missed targets (CPU per request, profile, buffers)."""
    missed = {t.name for t in targets if not t.met}
    if not missed:
        return "Every target was met at this size."
    parts = []
    n, t = r.nearby, r.trivial
    nearby_total, trivial_total = _per_request_total(n), _per_request_total(t)
    http_missed = missed & {"HTTP nearby vs the reference endpoint", "`/healthz` vs bare Flask"}
    if http_missed and nearby_total:
        bound = cores / nearby_total * 1e6
        worker_us = n.per_request_us(n.worker_cpu_s) or 0.0
        trivial_worker_us = t.per_request_us(t.worker_cpu_s) or 0.0
        parts.append(
            f"**CPU per request.** A nearby request costs {nearby_total:,.0f} µs of CPU in all: "
            f"{_us(worker_us)} µs in the gunicorn worker, "
            f"{_us(n.per_request_us(n.server_cpu_s))} µs in PostgreSQL, "
            f"{_us(n.per_request_us(n.client_cpu_s))} µs in wrk. A `/healthz` request costs "
            f"{trivial_total:,.0f} µs ({_us(trivial_worker_us)} µs in the worker). With "
            f"{cores} cores fully used and shared evenly, nearby could reach at most "
            f"{cores} / {nearby_total:,.0f} µs = {bound:,.0f} rps, "
            f"{bound / t.latency.per_second:.0%} of the `/healthz` rate measured and "
            f"{bound / r.sql.latency.per_second:.0%} of the psycopg loop's qps. "
            f"The worker's Python is {worker_us / nearby_total:.0%} of the nearby request's CPU: "
            f"{worker_us / max(trivial_worker_us, 1e-9):.0f}x the framework's own cost per "
            "request.")
        shares = [cpu / n.worker_cpu_s for cpu in n.worker_cpu_each_s] if n.worker_cpu_s else []
        busy = n.machine_busy_s / (n.duration_s * cores)
        if len(shares) > 1 and max(shares) > 0.7:
            one_worker = 1e6 / worker_us if worker_us else math.nan
            parts.append(
                f"**One worker did the work.** The workers' CPU split was {split(n)} in the "
                f"nearby run ({split(t)} for `/healthz`); the machine was {busy:.0%} busy. wrk "
                "opens its keep-alive connections in one burst and a gthread worker keeps every "
                "connection it accepts, so whichever worker wins the accept race serves the "
                "whole run with one GIL while the other idles. One core of worker Python "
                f"allows about 1 / {worker_us:,.0f} µs = {one_worker:,.0f} rps; measured "
                f"{n.latency.per_second:,.0f}. Which worker wins is chance: rerun and the split "
                "(and the throughput) may differ; the even-split bound above is the ceiling.")
        else:
            parts.append(f"The workers' CPU split was {split(n)}; the machine was {busy:.0%} "
                         f"busy during the nearby run (measured {n.latency.per_second:,.0f} rps, "
                         f"{n.latency.per_second / bound:.0%} of the CPU bound).")
    noisy = max(other_cpu_share(n, cores), other_cpu_share(t, cores))
    if http_missed and noisy > 0.1:
        parts.append(
            f"**Other load.** Processes outside the benchmark used up to {noisy:.0%} of the "
            "cores during the HTTP runs (machine busy time minus interrupts and the workers', "
            "PostgreSQL's and wrk's CPU): those figures are disturbed.")
    if r.profile is not None and http_missed:
        p = r.profile
        shares_text = ", ".join(f"{label} {share:.0%}" for label, share in p.shares)
        parts.append(
            f"**Profile.** In-process (Flask test client, one thread, no HTTP server, "
            f"{p.requests} requests) a nearby request takes {p.nearby_ms:.2f} ms and `/healthz` "
            f"{p.trivial_ms:.2f} ms. cProfile self time of the nearby requests by component "
            f"(indicative; the profiler inflates Python-heavy code): {shares_text}.")
    if "SQL p50" in missed:
        per_query = None
        if r.sql.server_cpu_s is not None:
            per_query = r.sql.server_cpu_s / r.sql.latency.count * 1e6
        client = r.sql.client_cpu_s / r.sql.latency.count * 1e6
        text = (f"**SQL.** The p50 of {r.sql.latency.p50_ms:.3f} ms is mostly PostgreSQL: "
                f"{_us(per_query)} µs of server CPU per query, {client:,.0f} µs of psycopg "
                "client CPU, the rest loopback round trip.")
        if r.buffers is not None:
            hit, read = r.buffers
            text += (f" Each execution touches {hit + read:.0f} shared buffers on average "
                     f"({read:.0f} of them not in shared_buffers, {shared_buffers}, and read "
                     f"from the OS page cache: the table is {r.table_mib:,.0f} MiB and the "
                     "query points are spread over the world): every candidate the GiST KNN "
                     "scan yields is fetched from the heap (status and radius checks, 27 "
                     "columns out), even with the table stored in spatial order (CLUSTER on "
                     "the GiST index after loading, as `flask places reorder` does).")
        parts.append(text + " The plan below shows the index in use.")
    if "pooled connection per worker thread" in missed:
        parts.append("More connections were opened than there are worker threads: the pool is "
                     "smaller than the number of threads that use it, or connections are not "
                     "reused.")
    return "\n\n".join(parts)
