"""Uploads of place data by maintainers: file parsing and import."""
