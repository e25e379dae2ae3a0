"""The HTTP gateway: the only public entry. JSON under /api/v1, translated to gRPC calls."""
