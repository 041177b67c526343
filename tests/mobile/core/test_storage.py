"""The token store, settings and the offline cache on the device."""

from __future__ import annotations

import stat
from datetime import UTC, datetime

import pytest

from mobile.core.cache import NearbyCache
from mobile.core.settings import Settings, SettingsStore
from mobile.core.tokens import FileTokenStore, default_token_store

FEATURE = {"type": "Feature", "geometry": {"type": "Point", "coordinates": [-0.09, 51.51]},
           "properties": {"id": "a", "kind": "branch", "name": "Nearbank Bank",
                          "distance_m": 10.0, "bearing_deg": 90.0}}


def test_file_token_store_is_private_and_replaces_atomically(tmp_path):
    path = tmp_path / "deep" / "refresh-token"
    path.parent.mkdir()
    path.write_text("old")
    path.chmod(0o644)
    store = FileTokenStore(path)
    store.save("secret-refresh-token")
    assert store.load() == "secret-refresh-token"
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert list(path.parent.iterdir()) == [path]
    store.clear()
    assert store.load() is None and not path.exists()
    store.clear()  # forgetting twice is fine


def test_desktop_uses_the_file_store(tmp_path, monkeypatch):
    monkeypatch.delenv("ANDROID_ARGUMENT", raising=False)
    monkeypatch.delenv("ANDROID_PRIVATE", raising=False)
    assert isinstance(default_token_store(tmp_path), FileTokenStore)


def test_settings_persist_and_reject_unknown_values(tmp_path):
    store = SettingsStore(tmp_path / "settings.json")
    assert store.current == Settings()
    store.update(language="zh_CN", precision="1km", place_lat=1.5, place_lon=2.5,
                 place_label="1.5, 2.5")
    again = SettingsStore(tmp_path / "settings.json")
    assert again.current.language == "zh_CN" and again.current.precision == "1km"
    assert again.current.place().lat == 1.5
    with pytest.raises(ValueError):
        again.update(precision="street")
    with pytest.raises(ValueError):
        again.update(language="xx")


def test_unreadable_settings_give_the_defaults(tmp_path):
    (tmp_path / "settings.json").write_text("{not json")
    assert SettingsStore(tmp_path / "settings.json").current == Settings()


def test_cache_keeps_the_last_answer_per_tab_with_its_time(tmp_path):
    cache = NearbyCache(tmp_path / "cache")
    at = datetime(2026, 11, 23, 12, 0, tzinfo=UTC)
    body = {"type": "FeatureCollection", "features": [FEATURE], "next_cursor": None}
    cache.save("branches", body, at, ("open_now",))
    loaded = cache.load("branches")
    assert loaded.fetched_at == at and loaded.filters == ("open_now",)
    assert loaded.page.places[0].name == "Nearbank Bank"
    assert cache.load("repay") is None
    (tmp_path / "cache" / "nearby-repay.json").write_text('{"fetched_at": "x"}')
    assert cache.load("repay") is None
    cache.clear()
    assert cache.load("branches") is None
