"""Who may do what on the event bus: one NATS user (an nkey) per process, allowed to publish only
its own events (`crm.<service>.>`) and the JetStream API calls it needs, and to read only the
streams it consumes. The one place these permissions are written: `crm up` and the tests' NATS
fixture generate keys and a server configuration from it, and the nats-server configurations of
docker-compose and Kubernetes hold its rendered `authorization` block (a test keeps them equal).

Without it NATS accepted anyone, and a forged `crm.identity.v1.user_updated` made a rep an admin.

    python -m crm_platform.nats_auth env     # fresh keys as KEY=value lines (compose .env, k8s Secret)
    python -m crm_platform.nats_auth block   # the authorization block with $CRM_NATS_<USER>_NKEY variables
"""

from __future__ import annotations

import os
import ssl
import sys
from collections.abc import Mapping
from dataclasses import dataclass

import nkeys

from crm_platform.config import SERVICES

# The streams each NATS user reads, by producing service. A service's consumers (and the
# reporting rebuild) may only read these; libs/crm_platform/tests/test_nats_auth.py checks it
# against the consumers every service really builds.
CONSUMES: dict[str, tuple[str, ...]] = {
    "identity": (),
    "contacts": ("deals",),
    "deals": ("contacts", "quotes"),
    "quotes": (),
    "campaigns": ("deals",),
    "reporting": ("identity", "contacts", "deals", "quotes", "campaigns"),
    "canvas": (),
    # The gateway follows the identity stream to know users, roles and revoked sessions.
    "gateway": ("identity",),
}
# Users that publish events (own a stream): the services. The gateway only reads.
PUBLISHERS = tuple(SERVICES)
USERS = tuple(CONSUMES)


def _stream(service: str) -> str:
    return f"CRM_{service.upper()}"  # = eventbus.stream_name, without importing nats-py here


def inbox_prefix(user: str) -> str:
    """Replies to a user's requests (JetStream API answers, fetched messages) come to its own
    inboxes only, so no process can read what is delivered to another."""
    return f"_INBOX.{user}"


@dataclass(frozen=True)
class Permissions:
    publish: tuple[str, ...]
    subscribe: tuple[str, ...]


def permissions(user: str, consumes: Mapping[str, tuple[str, ...]] = CONSUMES) -> Permissions:
    """What `user` may publish and subscribe to. JetStream API subjects name the stream (and the
    consumer) they act on, so allowing them per stream keeps each process to its own stream and
    to consumers on the streams it reads. A consumer name is one token (`*`): durable names are
    free-form and the gateway's and the rebuild's consumers are ephemeral (random names)."""
    if user not in consumes:
        raise ValueError(f"unknown NATS user '{user}' (known: {', '.join(consumes)})")
    publish: list[str] = []
    if user in PUBLISHERS:
        own = _stream(user)
        publish += [
            f"crm.{user}.>",
            f"$JS.API.STREAM.INFO.{own}",
            f"$JS.API.STREAM.CREATE.{own}",
            f"$JS.API.STREAM.UPDATE.{own}",
        ]
    for source in consumes[user]:
        stream = _stream(source)
        publish += [
            f"$JS.API.STREAM.INFO.{stream}",
            f"$JS.API.CONSUMER.INFO.{stream}.*",
            # nats-py names the consumer and its filter subject in the create subject.
            f"$JS.API.CONSUMER.CREATE.{stream}.*",
            f"$JS.API.CONSUMER.CREATE.{stream}.*.crm.{source}.>",
            f"$JS.API.CONSUMER.MSG.NEXT.{stream}.*",
            f"$JS.ACK.{stream}.>",
        ]
    return Permissions(publish=tuple(publish), subscribe=(f"{inbox_prefix(user)}.>",))


def nkey_variable(user: str) -> str:
    """The environment variable holding a user's public nkey in the compose/k8s server config."""
    return f"CRM_NATS_{user.upper()}_NKEY"


