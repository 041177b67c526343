"""The one place for colours, sizes and fonts; every screen takes them from here.

Every colour a text is drawn in is listed in TEXT_ON with the backgrounds it is drawn on, so a
test can check each pair against WCAG 2.1 (4.5:1 for body text, 3:1 for large text).
"""

from __future__ import annotations

import os
from pathlib import Path

# Text and surfaces.
PRIMARY = (0.059, 0.231, 0.420, 1)  # deep navy: headers, primary buttons, links
PRIMARY_DARK = (0.035, 0.157, 0.302, 1)  # a pressed primary button
ACCENT = (0.0, 0.404, 0.376, 1)  # dark teal: offer benefits, the selected tab's bar
BACKGROUND = (0.953, 0.961, 0.973, 1)
CARD = (1, 1, 1, 1)
TEXT = (0.106, 0.125, 0.153, 1)
MUTED = (0.337, 0.376, 0.431, 1)  # secondary text, still 6:1 on white
LINE = (0.478, 0.514, 0.565, 1)  # outlines of fields and chips (non-text, 3:1 on white)
DIVIDER = (0.855, 0.871, 0.894, 1)  # hairlines that only separate, never the only cue
OPEN = (0.082, 0.431, 0.176, 1)  # green
SOON = (0.600, 0.290, 0.0, 1)  # dark amber
CLOSED = (0.698, 0.114, 0.114, 1)  # red
WARNING_BG = (1.0, 0.953, 0.816, 1)
WARNING_TEXT = (0.420, 0.255, 0.0, 1)
HIGHLIGHT = (0.890, 0.945, 0.984, 1)  # a pressed card, today's row
WHITE = (1, 1, 1, 1)
ON_PRIMARY_MUTED = (0.84, 0.89, 0.95, 1)  # captions on the navy header
HEADER_BUTTON = (0.172, 0.323, 0.490, 1)  # a button on the navy header
HEADER_BUTTON_DOWN = (0.294, 0.423, 0.565, 1)  # ... while pressed
DISABLED_BG = (0.878, 0.894, 0.914, 1)
DISABLED_TEXT = (0.322, 0.361, 0.412, 1)
TONES = {"open": OPEN, "soon": SOON, "closed": CLOSED, "unknown": MUTED}
# Status is never told by colour alone: each tone has a symbol drawn before its words.
TONE_ICONS = {"open": "●", "soon": "▲", "closed": "×", "unknown": "?"}

# Which text colour is drawn on which background (name -> names), for the contrast test.
TEXT_ON: dict[str, tuple[str, ...]] = {
    "TEXT": ("CARD", "BACKGROUND", "HIGHLIGHT"),
    "MUTED": ("CARD", "BACKGROUND", "HIGHLIGHT"),
    "PRIMARY": ("CARD", "BACKGROUND", "HIGHLIGHT"),
    "ACCENT": ("CARD", "HIGHLIGHT"),
    "OPEN": ("CARD", "HIGHLIGHT", "BACKGROUND"),
    "SOON": ("CARD", "HIGHLIGHT", "BACKGROUND"),
    "CLOSED": ("CARD", "HIGHLIGHT", "BACKGROUND"),
    "WARNING_TEXT": ("WARNING_BG",),
    # White on buttons, and on map markers filled with a status colour.
    "WHITE": ("PRIMARY", "PRIMARY_DARK", "CLOSED", "ACCENT", "OPEN", "SOON", "MUTED",
              "HEADER_BUTTON", "HEADER_BUTTON_DOWN"),
    "ON_PRIMARY_MUTED": ("PRIMARY", "PRIMARY_DARK"),
    "DISABLED_TEXT": ("DISABLED_BG",),
}
# Non-text parts a user must see (field outlines, the selected tab's bar): 3:1 (WCAG 1.4.11).
GRAPHIC_ON: dict[str, tuple[str, ...]] = {
    "LINE": ("CARD",),
    "ACCENT": ("CARD",),
    "PRIMARY": ("CARD", "BACKGROUND"),
}

# Sizes, in dp: Android's and WCAG 2.5.5's minimum for anything a finger taps.
TOUCH = 48
FONT_SCALES = (1.0, 1.25, 1.5, 1.75, 2.0)


def luminance(rgba: tuple[float, ...]) -> float:
    """WCAG 2.1 relative luminance of an sRGB colour given as 0-1 floats."""
    def linear(c: float) -> float:
        return c / 12.92 if c <= 0.04045 else ((c + 0.055) / 1.055) ** 2.4
    r, g, b = (linear(c) for c in rgba[:3])
    return 0.2126 * r + 0.7152 * g + 0.0722 * b


def contrast(fg: tuple[float, ...], bg: tuple[float, ...]) -> float:
    """WCAG 2.1 contrast ratio between two opaque colours (1 to 21)."""
    a, b = sorted((luminance(fg), luminance(bg)), reverse=True)
    return (a + 0.05) / (b + 0.05)


# Fonts: one family with Latin and CJK glyphs and a real bold face, so switching language
# never needs another font and bold text is drawn bold, not smeared. `make` installs Noto Sans
# CJK (Debian's fonts-noto-cjk, regular and bold); Android phones carry it as well.
FONT_FAMILIES: tuple[tuple[str, str | None], ...] = (
    ("/usr/share/fonts/opentype/noto/NotoSansCJK-Regular.ttc",
     "/usr/share/fonts/opentype/noto/NotoSansCJK-Bold.ttc"),
    ("/system/fonts/NotoSansCJK-Regular.ttc", "/system/fonts/NotoSansCJK-Bold.ttc"),
    # Fallbacks without a bold face: Kivy then emboldens the regular one.
    ("/usr/share/fonts/truetype/wqy/wqy-microhei.ttc", None),
    ("/system/fonts/DroidSansFallback.ttf", None),
)


def font_family() -> tuple[str, str | None] | None:
    """(regular, bold) of the first CJK family found (NEARBANK_FONT overrides), or None."""
    override = os.environ.get("NEARBANK_FONT")
    if override and Path(override).is_file():
        bold = os.environ.get("NEARBANK_FONT_BOLD")
        return override, bold if bold and Path(bold).is_file() else None
    for regular, bold in FONT_FAMILIES:
        if Path(regular).is_file():
            return regular, bold if bold and Path(bold).is_file() else None
    return None


def cjk_font() -> str | None:
    """The regular face of the family in use, or None."""
    family = font_family()
    return family[0] if family else None
