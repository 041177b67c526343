"""Every screen at 100%, 150% and 200% text, in English and Chinese: no text outgrows its box,
no box spills out of its parent, every tappable thing is at least 48 dp and none overlaps
another. And every colour pair of the theme passes WCAG's contrast minimum."""

from __future__ import annotations

from itertools import combinations
from typing import Any

import pytest

from mobile.ui import theme

TOUCH_DP = 48
SLACK = 1.0  # pixels of rounding


def _rect(widget: Any) -> tuple[float, float, float, float]:
    x, y = widget.to_window(widget.x, widget.y)
    return x, y, x + widget.width, y + widget.height


def _intersect(a, b):
    x0, y0, x1, y1 = max(a[0], b[0]), max(a[1], b[1]), min(a[2], b[2]), min(a[3], b[3])
    return (x0, y0, x1, y1) if x1 > x0 and y1 > y0 else None


def _walk(widget: Any):
    yield widget
    for child in widget.children:
        yield from _walk(child)


def _shown(widget: Any) -> bool:
    """Drawn at all: it and every ancestor are opaque, sized and not folded away."""
    from mobile.ui.widgets import Collapsible

    node = widget
    while node is not None and node is not node.parent:
        if node.opacity == 0 or node.width <= 0 or node.height <= 0:
            return False
        if isinstance(node, Collapsible) and not node.shown:
            return False
        node = node.parent
    return True


def _visible_rect(widget: Any):
    """The part of a widget on screen: clipped by every scrolling or stencil ancestor."""
    from kivy.core.window import Window
    from kivy.uix.scrollview import ScrollView
    from kivy.uix.stencilview import StencilView

    rect = _intersect(_rect(widget), (0, 0, Window.width, Window.height))
    node = widget.parent
    while rect is not None and node is not None and node is not node.parent:
        if isinstance(node, ScrollView | StencilView):
            rect = _intersect(rect, _rect(node))
        node = node.parent
    return rect


def _tappable(widget: Any) -> bool:
    from kivy.uix.behaviors import ButtonBehavior, ToggleButtonBehavior
    from kivy.uix.textinput import TextInput

    return isinstance(widget, ButtonBehavior | ToggleButtonBehavior | TextInput)


def layout_problems(root: Any) -> list[str]:
    """What is wrong with the layout on show: clipped text, spills, small or overlapping
    targets (empty when all is well)."""
    from kivy.uix.label import Label
    from kivy.uix.layout import Layout

    problems = []
    widgets = [w for w in _walk(root) if _shown(w)]
    for w in widgets:
        if isinstance(w, Label) and w.text.strip():
            tw, th = w.texture_size
            if tw > w.width + SLACK or th > w.height + SLACK:
                problems.append(f"text exceeds its box: {w.text[:40]!r} texture {tw:.0f}x{th:.0f}"
                                f" in {w.width:.0f}x{w.height:.0f}")
        parent = w.parent
        if isinstance(parent, Layout) and parent.opacity > 0:
            x0, y0, x1, y1 = _rect(w)
            p0, q0, p1, q1 = _rect(parent)
            if x0 < p0 - SLACK or y0 < q0 - SLACK or x1 > p1 + SLACK or y1 > q1 + SLACK:
                label = getattr(w, "text", "") or type(w).__name__
                problems.append(f"spills out of its parent: {label[:40]!r}")
    targets = [(w, _visible_rect(w)) for w in widgets if _tappable(w) and not w.disabled]
    targets = [(w, r) for w, r in targets if r is not None]
    for w, _ in targets:
        if w.width < TOUCH_DP - SLACK or w.height < TOUCH_DP - SLACK:
            problems.append(f"target below 48 dp: {getattr(w, 'text', '')[:30]!r} "
                            f"{w.width:.0f}x{w.height:.0f}")
    for (a, ra), (b, rb) in combinations(targets, 2):
        if _intersect(ra, rb) is not None:
            problems.append(f"targets overlap: {getattr(a, 'text', '')[:20]!r} and "
                            f"{getattr(b, 'text', '')[:20]!r}")
    return problems


def _check(ui, where: str) -> None:
    ui.frames(4)
    problems = layout_problems(ui.root)
    assert not problems, f"{where}: " + "; ".join(problems[:8])


