"""The cardholder's language: what the server writes, in English or Simplified Chinese.

Flask-Babel picks the language from `Accept-Language` once per request (it keeps the answer
for the rest of the request). The catalogues are backend/translations/<lang>/LC_MESSAGES:
the .po files are the source, the compiled .mo files are committed next to them (a test
checks that they match), so a fresh machine needs no build step.

Text written once per feature of a listing (the repayment `how` and posting lines) is not
looked up with gettext each time: `phrases()` translates a whole table once per language and
process, and a feature reads a dict.
"""

from __future__ import annotations

from collections.abc import Mapping
from functools import lru_cache
from pathlib import Path

from babel.support import NullTranslations, Translations
from flask import g, has_request_context, request
from flask_babel import Babel, lazy_gettext
from flask_babel import gettext as _gettext
from werkzeug.datastructures import LanguageAccept
from werkzeug.http import parse_accept_header

__all__ = ["LANGUAGES", "N_", "babel", "gettext", "language", "lazy_gettext", "phrases",
           "request_language"]

DEFAULT = "en"
# Locale identifiers of the catalogues (and what `language()` returns).
LANGUAGES = ("en", "zh")
# The same as BCP 47 tags, as the API names them (the privacy notices' `texts`).
TAGS = {"en": "en", "zh": "zh-Hans"}

babel = Babel()


def select_language() -> str:
    """The best of LANGUAGES for the request's Accept-Language (English when none fits).

    Any Chinese tag (zh, zh-CN, zh-Hans, zh-TW) gets Simplified Chinese, the only Chinese
    catalogue there is.
    """
    if not has_request_context():
        return DEFAULT
    return _language_for(request.environ.get("HTTP_ACCEPT_LANGUAGE", ""))


@lru_cache(maxsize=512)
def _language_for(header: str) -> str:
    # Parsed once per distinct header: clients send the same few values again and again.
    if not header:
        return DEFAULT
    accepted = parse_accept_header(header, LanguageAccept)
    return accepted.best_match(LANGUAGES, default=DEFAULT) or DEFAULT


def init_app(app) -> None:
    """Register Flask-Babel with the language selector."""
    app.config.setdefault("BABEL_DEFAULT_LOCALE", DEFAULT)
    babel.init_app(app, locale_selector=select_language)

    @app.teardown_request
    def _forget_language(_error=None) -> None:
        # Flask-Babel keeps the language on `g`, which outlives the request when an app
        # context was already open (tests, CLI): the next request chooses again.
        g.pop("_flask_babel", None)


def language() -> str:
    """The request's language as a catalogue name ("en", "zh"); English outside a request."""
    if not has_request_context():
        return DEFAULT
    # The selector's answer is one of LANGUAGES, which is what Flask-Babel's locale would say
    # (`get_locale().language`) without building a Locale: this runs on the hot path.
    return select_language()


def request_language() -> str:
    """The request's language as a BCP 47 tag for other services ("en", "zh-Hans")."""
    return TAGS[language()]


def gettext(message: str, **variables) -> str:
    """`message` in the request's language (English outside a request)."""
    if not has_request_context():
        return message % variables if variables else message
    return _gettext(message, **variables)


TRANSLATIONS = Path(__file__).parent / "translations"
_CATALOGUES: dict[str, NullTranslations] = {}
_TABLES: dict[tuple[int, str], dict[str, str]] = {}


def catalogue(lang: str) -> NullTranslations:
    """The compiled catalogue of a language (read once per process)."""
    found = _CATALOGUES.get(lang)
    if found is None:
        found = _CATALOGUES[lang] = Translations.load(str(TRANSLATIONS), [lang])
    return found


def phrases(table: Mapping[str, str], lang: str | None = None) -> Mapping[str, str]:
    """`table` (key -> English text, a module-level constant) in `lang` or the request's.

    Translated once per table and language for the life of the process.
    """
    lang = lang or language()
    key = (id(table), lang)
    translated = _TABLES.get(key)
    if translated is None:
        words = catalogue(lang)
        translated = _TABLES[key] = {k: words.gettext(v) for k, v in table.items()}
    return translated


def N_(message: str) -> str:  # noqa: N802 - gettext's conventional marker name
    """Mark a text for the catalogues (pybabel extract -k N_) without translating it here."""
    return message