def seed_variable(user: str) -> str:
    """Where compose and k8s keep a user's seed before handing it to that process alone as
    CRM_NATS_NKEY_SEED."""
    return f"CRM_NATS_{user.upper()}_NKEY_SEED"


@dataclass(frozen=True)
class NatsCredentials:
    """One process's NATS identity: its user name (for its inbox prefix) and nkey seed."""

    user: str
    seed: str

    @property
    def public_key(self) -> str:
        return public_key(self.seed)


def public_key(seed: str) -> str:
    """The public key (U...) of a user seed (SU...); ValueError names what is wrong."""
    try:
        kp = nkeys.from_seed(seed.encode())
    except Exception as exc:
        raise ValueError(f"not an nkey user seed ({type(exc).__name__})") from None
    key: str = kp.public_key.decode()  # nkeys ships no type hints
    if not key.startswith("U"):
        raise ValueError("not an nkey *user* seed (it should start with SU)")
    return key


def new_seed() -> str:
    seed: bytes = nkeys.encode_seed(os.urandom(32), nkeys.PREFIX_BYTE_USER)  # nkeys ships no type hints
    return seed.decode()


def generate(users: tuple[str, ...] = USERS) -> dict[str, NatsCredentials]:
    """Fresh keys for every user (for one `crm up` run, one test server)."""
    return {user: NatsCredentials(user, new_seed()) for user in users}


def _quote(items: tuple[str, ...]) -> str:
    return ", ".join(f'"{s}"' for s in items)


def authorization_block(
    public_keys: Mapping[str, str], consumes: Mapping[str, tuple[str, ...]] = CONSUMES, indent: str = ""
) -> str:
    """The nats-server `authorization { users = [...] }` block. A key is either an nkey (U...),
    quoted, or `$VARIABLE`, which nats-server reads from its environment (compose and k8s put
    the public keys there from the Secret)."""
    lines = ["authorization {", "  users = ["]
    for user in consumes:
        perms = permissions(user, consumes)
        key = public_keys[user]
        key_text = key if key.startswith("$") else f'"{key}"'
        lines += [
            f"    # {user}",
            f"    {{nkey: {key_text}, permissions: {{",
            f"      publish: {{allow: [{_quote(perms.publish)}]}}",
            f"      subscribe: {{allow: [{_quote(perms.subscribe)}]}}",
            "    }}",
        ]
    lines += ["  ]", "}"]
    return "\n".join(indent + line if line else line for line in lines) + "\n"


def placeholder_block() -> str:
    """The block as docker-compose and k8s hold it: keys from $CRM_NATS_<USER>_NKEY."""
    return authorization_block({user: f"${nkey_variable(user)}" for user in USERS})


def server_config(
    credentials: Mapping[str, NatsCredentials],
    *,
    port: int,
    store_dir: str,
    consumes: Mapping[str, tuple[str, ...]] = CONSUMES,
) -> str:
    """A whole single-node nats-server configuration on 127.0.0.1 (crm up, tests)."""
    keys = {user: credentials[user].public_key for user in consumes}
    return (
        "# Generated by crm_platform.nats_auth for this run; regenerated at every start.\n"
        f'host: "127.0.0.1"\nport: {port}\n'
        f"jetstream {{\n  store_dir: {_quote((store_dir,))}\n}}\n" + authorization_block(keys, consumes)
    )


def tls_context(ca_file: str) -> ssl.SSLContext:
    """Verifies the NATS server's certificate against the CA that issued it (deploy/k8s)."""
    return ssl.create_default_context(cafile=ca_file)


def _main(argv: list[str]) -> int:
    if argv == ["env"]:
        print("# NATS nkeys: the public keys for the server, each seed for its own process only.")
        for user, creds in generate().items():
            print(f"{nkey_variable(user)}={creds.public_key}")
            print(f"{seed_variable(user)}={creds.seed}")
        return 0
    if argv == ["block"]:
        print(placeholder_block(), end="")
        return 0
    print("usage: python -m crm_platform.nats_auth env|block", file=sys.stderr)
    return 2


if __name__ == "__main__":
    sys.exit(_main(sys.argv[1:]))
