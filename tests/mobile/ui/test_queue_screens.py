"""Queues on real widgets: waits on branch rows, the served-soonest chip, a branch's queue in
its detail, and a ticket taken, refreshed only while its screen is shown, and cancelled."""

from __future__ import annotations


def _signed_in_list(ui, cardholder):
    ui.sign_in(*cardholder)
    nearby = ui.screen("nearby")
    ui.wait_until(lambda: nearby.rows and not nearby.presenter.state.loading, "the list")
    return nearby


def _row(nearby, backend, name):
    return next(r for r in nearby.rows if r.place.id == backend.queue_branches[name])


def _ticket_requests(backend) -> int:
    return sum(1 for r in backend.requests() if r.path == "/api/v1/me/tickets")


def test_branch_rows_show_waits_and_served_soonest_reorders_them(ui, cardholder, backend):
    nearby = _signed_in_list(ui, cardholder)
    busy = _row(nearby, backend, "busy")
    assert nearby.rows[0] is busy
    assert busy.wait == f"Counter: about {busy.place.queue.estimated_wait_min} min wait now"
    assert _row(nearby, backend, "quiet").wait == "Counter: no wait now"
    assert _row(nearby, backend, "priority").wait.endswith("\nPriority counter: no wait now")
    assert "usually about" in _row(nearby, backend, "typical").wait
    fed = set(backend.queue_branches.values())
    assert all(r.wait == "Counter: wait unknown" for r in nearby.rows if r.place.id not in fed)
    assert all(r.why == "" for r in nearby.rows)
    ui.screenshot("nearby-waits")

    chip = nearby.chips["soonest"]
    assert chip.text == "Served soonest"
    ui.tap(chip)
    ui.wait_until(lambda: nearby.presenter.state.order == "soonest_served"
                  and not nearby.presenter.state.loading
                  and nearby.rows[0].place.soonest is not None, "the served-soonest order")
    assert chip.state == "down" and chip.text.startswith("✓")
    assert nearby.rows[0].place.id == backend.queue_branches["quiet"]
    assert nearby.rows[0].why == nearby.rows[0].place.soonest.why
    assert "less waiting" in nearby.rows[0].why
    assert _row(nearby, backend, "busy").why.startswith("Nearest")
    ui.screenshot("nearby-served-soonest")

    ui.tap(chip)
    ui.wait_until(lambda: nearby.presenter.state.order == "nearest"
                  and not nearby.presenter.state.loading, "nearest first again")
    assert nearby.rows[0].place.id == backend.queue_branches["busy"]
    assert all(r.why == "" for r in nearby.rows)


def test_served_soonest_in_chinese_gives_the_figures(ui, cardholder, backend):
    ui.app.set_language("zh_CN")
    nearby = _signed_in_list(ui, cardholder)
    assert nearby.chips["soonest"].text == "最快办理"
    assert _row(nearby, backend, "quiet").wait == "柜台：当前无需等候"
    ui.tap(nearby.chips["soonest"])
    ui.wait_until(lambda: nearby.rows[0].place.soonest is not None
                  and not nearby.presenter.state.loading, "the served-soonest order")
    first = nearby.rows[0].place.soonest
    assert nearby.rows[0].why == f"步行 {first.walk_min} 分钟，约 {first.total_min} 分钟后办理"


def test_a_branch_detail_shows_its_lines_and_a_ticket_is_taken_and_cancelled(
        ui, cardholder, backend):
    nearby = _signed_in_list(ui, cardholder)
    ui.tap(_row(nearby, backend, "priority"))
    detail = ui.screen("detail")
    ui.wait_until(lambda: ui.current == "detail" and detail.presenter.state.queue is not None
                  and detail.ticket_buttons, "the branch's queue")
    assert detail.ids.queue_text.text.splitlines()[1] == (
        "Priority counter: no wait now · open desks: 1")
    assert detail.ids.queue_note.text.startswith("Reported")
    assert set(detail.ticket_buttons) == {"counter", "priority"}
    ui.tap(detail.ticket_buttons["priority"])
    ticket = ui.screen("ticket")
    ui.wait_until(lambda: ui.current == "ticket" and ticket.presenter.state.active,
                  "the ticket")
    held = ticket.presenter.state.active
    assert ticket.ids.label.text == held.label and held.label.startswith("P")
    assert ticket.ids.where.text.startswith("Priority counter at ")
    assert ticket.ids.status.text == "Waiting"
    assert ticket.ids.check_in.text.startswith("Check in at the branch by")
    ui.screenshot("ticket")

    ui.tap(ticket.ids.back)  # the detail now offers the ticket held, not another
    assert ui.current == "detail"
    ui.wait_until(lambda: set(detail.ticket_buttons) == {"show"}, "the show-ticket button")
    ui.tap(detail.ticket_buttons["show"])
    assert ui.current == "ticket"
    ui.tap(ticket.ids.cancel)
    ui.wait_until(lambda: ticket.presenter.state.ticket.status == "cancelled", "cancelled")
    assert ticket.ids.status.text == "Cancelled" and not ticket.can_cancel


def test_the_ticket_screen_refreshes_only_while_it_is_shown(ui, cardholder, backend):
    nearby = _signed_in_list(ui, cardholder)
    ticket = ui.screen("ticket")
    ticket.refresh_seconds = 0.4
    ui.tap(_row(nearby, backend, "quiet"))
    detail = ui.screen("detail")
    ui.wait_until(lambda: detail.ticket_buttons, "the ticket buttons")
    ui.tap(detail.ticket_buttons["counter"])
    ui.wait_until(lambda: ticket.presenter.state.active, "the ticket")
    backend.clear_log()
    ui.wait_until(lambda: _ticket_requests(backend) >= 3, "refreshes while on screen", 10)
    assert ticket.refresher is not None

    ui.tap(ticket.ids.back)
    assert ui.current == "detail" and ticket.refresher is None
    # A request already on its way may still arrive and be answered.
    ui.wait_until(lambda: not ticket.presenter._in_flight, "no refresh in flight")
    ui.idle(0.5)
    backend.clear_log()
    ui.idle(2.0)  # five intervals
    assert _ticket_requests(backend) == 0
    ui.go("nearby")
    ui.idle(1.0)
    assert _ticket_requests(backend) == 0

    ui.tap(nearby.rows[0])
    ui.wait_until(lambda: ui.current == "detail" and detail.ticket_buttons, "the detail")
    ui.tap(detail.ticket_buttons["show"] if "show" in detail.ticket_buttons
           else next(iter(detail.ticket_buttons.values())))
    ui.wait_until(lambda: ui.current == "ticket" and _ticket_requests(backend) >= 2,
                  "refreshing again once shown again", 10)