@pytest.mark.parametrize("language", ["en", "zh_CN"])
@pytest.mark.parametrize("scale", [1.0, 1.5, 2.0])
def test_every_screen_fits_at_large_text(ui, cardholder, scale, language):
    from kivy.metrics import Metrics

    ui.app.set_font_scale(scale)
    ui.app.set_language(language)
    assert Metrics.fontscale == scale
    _check(ui, "sign in")
    ui.sign_in(*cardholder)
    nearby = ui.screen("nearby")
    ui.wait_until(lambda: nearby.rows and not nearby.presenter.state.loading, "the list")
    _check(ui, "branches")
    if scale == 2.0:
        ui.screenshot(f"nearby-200-{'zh' if language == 'zh_CN' else 'en'}")
    _check_queue_screens(ui, nearby)
    ui.tap(nearby.ids.tab_repay)
    ui.wait_until(lambda: nearby.presenter.state.tab == "repay" and nearby.rows
                  and not nearby.presenter.state.loading, "the repayment points")
    _check(ui, "repay")
    ui.tap(nearby.rows[0])
    detail = ui.screen("detail")
    ui.wait_until(lambda: ui.current == "detail" and detail.hour_rows, "the detail")
    _check(ui, "detail")
    detail.ids.scroller.scroll_y = 0
    _check(ui, "detail, scrolled down")
    ui.go("map")
    streets = ui.screen("map").ids.streets
    ui.wait_until(lambda: streets.clusters, "the map")
    _check(ui, "map")
    ui.go("offers")
    _check(ui, "offers")
    ui.go("privacy")
    privacy = ui.screen("privacy")
    ui.wait_until(lambda: ui.core.privacy.state.consent is not None, "the consent")
    for position in (1, 0.5, 0):
        privacy.ids.scroller.scroll_y = position
        _check(ui, f"privacy at {position}")
    ui.tap(privacy.ids.sign_out)
    privacy.ids.scroller.scroll_y = 0
    _check(ui, "sign-out question")


def _check_queue_screens(ui, nearby) -> None:
    """Served soonest, a branch's queue with its ticket buttons, and the ticket screen."""
    ui.tap(nearby.chips["soonest"])
    ui.wait_until(lambda: nearby.rows and nearby.rows[0].place.soonest is not None
                  and not nearby.presenter.state.loading, "the served-soonest order")
    _check(ui, "served soonest")
    ui.tap(nearby.rows[0])
    detail = ui.screen("detail")
    ui.wait_until(lambda: ui.current == "detail" and detail.ticket_buttons
                  and detail.hour_rows, "a branch's queue")
    _check(ui, "branch detail")
    ui.tap(next(iter(detail.ticket_buttons.values())))
    ticket = ui.screen("ticket")
    ui.wait_until(lambda: ui.current == "ticket" and ticket.presenter.state.active, "a ticket")
    _check(ui, "ticket")
    ui.tap(ticket.ids.cancel)
    ui.wait_until(lambda: ticket.presenter.state.active is None
                  and ticket.presenter.state.ticket is not None, "the cancelled ticket")
    _check(ui, "cancelled ticket")
    ui.go("nearby")
    ui.tap(nearby.chips["soonest"])
    ui.wait_until(lambda: nearby.presenter.state.order == "nearest"
                  and not nearby.presenter.state.loading, "nearest first again")


def test_the_text_size_setting_scales_text_and_is_remembered(ui, cardholder):
    from kivy.metrics import Metrics

    ui.sign_in(*cardholder)
    ui.go("privacy")
    privacy = ui.screen("privacy")
    title = ui.screen("nearby").ids.title
    before = title.font_size
    ui.tap(privacy.text_size_chips["1.5"])
    assert Metrics.fontscale == 1.5 and ui.core.settings.current.font_scale == 1.5
    assert title.font_size == pytest.approx(before * 1.5)
    assert privacy.text_size_chips["1.5"].state == "down"
    assert privacy.text_size_chips["1.5"].text.startswith("✓")
    ui.tap(privacy.text_size_chips["system"])
    assert Metrics.fontscale == 1.0 and ui.core.settings.current.font_scale is None


def _pairs(table: dict[str, tuple[str, ...]]):
    for fg, backgrounds in table.items():
        for bg in backgrounds:
            yield fg, bg, theme.contrast(getattr(theme, fg), getattr(theme, bg))


def test_every_theme_text_colour_pair_meets_wcag_aa():
    assert theme.contrast(theme.WHITE, (0, 0, 0, 1)) == pytest.approx(21)
    assert theme.contrast((0.5, 0.5, 0.5, 1), (0.5, 0.5, 0.5, 1)) == pytest.approx(1)
    failing = [(fg, bg, round(r, 2)) for fg, bg, r in _pairs(theme.TEXT_ON) if r < 4.5]
    assert not failing
    graphics = [(fg, bg, round(r, 2)) for fg, bg, r in _pairs(theme.GRAPHIC_ON) if r < 3.0]
    assert not graphics
    # Every tone a status is drawn in is one of the checked text colours, with a symbol.
    names = {id(getattr(theme, n)): n for n in theme.TEXT_ON}
    assert all(id(c) in names for c in theme.TONES.values())
    assert set(theme.TONE_ICONS) == set(theme.TONES)


def test_the_font_family_has_a_real_bold_face(kivy_app):
    regular, bold = theme.font_family()
    assert "NotoSansCJK-Regular" in regular and bold and "NotoSansCJK-Bold" in bold
