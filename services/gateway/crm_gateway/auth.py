"""Who is calling: the gateway verifies every bearer token itself, without a call to the identity
service per request. Access tokens are JWTs signed by identity (EdDSA, keys from ListSigningKeys);
what can change after a token was issued (user deactivated or re-roled, session ended, team
changed, API token revoked) is kept in a per-process directory that follows the identity
service's events on JetStream. While that feed is not caught up (NATS down, just started), the
gateway asks identity instead, with a few seconds of caching, so a revocation is never missed."""

from __future__ import annotations

import asyncio
import hashlib
import logging
import threading
import time
import uuid
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

import grpc
import jwt
from cryptography.hazmat.primitives import serialization
from google.protobuf.message import Message
from nats.errors import TimeoutError as NatsTimeout
from nats.js.api import AckPolicy, ConsumerConfig, DeliverPolicy

from crm.identity.v1 import events_pb2, identity_pb2, identity_pb2_grpc
from crm_platform.eventbus import EVENT_TYPE_HEADER, BackgroundLoop, EventBus, stream_name, stream_subjects
from crm_platform.grpc_client import decode_error, stub
from crm_platform.nats_auth import NatsCredentials

log = logging.getLogger(__name__)

ISSUER = "crm-identity"
AUDIENCE = "crm-api"
API_TOKEN_PREFIX = "crm_pat_"
ROLE_NAMES = {identity_pb2.ROLE_ADMIN: "admin", identity_pb2.ROLE_MANAGER: "manager", identity_pb2.ROLE_REP: "rep"}


class AuthError(Exception):
    """A request's credentials are refused: 401 with this stable code."""

    def __init__(self, code: str, detail: str):
        super().__init__(detail)
        self.code, self.detail = code, detail


@dataclass(frozen=True)
class UserState:
    id: str
    email: str
    display_name: str
    role: str
    team_id: str
    active: bool
    password_change_required: bool
    version: int

    @classmethod
    def from_proto(cls, u: identity_pb2.User) -> UserState:
        return cls(
            id=u.id,
            email=u.email,
            display_name=u.display_name,
            role=ROLE_NAMES.get(u.role, "rep"),
            team_id=u.team_id,
            active=u.active,
            password_change_required=u.password_change_required,
            version=u.version,
        )


@dataclass(frozen=True)
class Principal:
    """The authenticated caller of one request."""

    user: UserState
    # The session of an access token, or the id of an API token.
    session_id: str = ""
    api_token_id: str = ""

    @property
    def id(self) -> str:
        return self.user.id

    @property
    def role(self) -> str:
        return self.user.role


def session_start(session_id: str) -> float:
    """When a session began, read from its id (a UUIDv7 carries its creation time in ms)."""
    try:
        return (uuid.UUID(session_id).int >> 80) / 1000.0
    except ValueError:
        return 0.0


@dataclass
class Directory:
    """What the gateway knows of users, teams and revocations, kept current from identity events.
    Updates apply only when newer (by version), so replays and reordering are harmless."""

    users: dict[str, UserState] = field(default_factory=dict)
    # team id → (manager id, version)
    teams: dict[str, tuple[str, int]] = field(default_factory=dict)
    # session id → when it was revoked
    revoked_sessions: dict[str, float] = field(default_factory=dict)
    # user id → every session of the user that began before this instant is revoked
    sessions_revoked_before: dict[str, float] = field(default_factory=dict)
    revoked_api_tokens: set[str] = field(default_factory=set)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def put_user(self, user: UserState) -> None:
        with self.lock:
            known = self.users.get(user.id)
            if known is None or user.version >= known.version:
                self.users[user.id] = user

    def put_team(self, team_id: str, manager_id: str, version: int) -> None:
        with self.lock:
            known = self.teams.get(team_id)
            if known is None or version >= known[1]:
                self.teams[team_id] = (manager_id, version)

    def drop_team(self, team_id: str) -> None:
        with self.lock:
            self.teams.pop(team_id, None)

    def revoke_session(self, session_id: str, at: float) -> None:
        with self.lock:
            self.revoked_sessions[session_id] = at

    def revoke_user_sessions(self, user_id: str, before: float) -> None:
        with self.lock:
            self.sessions_revoked_before[user_id] = max(before, self.sessions_revoked_before.get(user_id, 0.0))

    def revoke_api_token(self, token_id: str) -> None:
        with self.lock:
            self.revoked_api_tokens.add(token_id)

    def session_is_revoked(self, user_id: str, session_id: str) -> bool:
        if session_id in self.revoked_sessions:
            return True
        before = self.sessions_revoked_before.get(user_id)
        return before is not None and session_start(session_id) <= before

    def managed_user_ids(self, manager_id: str) -> set[str]:
        """The manager and the members of every team they lead."""
        with self.lock:
            teams = {t for t, (m, _v) in self.teams.items() if m == manager_id}
            members = {u.id for u in self.users.values() if u.team_id and u.team_id in teams}
        return members | {manager_id}

    def apply(self, event: Message) -> None:
        """One identity event."""
        if isinstance(event, events_pb2.UserCreated | events_pb2.UserUpdated | events_pb2.UserDeactivated):
            self.put_user(UserState.from_proto(event.user))
        elif isinstance(event, events_pb2.TeamCreated | events_pb2.TeamUpdated):
            self.put_team(event.team.id, event.team.manager_id, event.team.version)
        elif isinstance(event, events_pb2.TeamDeleted):
            self.drop_team(event.team.id)
        elif isinstance(event, events_pb2.SessionRevoked):
            s = event.session
            self.revoke_session(s.id, s.revoke_time.ToDatetime(UTC).timestamp() if s.HasField("revoke_time") else 0)
        elif isinstance(event, events_pb2.UserSessionsRevoked):
            self.revoke_user_sessions(event.user_id, event.revoke_time.ToDatetime(UTC).timestamp())
        elif isinstance(event, events_pb2.ApiTokenRevoked):
            self.revoke_api_token(event.api_token.id)


