"""Extensions, created unbound and initialised in create_app."""

import flask_smorest
from flask_jwt_extended import JWTManager
from webargs.flaskparser import FlaskParser

from backend.db import Database
from backend.errors import ProblemApi

db = Database()
jwt = JWTManager()
api = ProblemApi()


class _Parser(FlaskParser):
    # Invalid input is a 400 with a problem+json body (see ProblemApi), also in the OpenAPI.
    DEFAULT_VALIDATION_STATUS = 400


class Blueprint(flask_smorest.Blueprint):
    """flask-smorest Blueprint whose argument errors are documented and answered as 400."""

    ARGUMENTS_PARSER = _Parser()
