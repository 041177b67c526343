"""The message catalogue and the formatting of distances, directions, times and places."""

from __future__ import annotations

import re
from dataclasses import replace
from datetime import UTC, datetime, timedelta, timezone

import pytest

from mobile.core import errors
from mobile.core.catalogue import CODES, STRINGS
from mobile.core.describe import place_status, repayment_lines
from mobile.core.i18n import LANGUAGES, Translator
from mobile.core.models import Fee, Place, Repayment
from mobile.core.presenters.base import error_key

NOW = datetime(2026, 11, 23, 15, 30, tzinfo=UTC)


def test_every_language_has_every_string_with_the_same_placeholders():
    for language in LANGUAGES:
        assert STRINGS[language].keys() == STRINGS["en"].keys(), language
        assert CODES[language].keys() == CODES["en"].keys(), language
        for key, english in STRINGS["en"].items():
            fields = set(re.findall(r"{(\w+)}", english))
            assert set(re.findall(r"{(\w+)}", STRINGS[language][key])) <= fields | {
                "month", "day", "year"}, key


def test_every_error_has_a_message():
    for error in (errors.Offline(), errors.ServerError(), errors.AuthRequired(),
                  errors.InvalidCredentials(), errors.NotACardholder(), errors.Forbidden(),
                  errors.PromotionsNotEnabled(), errors.NotFound(), errors.MalformedResponse(),
                  ValueError()):
        assert error_key(error) in STRINGS["en"]


@pytest.mark.parametrize("metres, en, zh", [
    (4.4, "4 m", "4 米"), (84, "80 m", "80 米"), (455, "460 m", "460 米"),
    (1234, "1.2 km", "1.2 公里"), (5000, "5 km", "5 公里"), (12_600, "13 km", "13 公里"),
])
def test_distances(metres, en, zh):
    assert Translator("en").distance(metres) == en
    assert Translator("zh_CN").distance(metres) == zh


@pytest.mark.parametrize("bearing, en, zh", [
    (0, "N", "北"), (22.4, "N", "北"), (22.6, "NE", "东北"), (180, "S", "南"),
    (290, "W", "西"), (350, "N", "北"), (-45, "NW", "西北"),
])
def test_compass(bearing, en, zh):
    assert Translator("en").compass(bearing) == en
    assert Translator("zh_CN").compass(bearing) == zh


def test_ages():
    t = Translator("en")
    assert t.age(NOW - timedelta(seconds=20), NOW) == "just now"
    assert t.age(NOW - timedelta(minutes=12), NOW) == "12 min ago"
    assert t.age(NOW - timedelta(hours=5), NOW) == "5 h ago"
    assert Translator("zh_CN").age(NOW - timedelta(days=2), NOW) == "2 天前"


def test_unknown_language_is_refused():
    with pytest.raises(ValueError):
        Translator("fr")


def _place(**changes) -> Place:
    london = timezone(timedelta(0))
    base = Place(id="p", kind="branch", name="Nearbank Bank", brand="Nearbank", lat=51.5,
                 lon=-0.09, address=None, status="active", timezone="Europe/London",
                 services=(), accessibility=(), distance_m=120.0, bearing_deg=45.0,
                 open_now=True, closes_soon=False,
                 next_change_at=datetime(2026, 11, 23, 17, 0, tzinfo=london),
                 next_change_kind="closes", repayment=None, phone=None)
    return replace(base, **changes)


def test_place_status_lines():
    en, zh = Translator("en"), Translator("zh_CN")
    assert place_status(en, _place(), NOW) == ("Open · closes 17:00", "open")
    assert place_status(en, _place(closes_soon=True), NOW) == ("Closes soon · 17:00", "soon")
    monday = datetime(2026, 11, 30, 9, 0, tzinfo=UTC)
    assert place_status(en, _place(open_now=False, next_change_at=monday), NOW) == (
        "Closed · opens Mon 09:00", "closed")
    assert place_status(zh, _place(open_now=False, next_change_at=monday), NOW)[0] == (
        "已关门 · 周一 09:00 开门")
    assert place_status(en, _place(open_now=None), NOW) == ("Hours unknown", "unknown")
    assert place_status(en, _place(open_now=True, next_change_at=None), NOW)[0] == (
        "Open 24 hours")
    assert place_status(en, _place(status="temporarily_closed", open_now=False), NOW)[0] == (
        "Temporarily closed")


def test_repayment_lines():
    repayment = Repayment(methods=("cash", "debit_card"), how="", fee=Fee("0.50", "GBP"),
                          fee_free=False, posting="next_business_day",
                          cutoff_today=datetime(2026, 11, 23, 18, 0, tzinfo=UTC),
                          cutoff_passed=False)
    assert repayment_lines(Translator("en"), repayment, NOW) == [
        "Repay with cash or debit card", "Fee 0.50 GBP · Cut-off 18:00",
        "Credited the next business day"]
    assert repayment_lines(Translator("zh_CN"), repayment, NOW)[0] == "还款方式：现金或借记卡"
    passed = replace(repayment, cutoff_passed=True, fee=Fee("0.00", "GBP"), fee_free=True)
    # Past the cut-off (Monday 23rd) the payment counts from Tuesday and is credited the
    # business day after: the lines name that day and never also say "next business day".
    assert repayment_lines(Translator("en"), passed, NOW)[1:] == [
        "No fee · Cut-off 18:00 passed", "Paid now: credited Wed 25 November 2026"]
    friday = datetime(2026, 11, 27, 18, 0, tzinfo=UTC)
    instant = replace(passed, posting="instant", cutoff_today=friday)
    lines = repayment_lines(Translator("en"), instant, friday)
    assert lines[2] == "Paid now: credited Mon 30 November 2026"
    assert not any("instantly" in line for line in lines)
    by = replace(passed, posting="two_business_days", cutoff_today=friday)
    assert repayment_lines(Translator("zh_CN"), by, friday)[2] == (
        "现在还款：周三 2026年12月2日前入账")
    assert repayment_lines(Translator("en"), None, NOW) == []


def test_codes_have_labels_and_unknown_codes_are_readable():
    assert Translator("en").code("LevelAccess") == "Step-free (level) access"
    assert Translator("zh_CN").code("LevelAccess") == "无台阶通道"
    assert Translator("en").code("food_and_drink") == "Food and drink"
    assert Translator("en").code("SomeNewCode") == "Some New Code"
