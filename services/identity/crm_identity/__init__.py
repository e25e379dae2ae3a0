"""The identity service: users, teams, roles and API tokens of the commercial team."""
