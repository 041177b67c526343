"""WSGI entry point for gunicorn (`gunicorn backend.wsgi:app`) and the `flask` command.

The `flask` command finds it through .flaskenv (FLASK_APP=backend.wsgi). Without DATABASE_URL in
the environment, the settings come from the private services that `make run` created under var/
(Redis, the JWT key too), so the operators' commands work as printed right after `make run`. With
DATABASE_URL the environment is in charge and var/ is not read.
"""

import os

from backend import create_app
from backend.serve import use_private_services, var_path

if not os.environ.get("DATABASE_URL") and var_path().is_dir():
    use_private_services(var_path(), create=False)

app = create_app()
