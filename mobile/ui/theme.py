"""Colours and the font that can show both English and Chinese."""

from __future__ import annotations

import os
from pathlib import Path

PRIMARY = (0.059, 0.231, 0.420, 1)  # deep navy
PRIMARY_DARK = (0.035, 0.157, 0.302, 1)
ACCENT = (0.016, 0.569, 0.522, 1)  # teal
BACKGROUND = (0.953, 0.961, 0.973, 1)
CARD = (1, 1, 1, 1)
TEXT = (0.106, 0.125, 0.153, 1)
MUTED = (0.376, 0.420, 0.478, 1)
LINE = (0.855, 0.871, 0.894, 1)
OPEN = (0.118, 0.557, 0.243, 1)
SOON = (0.757, 0.431, 0.0, 1)
CLOSED = (0.776, 0.157, 0.157, 1)
WARNING_BG = (1.0, 0.953, 0.816, 1)
WARNING_TEXT = (0.478, 0.294, 0.0, 1)
HIGHLIGHT = (0.890, 0.945, 0.984, 1)
WHITE = (1, 1, 1, 1)
TONES = {"open": OPEN, "soon": SOON, "closed": CLOSED, "unknown": MUTED}

# A font with both Latin and CJK glyphs, so switching language never needs another font.
# `make` installs WenQuanYi Micro Hei on Debian; Android phones carry Noto Sans CJK.
FONT_CANDIDATES = (
    "/usr/share/fonts/truetype/wqy/wqy-microhei.ttc",
    "/usr/share/fonts/truetype/wqy/wqy-zenhei.ttc",
    "/usr/share/fonts/opentype/noto/NotoSansCJK-Regular.ttc",
    "/usr/share/fonts/truetype/droid/DroidSansFallbackFull.ttf",
    "/system/fonts/NotoSansCJK-Regular.ttc",
    "/system/fonts/NotoSansSC-Regular.otf",
    "/system/fonts/DroidSansFallback.ttf",
)


def cjk_font() -> str | None:
    """The first CJK-capable font found (NEARBANK_FONT overrides), or None."""
    override = os.environ.get("NEARBANK_FONT")
    if override and Path(override).is_file():
        return override
    bundled = sorted((Path(__file__).parent / "fonts").glob("*.tt[fc]"))
    for candidate in [*map(str, bundled), *FONT_CANDIDATES]:
        if Path(candidate).is_file():
            return candidate
    return None
