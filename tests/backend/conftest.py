"""Fixtures shared by the backend tests."""

from collections.abc import Iterator

import pytest

from tests.backend.fake_nominatim import FakeNominatim, serve, stop


@pytest.fixture
def nominatim() -> Iterator[FakeNominatim]:
    """A fake Nominatim on a free loopback port."""
    server = serve()
    yield server
    stop(server)
