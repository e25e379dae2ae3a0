"""The gRPC side of the identity service: the servicer and the protobuf conversions."""
