"""The last nearby results, kept on the device to show (with their age) when offline.

Offers are never cached: an offer shown must be current.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

from mobile.core.errors import MalformedResponse
from mobile.core.models import NearbyPage


@dataclass(frozen=True)
class CachedResults:
    """A nearby answer as it was fetched, and when."""

    page: NearbyPage
    fetched_at: datetime
    filters: tuple[str, ...]


class NearbyCache:
    """One JSON file per tab holding the raw answer of the last successful nearby search."""

    def __init__(self, folder: str | Path) -> None:
        self.folder = Path(folder)

    def _path(self, tab: str) -> Path:
        return self.folder / f"nearby-{tab}.json"

    def save(self, tab: str, body: dict[str, Any], fetched_at: datetime,
             filters: tuple[str, ...]) -> None:
        """Keep the answer of a search (replacing the previous one of that tab)."""
        self.folder.mkdir(parents=True, exist_ok=True)
        path = self._path(tab)
        scratch = path.with_name(path.name + ".new")
        scratch.write_text(json.dumps({"fetched_at": fetched_at.isoformat(),
                                       "filters": list(filters), "body": body}),
                           encoding="utf-8")
        os.replace(scratch, path)

    def load(self, tab: str) -> CachedResults | None:
        """The last answer of a tab, or None when there is none (or it is unreadable)."""
        try:
            raw = json.loads(self._path(tab).read_text(encoding="utf-8"))
            fetched_at = datetime.fromisoformat(raw["fetched_at"])
            return CachedResults(NearbyPage.parse(raw["body"]), fetched_at,
                                 tuple(raw.get("filters", ())))
        except (OSError, ValueError, KeyError, TypeError, MalformedResponse):
            return None

    def clear(self) -> None:
        """Forget every cached answer (on sign-out)."""
        for path in self.folder.glob("nearby-*.json"):
            path.unlink(missing_ok=True)
