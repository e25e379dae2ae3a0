"""Pure rules of the identity service: users, teams, passwords, sessions, API tokens."""
