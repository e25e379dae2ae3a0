"""The one shared library of the CRM services: configuration, database and migrations, the
transactional outbox and event consumers on NATS JetStream, the gRPC server bootstrap and
client helper, money and ids. Every service uses these; none re-implements them."""
