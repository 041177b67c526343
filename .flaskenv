FLASK_APP=backend.wsgi
