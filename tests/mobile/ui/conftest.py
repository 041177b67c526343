"""The real Kivy app under Xvfb: one window for the session, a fresh launch for every test."""

from __future__ import annotations

import os
import shutil
import subprocess
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from tests.mobile.conftest import BANK

# Screenshots go to a temporary folder; `make screenshots` points this at docs/screenshots/
# to refresh the committed ones.
SCREENSHOTS_ENV = "NEARBANK_SCREENSHOTS"
WINDOW = (420, 860)


@pytest.fixture(scope="session")
def screenshot_dir(tmp_path_factory) -> Path:
    """Where `Driver.screenshot` writes: $NEARBANK_SCREENSHOTS, else a session temp folder."""
    chosen = os.environ.get(SCREENSHOTS_ENV)
    return Path(chosen) if chosen else tmp_path_factory.mktemp("screenshots")


@pytest.fixture(scope="session")
def tile_server():
    """A tile server on loopback drawing generated tiles (see tests/mobile/tile_server.py)."""
    from tests.mobile.tile_server import TileServer

    server = TileServer()
    yield server
    server.close()


@pytest.fixture(scope="session")
def xvfb_display():
    """A private X server; Xvfb picks a free display number and tells us (-displayfd)."""
    if shutil.which("Xvfb") is None:
        raise RuntimeError("Xvfb is missing: `make test` installs it (scripts/system-deps.sh)")
    read_end, write_end = os.pipe()
    proc = subprocess.Popen(
        ["Xvfb", "-displayfd", str(write_end), "-screen", "0", "1024x1024x24", "-nolisten",
         "tcp"], pass_fds=(write_end,), stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    os.close(write_end)
    with os.fdopen(read_end) as reader:
        number = reader.readline().strip()
    if not number:
        proc.kill()
        raise RuntimeError("Xvfb did not start")
    yield f":{number}"
    proc.terminate()
    proc.wait(timeout=10)


@pytest.fixture(scope="session")
def kivy_app(xvfb_display, live_backend, tmp_path_factory):
    """The app, built once for the session in a Kivy window on the private display."""
    home = tmp_path_factory.mktemp("kivy-home")
    os.environ.update(
        DISPLAY=xvfb_display, KIVY_NO_ARGS="1", KIVY_HOME=str(home), KIVY_LOG_MODE="PYTHON",
        KIVY_NO_CONSOLELOG="1", KIVY_NO_FILELOG="1", KIVY_CLIPBOARD="sdl2",
        KIVY_METRICS_DENSITY="1")
    from kivy.config import Config

    Config.set("graphics", "width", str(WINDOW[0]))
    Config.set("graphics", "height", str(WINDOW[1]))
    Config.set("graphics", "resizable", "0")
    Config.set("input", "mouse", "mouse,disable_multitouch")
    from kivy.base import runTouchApp

    from mobile.core.app_core import AppCore
    from mobile.core.runner import ThreadRunner
    from mobile.ui.app import NearbankApp, post_to_ui

    first = AppCore(live_backend.url, home / "first-launch", ThreadRunner(post_to_ui))
    app = NearbankApp(core=first)
    app._run_prepare()
    runTouchApp(embedded=True)
    yield app
    app.stop()
    app.core.runner.shutdown()
    app.core.close()


class Driver:
    """Drives the real widgets: taps, typing, waiting on the event loop, screenshots."""

    def __init__(self, app: Any, backend: Any, core: Any, opened: list[str],
                 screenshots: Path, tiles: Any) -> None:
        from kivy.base import EventLoop
        from kivy.core.window import Window

        self.screenshots = screenshots
        self.tiles = tiles
        self.app = app
        self.backend = backend
        self.core = core
        self.opened = opened
        self._loop = EventLoop
        self.window = Window

    @property
    def root(self) -> Any:
        return self.app.root

    def screen(self, name: str) -> Any:
        """A screen by name."""
        return self.root.screens[name]

    @property
    def current(self) -> str:
        """The screen on show."""
        return self.root.ids.manager.current

    def frames(self, count: int = 1) -> None:
        """Let the event loop run `count` frames (layout, clock callbacks, drawing)."""
        for _ in range(count):
            self._loop.idle()

    def idle(self, seconds: float) -> None:
        """Let the app sit untouched for a while (the event loop keeps running)."""
        end = time.monotonic() + seconds
        while time.monotonic() < end:
            self._loop.idle()

    def wait_until(self, condition: Callable[[], Any], what: str, limit: float = 30.0) -> Any:
        """Run the loop until `condition()` is truthy; fail (naming `what`) past `limit` s."""
        end = time.monotonic() + limit
        while True:
            value = condition()
            if value:
                self.frames(2)  # let layout catch up with what the state change drew
                return value
            if time.monotonic() > end:
                raise AssertionError(f"gave up waiting for {what}")
            self._loop.idle()

    def tap(self, widget: Any) -> None:
        """Touch the middle of a widget and lift the finger, as a user would."""
        from kivy.tests.common import UnitTestTouch

        self.frames(2)
        assert widget.get_root_window() is not None, f"{widget} is not on screen"
        self._scroll_into_view(widget)
        assert not widget.disabled, f"{widget} is disabled"
        x, y = widget.to_window(*widget.center)
        assert 0 <= x <= self.window.width and 0 <= y <= self.window.height, (
            f"{widget} is outside the window at {(x, y)}")
        touch = UnitTestTouch(x, y)
        touch.touch_down()
        self.frames(1)
        touch.touch_up()
        self.idle(0.3)  # a ScrollView hands a tap to its child after a short delay

    def _scroll_into_view(self, widget: Any) -> None:
        from kivy.uix.scrollview import ScrollView

        parent = widget.parent
        while parent is not None and parent is not parent.parent:
            if isinstance(parent, ScrollView):
                bottom = parent.to_window(parent.x, parent.y)[1]
                top = bottom + parent.height
                low = widget.to_window(widget.x, widget.y)[1]
                if low < bottom or low + widget.height > top:  # scroll only if hidden
                    parent.scroll_to(widget, padding=20, animate=False)
                    self.frames(2)
                return
            parent = parent.parent

    def type_into(self, text_input: Any, text: str) -> None:
        """Focus a text field and give it text."""
        self.tap(text_input)
        text_input.text = text
        self.frames(1)

    def go(self, name: str) -> None:
        """Tap a tab of the navigation bar."""
        button = next(b for b in self.root.ids.nav.children if b.target == name)
        self.tap(button)
        assert self.current == name

    def sign_in(self, email: str, password: str) -> None:
        """Fill in the sign-in screen and wait for the Nearby list."""
        screen = self.screen("signin")
        self.type_into(screen.ids.email, email)
        self.type_into(screen.ids.password, password)
        self.tap(screen.ids.button)
        self.wait_until(lambda: self.current == "nearby", "the Nearby screen after sign-in")

    def screenshot(self, name: str) -> Path:
        """Save what the window shows to <screenshot folder>/<name>.png."""
        self.frames(3)
        self.screenshots.mkdir(parents=True, exist_ok=True)
        target = self.screenshots / f"{name}.png"
        made = self.window.screenshot(name=str(self.screenshots / f".{name}.png"))
        os.replace(made, target)
        return target

    def offers_requests(self) -> list[Any]:
        """The offers requests the backend has received since the log was cleared."""
        return [r for r in self.backend.requests() if r.path.startswith("/api/v1/offers")]


@pytest.fixture
def ui(kivy_app, backend, tmp_path, screenshot_dir, tile_server):
    """A fresh launch of the app (new data folder, signed out) with the place set to Bank."""
    from mobile.core.app_core import AppCore
    from mobile.core.runner import ThreadRunner
    from mobile.ui.app import post_to_ui

    opened: list[str] = []
    core = AppCore(backend.url, tmp_path / "app-data", ThreadRunner(post_to_ui),
                   uri_opener=lambda uri: opened.append(uri) or True, tile_url=tile_server.url)
    core.settings.update(place_lat=BANK[0], place_lon=BANK[1], place_label="Bank, London")
    tile_server.failing = False
    kivy_app.replace_core(core)
    driver = Driver(kivy_app, backend, core, opened, screenshot_dir, tile_server)
    driver.frames(3)
    yield driver
    core.tiles.close()
    core.runner.shutdown()
    driver.frames(2)  # deliver what the workers posted before the next test starts