_EVENT_TYPES: dict[str, type[Message]] = {
    cls.DESCRIPTOR.full_name: cls
    for cls in (
        events_pb2.UserCreated,
        events_pb2.UserUpdated,
        events_pb2.UserDeactivated,
        events_pb2.TeamCreated,
        events_pb2.TeamUpdated,
        events_pb2.TeamDeleted,
        events_pb2.SessionRevoked,
        events_pb2.UserSessionsRevoked,
        events_pb2.ApiTokenRevoked,
    )
}


def identity_stub() -> identity_pb2_grpc.IdentityServiceStub:
    return stub(identity_pb2_grpc.IdentityServiceStub, "identity")


class IdentityFeed:
    """Follows the identity stream from `lookback` seconds ago (longer than any access token
    lives) with an ephemeral pull consumer, and loads users and teams once over gRPC. `synced` is
    true while the directory is known to be current."""

    def __init__(
        self,
        directory: Directory,
        nats_url: str,
        lookback_seconds: float,
        credentials: NatsCredentials | None = None,
        tls_ca_file: str = "",
    ):
        self.directory = directory
        self.nats_url = nats_url
        self.credentials = credentials  # the gateway's own NATS user (reads the identity stream only)
        self.tls_ca_file = tls_ca_file
        self.lookback = lookback_seconds
        self.synced = threading.Event()
        self.loaded = threading.Event()
        self._loop: BackgroundLoop | None = None
        self._stop: asyncio.Event | None = None
        self._bus: EventBus | None = None
        self._closing = False

    def start(self) -> None:
        self._loop = BackgroundLoop("gateway-identity-feed")
        self._loop.submit(self._run())

    def close(self) -> None:
        self._closing = True
        if self._loop is None:
            return
        if self._stop is not None:
            self._loop.call_soon(self._stop.set)
        if self._bus is not None:
            try:
                self._loop.submit(self._bus.close()).result(3)
            except Exception as exc:
                log.debug("closing the identity feed: %s", exc)
        self._loop.stop()
        self._loop = None

    def load_directory(self) -> None:
        """Every user and team, page by page (blocking; run in a worker thread)."""
        ident = identity_stub()
        token = ""
        while True:
            res = ident.ListUsers(identity_pb2.ListUsersRequest(page_size=500, page_token=token, include_inactive=True))
            for u in res.users:
                self.directory.put_user(UserState.from_proto(u))
            token = res.next_page_token
            if not token:
                break
        while True:
            teams = ident.ListTeams(identity_pb2.ListTeamsRequest(page_size=500, page_token=token))
            for t in teams.teams:
                self.directory.put_team(t.id, t.manager_id, t.version)
            token = teams.next_page_token
            if not token:
                break

    async def _load_until_done(self) -> None:
        delay = 0.2
        while not self.loaded.is_set() and self._stop is not None and not self._stop.is_set():
            try:
                await asyncio.get_running_loop().run_in_executor(None, self.load_directory)
                self.loaded.set()
            except grpc.RpcError as exc:
                log.warning("cannot load users from identity yet (%s); retrying", decode_error(exc).code.name)
                await asyncio.sleep(delay)
                delay = min(delay * 2, 5.0)

    async def _run(self) -> None:
        self._stop = asyncio.Event()
        self._bus = EventBus(self.nats_url, "crm-gateway", self.credentials, tls_ca_file=self.tls_ca_file)
        loader = asyncio.create_task(self._load_until_done())
        await self._bus.connect()
        last_seq = 0
        start = datetime.now(UTC) - timedelta(seconds=self.lookback)
        while not self._stop.is_set():
            try:
                last_seq = await self._follow(start, last_seq)
            except asyncio.CancelledError:
                raise
            except Exception as exc:
                self.synced.clear()
                if self._closing or self._stop.is_set():
                    break
                log.warning("identity feed interrupted (%s); resuming", exc or type(exc).__name__)
                await asyncio.sleep(0.5)
        loader.cancel()

    async def _follow(self, start: datetime, last_seq: int) -> int:
        assert self._bus is not None and self._bus.js is not None and self._stop is not None
        if last_seq:
            config = ConsumerConfig(deliver_policy=DeliverPolicy.BY_START_SEQUENCE, opt_start_seq=last_seq + 1)
        else:
            # The RFC 3339 text every nats-py we allow sends as is (2.9 types the field int, recent
            # releases datetime, converting it to this same text; a datetime fails on 2.9's JSON).
            since = start.isoformat().replace("+00:00", "Z")
            config = ConsumerConfig(
                deliver_policy=DeliverPolicy.BY_START_TIME,
                opt_start_time=since,  # type: ignore[arg-type]  # see above: a string across nats-py releases
            )
        config.ack_policy = AckPolicy.NONE
        config.inactive_threshold = 30.0
        sub = await self._bus.js.pull_subscribe(
            stream_subjects("identity"), stream=stream_name("identity"), config=config
        )
        try:
            while not self._stop.is_set():
                if not self._bus.is_connected:
                    self.synced.clear()
                    raise ConnectionError("NATS connection lost")
                try:
                    msgs = await sub.fetch(256, timeout=1.0)
                except NatsTimeout:
                    if self.loaded.is_set():
                        self.synced.set()  # nothing pending: the directory is current
                    continue
                for msg in msgs:
                    kind = (msg.headers or {}).get(EVENT_TYPE_HEADER, "")
                    cls = _EVENT_TYPES.get(kind)
                    if cls is not None:
                        self.directory.apply(cls.FromString(msg.data))
                    last_seq = msg.metadata.sequence.stream
        finally:
            try:
                await sub.unsubscribe()
            except Exception as exc:
                log.debug("unsubscribe: %s", exc)
        return last_seq


