"""One place that imports every model, so Alembic and the tests see the whole schema."""


def import_all_models() -> None:
    """Import every capability's models module (registers their tables on Base.metadata)."""
    from backend import audit as _audit  # noqa: F401
    from backend.accounts import models as _accounts  # noqa: F401
    from backend.offers import models as _offers  # noqa: F401
    from backend.places import models as _places  # noqa: F401
    from backend.privacy import models as _privacy  # noqa: F401
    from backend.queues import models as _queues  # noqa: F401
    from backend.uploads import models as _uploads  # noqa: F401
