"""The cardholder's choices kept on the device: language, location precision, a set place."""

from __future__ import annotations

import json
import os
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path
from typing import Any

from mobile.core.i18n import LANGUAGES
from mobile.core.location import PRECISIONS, Fix


@dataclass(frozen=True)
class Settings:
    """Device-local settings; consent lives on the server, not here."""

    language: str = "en"
    precision: str = "100m"
    place_lat: float | None = None
    place_lon: float | None = None
    place_label: str | None = None
    radius_m: int = 5000
    font_scale: float | None = None  # None: follow the device's text size
    extra: dict[str, Any] = field(default_factory=dict)

    def place(self) -> Fix | None:
        """The place set or typed by the user, if any."""
        if self.place_lat is None or self.place_lon is None:
            return None
        return Fix(self.place_lat, self.place_lon, "settings", self.place_label)


class SettingsStore:
    """Settings in a JSON file in the app's data folder; unreadable files give the defaults."""

    def __init__(self, path: str | Path) -> None:
        self.path = Path(path)
        self._settings = self._read()

    @property
    def current(self) -> Settings:
        """The settings in force."""
        return self._settings

    def update(self, **changes: Any) -> Settings:
        """Change some settings and save them."""
        self._settings = _checked(replace(self._settings, **changes))
        self.path.parent.mkdir(parents=True, exist_ok=True)
        scratch = self.path.with_name(self.path.name + ".new")
        scratch.write_text(json.dumps(asdict(self._settings), indent=1), encoding="utf-8")
        os.replace(scratch, self.path)
        return self._settings

    def _read(self) -> Settings:
        try:
            raw = json.loads(self.path.read_text(encoding="utf-8"))
            known = {k: v for k, v in raw.items() if k in Settings.__dataclass_fields__}
            return _checked(Settings(**known))
        except (OSError, ValueError, TypeError, AttributeError):
            return Settings()


def _checked(settings: Settings) -> Settings:
    if settings.language not in LANGUAGES:
        raise ValueError(f"unknown language {settings.language!r}")
    if settings.precision not in PRECISIONS:
        raise ValueError(f"unknown precision {settings.precision!r}")
    if settings.font_scale is not None and not 1.0 <= settings.font_scale <= 2.0:
        raise ValueError(f"text size {settings.font_scale!r} is outside 100%-200%")
    return settings
