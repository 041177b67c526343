"""The app's logic in plain Python (no kivy import): API client, location, presenters, cache."""
