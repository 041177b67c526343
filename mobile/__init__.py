"""Nearbank's cardholder app: `core` is plain Python, `ui` is the Kivy front end."""
