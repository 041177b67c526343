"""Queues in the app's presenters, against the live backend fed by a queue system: waits on
branch rows (live, typical or unknown, said as such), the served-soonest order, a branch's
queue in its detail, and a remote ticket taken, refreshed and cancelled."""

from __future__ import annotations

from urllib.parse import parse_qs

from backend.queues.estimate import estimate_wait_min
from mobile.core.describe import queue_lines, soonest_words, ticket_wait
from mobile.core.i18n import Translator


def _branch(core, backend, name):
    return next(p for p in core.nearby.state.places if p.id == backend.queue_branches[name])


def _nearby_queries(backend) -> list[dict[str, list[str]]]:
    return [parse_qs(r.query) for r in backend.requests() if r.path.endswith("/nearby")]


def test_branch_rows_carry_live_typical_and_unknown_waits(make_core, backend):
    core = make_core()
    core.nearby.refresh()
    busy = _branch(core, backend, "busy").queue
    assert busy.source == "live" and busy.line == "counter" and busy.as_of is not None
    assert busy.estimated_wait_min == round(estimate_wait_min(14, 1, 240))
    assert [x.line for x in busy.lines] == ["counter", "cash"]
    assert _branch(core, backend, "quiet").queue.estimated_wait_min == 0
    priority = _branch(core, backend, "priority").queue
    assert priority.of("priority").estimated_wait_min == 0
    typical = _branch(core, backend, "typical").queue
    assert typical.source == "typical" and typical.as_of is None
    assert typical.estimated_wait_min == round(estimate_wait_min(9, 2, 300))
    fed = set(backend.queue_branches.values())
    others = [p for p in core.nearby.state.places if p.id not in fed]
    assert others and all(p.queue.source == "unknown" and p.queue.estimated_wait_min is None
                          for p in others)

    en, zh = Translator("en"), Translator("zh_CN")
    assert queue_lines(en, busy) == [f"Counter: about {busy.estimated_wait_min} min wait now"]
    counter = round(estimate_wait_min(5, 2, 240))
    assert queue_lines(en, priority) == [f"Counter: about {counter} min wait now",
                                         "Priority counter: no wait now"]
    assert queue_lines(en, typical) == [
        f"Counter: usually about {typical.estimated_wait_min} min at this hour (no live data)"]
    assert queue_lines(en, others[0].queue) == ["Counter: wait unknown"]
    assert queue_lines(zh, others[0].queue) == ["柜台：等候时间未知"]
    assert "通常" in queue_lines(zh, typical)[0]


def test_served_soonest_ranks_by_walk_and_wait_and_says_why(make_core, backend):
    core = make_core()
    core.nearby.refresh()
    nearest = [p.id for p in core.nearby.state.places]
    assert nearest[0] == backend.queue_branches["busy"]
    assert "order" not in _nearby_queries(backend)[-1]

    core.nearby.toggle_soonest()
    state = core.nearby.state
    assert state.order == "soonest_served"
    assert _nearby_queries(backend)[-1]["order"] == ["soonest_served"]
    ranked = [p.id for p in state.places]
    assert ranked.index(backend.queue_branches["quiet"]) < ranked.index(
        backend.queue_branches["busy"])
    assert state.error is None
    totals = [p.soonest.total_min for p in state.places if p.queue.source != "unknown"]
    assert totals == sorted(totals) and len(totals) == 4
    unknown = [p for p in state.places if p.queue.source == "unknown"]
    assert unknown and all(p.soonest.total_min is None for p in unknown)
    assert ranked[-len(unknown):] == [p.id for p in unknown]  # unknown waits come last
    quiet = _branch(core, backend, "quiet")
    assert "less waiting" in quiet.soonest.why
    assert soonest_words(Translator("en"), quiet.soonest) == quiet.soonest.why
    assert soonest_words(Translator("zh_CN"), quiet.soonest) == (
        f"步行 {quiet.soonest.walk_min} 分钟，约 {quiet.soonest.total_min} 分钟后办理")

    core.nearby.toggle_soonest()
    assert core.nearby.state.order == "nearest"
    assert "order" not in _nearby_queries(backend)[-1]
    assert [p.id for p in core.nearby.state.places] == nearest


def test_offline_rows_from_the_cache_show_no_old_wait(make_core, backend):
    core = make_core()
    core.nearby.refresh()
    assert _branch(core, backend, "busy").queue.source == "live"
    backend.stop()
    core.nearby.refresh()
    assert core.nearby.state.offline and core.nearby.state.places
    assert all(p.queue is None for p in core.nearby.state.places)


