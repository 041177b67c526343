"""Translation and the formatting of distances, directions, times and statuses."""

from __future__ import annotations

import re
from datetime import date, datetime

from mobile.core.catalogue import CODES, STRINGS

LANGUAGES = {"en": "English", "zh_CN": "简体中文"}
_COMPASS = ("N", "NE", "E", "SE", "S", "SW", "W", "NW")


class Translator:
    """Looks strings up in the catalogue for one language, falling back to English."""

    def __init__(self, language: str = "en") -> None:
        self.language = language

    @property
    def language(self) -> str:
        """The language in use: a key of LANGUAGES."""
        return self._language

    @language.setter
    def language(self, value: str) -> None:
        if value not in LANGUAGES:
            raise ValueError(f"unknown language {value!r}")
        self._language = value

    def t(self, key: str, **values: object) -> str:
        """The string for `key` with `values` filled in."""
        template = STRINGS[self._language].get(key) or STRINGS["en"].get(key, key)
        return template.format(**values) if values else template

    def code(self, code: str) -> str:
        """A service, accessibility or category code as a label."""
        label = CODES[self._language].get(code) or CODES["en"].get(code)
        if label:
            return label
        words = re.sub(r"(?<=[a-z])(?=[A-Z])|_", " ", code).strip()
        return words[:1].upper() + words[1:]

    def join(self, items: list[str], last: str = "list.and") -> str:
        """A list in prose: 'a, b or c' (English) or 'a、b或c' (Chinese)."""
        if len(items) <= 1:
            return "".join(items)
        return self.t("list.and").join(items[:-1]) + self.t(last) + items[-1]

    def distance(self, metres: float | None) -> str:
        """'80 m', '450 m', '1.2 km', '12 km'."""
        if metres is None:
            return ""
        if metres < 1000:
            return self.t("distance.m", n=int(round(metres / 10.0) * 10) if metres >= 10
                          else int(round(metres)))
        km = metres / 1000
        text = f"{km:.1f}".removesuffix(".0") if km < 10 else f"{km:.0f}"
        return self.t("distance.km", n=text)

    def compass(self, bearing: float | None) -> str:
        """The eight-point compass direction of a bearing in degrees."""
        if bearing is None:
            return ""
        return self.t("compass." + _COMPASS[int(((bearing % 360) + 22.5) // 45) % 8])

    def age(self, then: datetime | None, now: datetime) -> str:
        """How long ago, roughly: 'just now', '5 min ago', '3 h ago', '2 days ago'."""
        if then is None:
            return ""
        seconds = max(0.0, (now - then).total_seconds())
        if seconds < 60:
            return self.t("age.just_now")
        if seconds < 3600:
            return self.t("age.minutes", n=int(seconds // 60))
        if seconds < 86400:
            return self.t("age.hours", n=int(seconds // 3600))
        return self.t("age.days", n=int(seconds // 86400))

    def weekday(self, day: int, short: bool = False) -> str:
        """A weekday's name, Monday = 0."""
        return self.t(("weekday_short." if short else "weekday.") + str(day))

    def date(self, value: date) -> str:
        """A date written out: '24 December 2026' or '2026年12月24日'."""
        return self.t("date.format", day=value.day, month=value.month, year=value.year,
                      month_name=self.t(f"month.{value.month}"))

    def moment(self, at: datetime, now: datetime) -> str:
        """A time in the place's own time zone: '17:00' today, 'Mon 09:00' on another day."""
        local_now = now.astimezone(at.tzinfo)
        if at.date() == local_now.date():
            return at.strftime("%H:%M")
        return f"{self.weekday(at.weekday(), short=True)} {at:%H:%M}"
