"""The wire mapping between this service's domain and its protobuf contract: requests, responses
and integration events. Imported by the entrypoints, and by the service layer only to turn domain
values into integration events."""
