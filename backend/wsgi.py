"""WSGI entry point for gunicorn (`gunicorn backend.wsgi:app`) and the `flask` command.

The `flask` command finds it through .flaskenv (FLASK_APP=backend.wsgi). Settings not given in
the environment come from the private services that `make run` created under var/, so the
operators' commands work as printed right after `make run`.
"""

from backend import create_app
from backend.serve import use_private_services, var_path

if var_path().is_dir():
    use_private_services(var_path(), create=False)

app = create_app()
