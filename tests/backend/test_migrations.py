"""The migrations build exactly the schema the models describe."""

from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext

from backend.db import Base
from backend.extensions import db
from backend.migrate import current_revision, head_revision
from backend.models import import_all_models


def _ours(obj, name, type_, reflected, compare_to):
    # PostGIS's own tables are not described by our models.
    return not (type_ == "table" and reflected and compare_to is None)


def test_database_is_at_head_and_matches_the_models(app):
    import_all_models()
    with app.app_context(), db.engine.connect() as connection:
        assert current_revision(connection) == head_revision()
        context = MigrationContext.configure(connection, opts={"include_object": _ours,
                                                               "compare_type": True})
        assert compare_metadata(context, Base.metadata) == []
