"""`crm demo-data`: a realistic Spanish-speaking commercial team (Colombia, Mexico, Chile) loaded
through the public HTTP API, idempotently. `plan` draws the records from a seeded generator (pure,
no I/O); `load` looks each one up by its natural key and creates only what is missing."""