def test_a_branch_detail_fetches_its_queue_and_an_atm_does_not(make_core, backend):
    core = make_core()
    core.nearby.refresh()
    core.detail.open(_branch(core, backend, "priority"))
    queue = core.detail.state.queue
    assert queue.takes_tickets is True and queue.source == "live"
    assert [(x.line, x.open_desks) for x in queue.lines] == [("counter", 2), ("priority", 1)]
    assert backend.paths()[-1] == f"/api/v1/branches/{backend.queue_branches['priority']}/queue"

    core.nearby.select_tab("repay")
    atm = next(p for p in core.nearby.state.places if p.kind != "branch")
    backend.clear_log()
    core.detail.open(atm)
    assert backend.paths() == [f"/api/v1/places/{atm.id}"]
    assert core.detail.state.queue is None and core.detail.state.queue_error is None


def test_a_ticket_is_taken_refreshed_and_cancelled(make_core, cardholder, backend):
    core = make_core()
    core.session.sign_in(*cardholder)
    branch = backend.queue_branches["quiet"]
    core.ticket.take(branch, "counter")
    state = core.ticket.state
    ticket = state.active
    assert ticket is not None and ticket.status == "waiting" and ticket.branch_id == branch
    assert ticket.label.startswith("C") and ticket.line == "counter"
    assert ticket_wait(Translator("en"), ticket).startswith(
        "Waiting to be placed in line" if ticket.position is None else "Number")

    # One ticket at a time: a second take shows the one held.
    core.ticket.take(backend.queue_branches["busy"], "counter")
    assert core.ticket.state.notice == "ticket.conflict"
    assert core.ticket.state.active.id == ticket.id

    backend.clear_log()
    core.ticket.refresh()
    assert backend.paths() == ["/api/v1/me/tickets"]
    assert core.ticket.state.active.id == ticket.id and core.ticket.state.fetched_at

    core.ticket.cancel()
    assert core.ticket.state.ticket.status == "cancelled" and core.ticket.state.active is None
    backend.clear_log()
    core.ticket.cancel()  # nothing left to cancel: nothing is sent
    assert backend.paths() == []
    core.ticket.refresh()
    assert core.ticket.state.ticket.id == ticket.id
    assert core.ticket.state.ticket.status == "cancelled"


def test_a_branch_without_a_queue_system_takes_no_ticket(make_core, cardholder, backend):
    core = make_core()
    core.session.sign_in(*cardholder)
    core.nearby.refresh()
    other = next(p for p in core.nearby.state.places
                 if p.id not in backend.queue_branches.values())
    core.ticket.take(other.id, "counter")
    assert core.ticket.state.error == "ticket.refused" and core.ticket.state.ticket is None


def test_signing_out_forgets_the_ticket(make_core, cardholder, backend):
    core = make_core()
    core.session.sign_in(*cardholder)
    core.ticket.take(backend.queue_branches["priority"], "priority")
    assert core.ticket.state.active.line == "priority"
    core.session.sign_out()
    assert core.ticket.state.ticket is None and not core.ticket.state.loaded


class _HeldAnswers:
    """A runner that does the work at once but hands the answers over when the test says."""

    def __init__(self) -> None:
        self.held: list = []

    def submit(self, work, done) -> None:
        from mobile.core.runner import _run

        self.held.append((done, _run(work)))

    def post(self, callback) -> None:
        callback()

    def deliver(self, index: int = 0) -> None:
        done, outcome = self.held.pop(index)
        done(outcome)


def test_a_refresh_asked_before_a_cancel_does_not_bring_the_ticket_back(make_core, cardholder,
                                                                        backend):
    from mobile.core.presenters.ticket import TicketPresenter

    core = make_core()
    core.session.sign_in(*cardholder)
    runner = _HeldAnswers()
    presenter = TicketPresenter(core.api, runner, lambda: None)
    presenter.take(backend.queue_branches["quiet"], "counter")
    runner.deliver()
    assert presenter.state.active is not None
    presenter.refresh()   # read while the ticket is waiting...
    presenter.cancel()    # ...cancelled after that read
    assert [done.__name__ for done, _ in runner.held] == ["<lambda>", "_cancelled"]
    runner.deliver(1)
    assert presenter.state.ticket.status == "cancelled"
    runner.deliver(0)     # the older answer arrives last: it is dropped
    assert presenter.state.ticket.status == "cancelled" and presenter.state.active is None
    presenter.refresh()   # a refresh asked now shows it as it is
    runner.deliver()
    assert presenter.state.ticket.status == "cancelled"
