"""The identity use cases, each in one unit of work."""
