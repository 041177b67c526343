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
    if sys.platform.startswith("linux"):
        # xdg-open knows the desktop's handler for geo: (a maps app), if one is installed.
        try:
            subprocess.Popen(["xdg-open", uri], stdout=subprocess.DEVNULL,
                             stderr=subprocess.DEVNULL, start_new_session=True)
            return True
        except OSError:
            return False
    return webbrowser.open(uri)


UriOpener = Callable[[str], bool]
