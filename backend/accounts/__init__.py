"""Users, roles, login, refresh and logout."""