class SigningKeys:
    """The identity service's public keys, fetched on first use and again when a token names an
    unknown key id (at most every few seconds, so junk tokens cannot hammer identity)."""

    def __init__(self, refetch_interval: float = 5.0):
        self._keys: dict[str, Any] = {}
        self._fetched = 0.0
        self._interval = refetch_interval
        self._lock = threading.Lock()

    def get(self, kid: str) -> Any:
        key = self._keys.get(kid)
        if key is not None:
            return key
        with self._lock:
            if kid not in self._keys and time.monotonic() - self._fetched >= self._interval:
                self._fetched = time.monotonic()
                try:
                    res = identity_stub().ListSigningKeys(identity_pb2.ListSigningKeysRequest())
                except grpc.RpcError:
                    self._fetched = 0.0
                    raise
                self._keys = {
                    k.key_id: serialization.load_pem_public_key(k.public_key_pem.encode()) for k in res.signing_keys
                }
        return self._keys.get(kid)


@dataclass
class _Cached:
    value: Any
    until: float


class Authenticator:
    """Turns a bearer token into a Principal, or raises AuthError."""

    def __init__(self, directory: Directory, feed: IdentityFeed | None, *, max_token_age: float, fallback_ttl: float):
        self.directory = directory
        self.feed = feed
        self.keys = SigningKeys()
        self.max_token_age = max_token_age
        self.fallback_ttl = fallback_ttl
        self._cache: dict[str, _Cached] = {}
        self._verified: dict[str, dict[str, Any]] = {}
        self._cache_lock = threading.Lock()

    # --- small TTL cache for the answers asked of identity -------------------------------------
    def _cached(self, key: str) -> Any:
        hit = self._cache.get(key)
        if hit is not None and hit.until > time.monotonic():
            return hit.value
        return None

    def _remember(self, key: str, value: Any, ttl: float) -> None:
        with self._cache_lock:
            if len(self._cache) > 50_000:
                now = time.monotonic()
                self._cache = {k: v for k, v in self._cache.items() if v.until > now}
            self._cache[key] = _Cached(value, time.monotonic() + ttl)

    def forget(self, key: str) -> None:
        with self._cache_lock:
            self._cache.pop(key, None)

    @property
    def synced(self) -> bool:
        return self.feed is not None and self.feed.synced.is_set()

    def _user(self, user_id: str) -> UserState:
        user = self.directory.users.get(user_id) if self.synced else None
        if user is None:
            user = self._cached(f"user:{user_id}")
        if user is None:
            try:
                res = identity_stub().GetUser(identity_pb2.GetUserRequest(id=user_id))
            except grpc.RpcError as exc:
                if exc.code() == grpc.StatusCode.NOT_FOUND:
                    raise AuthError("invalid_token", "the token's user does not exist") from None
                raise
            user = UserState.from_proto(res.user)
            self.directory.put_user(user)
            self._remember(f"user:{user_id}", user, self.fallback_ttl)
        return user

    def _active_user(self, user_id: str) -> UserState:
        user = self._user(user_id)
        if not user.active:
            raise AuthError("user_inactive", "this user has been deactivated")
        return user

    def _session_revoked(self, user_id: str, session_id: str) -> bool:
        if self.directory.session_is_revoked(user_id, session_id):
            return True
        if self.synced:
            return False
        revoked = self._cached(f"session:{session_id}")
        if revoked is None:
            try:
                res = identity_stub().GetSession(identity_pb2.GetSessionRequest(id=session_id))
                revoked = res.session.HasField("revoke_time")
            except grpc.RpcError as exc:
                if exc.code() != grpc.StatusCode.NOT_FOUND:
                    raise
                revoked = True
            self._remember(f"session:{session_id}", revoked, self.fallback_ttl)
        return bool(revoked)

    def authenticate(self, token: str) -> Principal:
        if token.startswith(API_TOKEN_PREFIX):
            return self._api_token(token)
        claims = self._verified.get(token)
        if claims is None or claims["exp"] <= time.time():
            claims = self._verify(token)
            with self._cache_lock:
                if len(self._verified) >= 20_000:
                    self._verified.clear()
                self._verified[token] = claims
        user_id, session_id = str(claims["sub"]), str(claims["sid"])
        user = self._active_user(user_id)
        if self._session_revoked(user_id, session_id):
            raise AuthError("session_revoked", "this session has ended; sign in again")
        return Principal(user=user, session_id=session_id)

    def _verify(self, token: str) -> dict[str, Any]:
        """The claims of a well-signed, current access token. Signature checks cost ~0.16 ms, so a
        verified token is remembered until it expires; revocation is still checked on every use."""
        try:
            header = jwt.get_unverified_header(token)
        except jwt.InvalidTokenError:
            raise AuthError("invalid_token", "the bearer token is malformed") from None
        kid = header.get("kid")
        key = self.keys.get(kid) if isinstance(kid, str) else None
        if key is None:
            raise AuthError("invalid_token", "the bearer token is not signed by a known key")
        try:
            claims = jwt.decode(
                token,
                key,
                algorithms=["EdDSA"],
                audience=AUDIENCE,
                issuer=ISSUER,
                options={"require": ["exp", "iat", "sub", "sid"]},
                leeway=5,
            )
        except jwt.ExpiredSignatureError:
            raise AuthError("token_expired", "the access token has expired; refresh it or sign in again") from None
        except jwt.InvalidTokenError as exc:
            raise AuthError("invalid_token", f"the bearer token is invalid ({exc})") from None
        if claims["exp"] - claims["iat"] > self.max_token_age:
            raise AuthError("invalid_token", "the access token lives longer than this gateway accepts")
        return dict(claims)

    def _api_token(self, token: str) -> Principal:
        digest = hashlib.sha256(token.encode()).hexdigest()
        known = self._cached(f"pat:{digest}")
        if known is None:
            try:
                res = identity_stub().VerifyApiToken(identity_pb2.VerifyApiTokenRequest(plaintext_token=token))
            except grpc.RpcError as exc:
                if exc.code() == grpc.StatusCode.UNAUTHENTICATED:
                    raise AuthError("invalid_token", "the API token is unknown, expired or revoked") from None
                raise
            expires = res.api_token.expire_time.ToSeconds() if res.api_token.HasField("expire_time") else 0
            known = (res.user.id, res.api_token.id, expires)
            self.directory.put_user(UserState.from_proto(res.user))
            self._remember(f"pat:{digest}", known, 60.0)
        user_id, token_id, expires = known
        if token_id in self.directory.revoked_api_tokens or (expires and expires <= time.time()):
            self.forget(f"pat:{digest}")
            raise AuthError("invalid_token", "the API token is unknown, expired or revoked")
        return Principal(user=self._active_user(user_id), api_token_id=token_id)
