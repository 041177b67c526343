"""The cardholder's language (Accept-Language): why lines, repayment lines, categories, errors."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import pytest
from babel.messages.extract import extract_from_dir
from babel.messages.mofile import read_mo, write_mo
from babel.messages.pofile import read_po

from backend.geo import geodesic_inverse, snap_to_grid
from tests.backend.factories import add_places, place_fields
from tests.backend.offer_factories import (  # noqa: F401 (a fixture)
    OfferWorld,
    fast_password_hashing,
)

BACKEND = Path(__file__).resolve().parents[2] / "backend"
TRANSLATIONS = BACKEND / "translations"
HERE = (51.5007, -0.1246)
NEAR = (51.5034, -0.1246)
ZH = {"Accept-Language": "zh-CN,zh;q=0.9,en;q=0.5"}
EN = {"Accept-Language": "en-GB,en;q=0.9"}


def _po(lang: str):
    with open(TRANSLATIONS / lang / "LC_MESSAGES" / "messages.po", "rb") as file:
        return read_po(file, locale=lang)


def test_every_marked_text_has_a_chinese_translation():
    marked = {message for _file, _line, message, _comments, _context in extract_from_dir(
        str(BACKEND), method_map=[("**.py", "python")],
        keywords={"N_": None, "gettext": None, "_": None})}
    zh = _po("zh")
    assert marked <= {m.id for m in zh if m.id}, marked - {m.id for m in zh}
    untranslated = [m.id for m in zh if m.id and not m.string]
    assert not untranslated
    # Placeholders survive translation: a missing one would raise KeyError at format time.
    for message in zh:
        if message.id and "{" in message.id:
            for name in ("category", "distance", "tier", "until", "first", "last", "methods",
                         "where", "n", "time", "date", "year", "day"):
                if "{" + name + "}" in message.id and name not in ("day",):
                    assert "{" + name + "}" in message.string, (message.id, message.string)


@pytest.mark.parametrize("lang", ["en", "zh"])
def test_the_committed_mo_files_are_the_compiled_po_files(lang, tmp_path):
    compiled = tmp_path / "messages.mo"
    with open(compiled, "wb") as file:
        write_mo(file, _po(lang))
    with open(compiled, "rb") as fresh, open(
            TRANSLATIONS / lang / "LC_MESSAGES" / "messages.mo", "rb") as committed:
        expected = {m.id: m.string for m in read_mo(fresh) if m.id}
        assert {m.id: m.string for m in read_mo(committed) if m.id} == expected


@pytest.fixture
def world(client, login):
    return OfferWorld(client, login)


@pytest.mark.usefixtures("fast_password_hashing")
def test_offers_say_why_in_the_cardholders_language(world):
    merchant = world.merchant("Cafe Nero")
    near = world.store(merchant, *NEAR, name="Cafe Nero Whitehall")
    world.offer(merchant, [near], valid_until=datetime(2099, 1, 1, tzinfo=UTC).isoformat(),
                eligible_tiers=["gold", "platinum"])
    headers = world.cardholder(tier="platinum", categories=("dining",))
    metres = f"{round(geodesic_inverse(*snap_to_grid(*HERE), *NEAR)[0], -1):.0f}"
    zh = world.nearby({**headers, **ZH}, *HERE).json["features"][0]["properties"]
    assert zh["why"] == ["您开启了“餐饮”类优惠", f"距您{metres} 米",
                         "白金卡适用，有效期至2098年12月31日"]
    assert zh["category"] == "dining" and zh["category_label"] == "餐饮"
    en = world.nearby({**headers, **EN}, *HERE).json["features"][0]["properties"]
    assert en["why"] == ["You enabled offers in dining", f"{metres} m from you",
                         "Valid for platinum cards until 31 Dec 2098"]
    assert en["category_label"] == "dining"
    # No Accept-Language at all: English.
    plain = world.nearby(headers, *HERE).json["features"][0]["properties"]
    assert plain["why"] == en["why"]


def test_repayment_lines_in_the_cardholders_language(client, session):
    add_places(session, place_fields(
        51.5080, -0.1280, name="Open branch", kind="branch",
        repayment_methods=["cash", "cheque", "debit_card"], repayment_posting="same_day",
        repayment_fee="0.00", repayment_fee_currency="GBP"),
        place_fields(51.5081, -0.1281, name="Deposit ATM", kind="atm",
                     repayment_methods=["cash"], repayment_posting="instant",
                     repayment_fee="0.00", repayment_fee_currency="GBP"))
    query = {"lat": 51.5074, "lon": -0.1278}
    by_name = {}
    for lang, headers in (("zh", ZH), ("en", EN)):
        body = client.get("/api/v1/repayment-points/nearby", query_string=query,
                          headers=headers).json
        by_name[lang] = {f["properties"]["name"]: f["properties"]["repayment"]
                         for f in body["features"]}
    assert by_name["zh"]["Open branch"]["how"] == "在柜台使用现金、支票或借记卡"
    assert by_name["zh"]["Open branch"]["posting_text"] == "当天入账"
    assert by_name["zh"]["Deposit ATM"]["how"] == "在存款机使用现金"
    assert by_name["zh"]["Deposit ATM"]["posting"] == "instant"  # codes stay codes
    assert by_name["en"]["Open branch"]["how"] == "Cash, cheque or debit card at the counter"
    assert by_name["en"]["Open branch"]["posting_text"] == "Credited the same day"
    assert by_name["en"]["Deposit ATM"]["posting_text"] == "Credited instantly"


def test_error_titles_in_the_cardholders_language(client, session):
    missing = "/api/v1/places/00000000-0000-4000-8000-000000000000"
    zh = client.get(missing, headers=ZH)
    en = client.get(missing, headers=EN)
    assert zh.status_code == en.status_code == 404
    assert zh.json["title"] == "未找到" and en.json["title"] == "Not found"
    assert zh.json["type"] == en.json["type"]  # the type is what a client compares
    bad = client.get("/api/v1/places/nearby", query_string={"lat": "north", "lon": 0},
                     headers={"Accept-Language": "zh-Hans"})
    assert bad.status_code == 400 and bad.json["title"] == "请求无效"


def test_a_language_without_a_catalogue_gets_english(client, session):
    response = client.get("/api/v1/places/00000000-0000-4000-8000-000000000000",
                          headers={"Accept-Language": "fr-FR, de;q=0.8"})
    assert response.json["title"] == "Not found"
