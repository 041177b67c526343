"""The Kivy front end: one screen = one .py + one .kv; all logic lives in mobile.core."""
