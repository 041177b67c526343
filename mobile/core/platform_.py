"""What the app needs to know about the device it runs on, without importing kivy."""

from __future__ import annotations

import os
import subprocess
import sys
import webbrowser
from collections.abc import Callable


def is_android() -> bool:
    """True inside the Android build (python-for-android sets these variables)."""
    return "ANDROID_ARGUMENT" in os.environ or "ANDROID_PRIVATE" in os.environ


def open_uri(uri: str) -> bool:
    """Hand a URI (a `geo:` URI for directions) to the platform; False if nothing took it."""
    if is_android():  # pragma: no cover - needs an Android device
        from jnius import autoclass, cast

        intent_class = autoclass("android.content.Intent")
        intent = intent_class(intent_class.ACTION_VIEW, autoclass("android.net.Uri").parse(uri))
        activity = cast("android.app.Activity",
                        autoclass("org.kivy.android.PythonActivity").mActivity)
        activity.startActivity(intent)
        return True
    scheme = uri.partition(":")[0].lower()
    if sys.platform.startswith("linux"):
        # xdg-open knows the desktop's handler for geo: or tel:, if one is installed; without
        # one it fails quietly, so ask first and let the caller fall back to something visible.
        if scheme not in ("http", "https") and not _has_handler(scheme):
            return False
        try:
            subprocess.Popen(["xdg-open", uri], stdout=subprocess.DEVNULL,
                             stderr=subprocess.DEVNULL, start_new_session=True)
            return True
        except OSError:
            return False
    if scheme not in ("http", "https"):
        return False  # other desktops: no reliable way to know who takes geo: or tel:
    return webbrowser.open(uri)


def _has_handler(scheme: str) -> bool:
    """Whether the Linux desktop names an application for `scheme:` URIs."""
    try:
        found = subprocess.run(["xdg-mime", "query", "default", f"x-scheme-handler/{scheme}"],
                               capture_output=True, text=True, timeout=5, check=False)
    except (OSError, subprocess.SubprocessError):
        return False
    return bool(found.stdout.strip())


UriOpener = Callable[[str], bool]
