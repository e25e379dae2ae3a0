"""Storage and cryptography of the identity service: tables, repository, hashing, signing."""
