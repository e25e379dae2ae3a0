"""The IdentityService gRPC servicer: turns requests into domain values (through contract),
calls the use cases, and builds the responses. Idempotent creates run here through run_once."""

from __future__ import annotations

from typing import TypedDict

import grpc
from google.protobuf.timestamp_pb2 import Timestamp

from crm.identity.v1 import identity_pb2, identity_pb2_grpc
from crm_identity.contract import convert
from crm_identity.service_layer import api_tokens, passwords, sessions, teams, users
from crm_identity.service_layer.common import once_more_after_integrity_error
from crm_identity.service_layer.deps import Deps
from crm_identity.service_layer.sessions import SignIn
from crm_platform.db import UnitOfWork
from crm_platform.idempotency import run_once


class SignInFields(TypedDict):
    """The fields LoginResponse and RefreshSessionResponse share."""

    user: identity_pb2.User
    session: identity_pb2.Session
    access_token: str
    access_token_expire_time: Timestamp
    refresh_token: str
    refresh_token_expire_time: Timestamp


def _sign_in_fields(signed_in: SignIn) -> SignInFields:
    access_expire = convert.timestamp(signed_in.access_token.expire_at)
    refresh_expire = convert.timestamp(signed_in.session.expire_at)
    return {
        "user": convert.user_to_proto(signed_in.user),
        "session": convert.session_to_proto(signed_in.session),
        "access_token": signed_in.access_token.token,
        "access_token_expire_time": access_expire,
        "refresh_token": signed_in.refresh_token,
        "refresh_token_expire_time": refresh_expire,
    }


class IdentityServicer(identity_pb2_grpc.IdentityServiceServicer):
    def __init__(self, deps: Deps):
        self.deps = deps

    # --- users --------------------------------------------------------------------------------

    def GetUser(
        self, request: identity_pb2.GetUserRequest, context: grpc.ServicerContext
    ) -> identity_pb2.GetUserResponse:
        return identity_pb2.GetUserResponse(user=convert.user_to_proto(users.get_user(self.deps, request.id)))

    def ListUsers(
        self, request: identity_pb2.ListUsersRequest, context: grpc.ServicerContext
    ) -> identity_pb2.ListUsersResponse:
        role = convert.role_from_proto(request.role)
        filters = users.UserFilters(
            query=request.query,
            team_id=request.team_id,
            role=role.value if role else "",
            include_inactive=request.include_inactive,
        )
        rows, token = users.list_users(self.deps, filters, request.page_size, request.page_token)
        return identity_pb2.ListUsersResponse(users=[convert.user_to_proto(u) for u in rows], next_page_token=token)

    def CreateUser(
        self, request: identity_pb2.CreateUserRequest, context: grpc.ServicerContext
    ) -> identity_pb2.CreateUserResponse:
        new = users.prepare_user(self.deps, convert.user_from_proto(request.user), password=request.password)

        def change(uow: UnitOfWork) -> identity_pb2.CreateUserResponse:
            return identity_pb2.CreateUserResponse(user=convert.user_to_proto(users.create_user(uow, new)))

        return once_more_after_integrity_error(
            lambda: run_once(
                self.deps.db, users.CREATE_SCOPE, request.request_id, identity_pb2.CreateUserResponse, change
            )
        )

    def UpdateUser(
        self, request: identity_pb2.UpdateUserRequest, context: grpc.ServicerContext
    ) -> identity_pb2.UpdateUserResponse:
        user = users.update_user(
            self.deps,
            convert.user_from_proto(request.user),
            list(request.update_mask.paths),
            request.expected_version,
        )
        return identity_pb2.UpdateUserResponse(user=convert.user_to_proto(user))

    def DeactivateUser(
        self, request: identity_pb2.DeactivateUserRequest, context: grpc.ServicerContext
    ) -> identity_pb2.DeactivateUserResponse:
        user = users.deactivate_user(self.deps, request.id, request.expected_version)
        return identity_pb2.DeactivateUserResponse(user=convert.user_to_proto(user))

    def ReactivateUser(
        self, request: identity_pb2.ReactivateUserRequest, context: grpc.ServicerContext
    ) -> identity_pb2.ReactivateUserResponse:
        user = users.reactivate_user(self.deps, request.id, request.expected_version)
        return identity_pb2.ReactivateUserResponse(user=convert.user_to_proto(user))

    def BatchGetUsers(
        self, request: identity_pb2.BatchGetUsersRequest, context: grpc.ServicerContext
    ) -> identity_pb2.BatchGetUsersResponse:
        found, missing = users.batch_get_users(self.deps, list(request.ids))
        return identity_pb2.BatchGetUsersResponse(users=[convert.user_to_proto(u) for u in found], missing_ids=missing)

    # --- sign-in and sessions -----------------------------------------------------------------

    def Login(self, request: identity_pb2.LoginRequest, context: grpc.ServicerContext) -> identity_pb2.LoginResponse:
        signed_in = sessions.login(
            self.deps,
            request.email,
            request.password,
            client_address=request.client_address,
            user_agent=request.user_agent,
        )
        return identity_pb2.LoginResponse(**_sign_in_fields(signed_in))

    def RefreshSession(
        self, request: identity_pb2.RefreshSessionRequest, context: grpc.ServicerContext
    ) -> identity_pb2.RefreshSessionResponse:
        signed_in = sessions.refresh_session(self.deps, request.refresh_token)
        return identity_pb2.RefreshSessionResponse(**_sign_in_fields(signed_in))

    def GetSession(
        self, request: identity_pb2.GetSessionRequest, context: grpc.ServicerContext
    ) -> identity_pb2.GetSessionResponse:
        return identity_pb2.GetSessionResponse(
            session=convert.session_to_proto(sessions.get_session(self.deps, request.id))
        )

    def RevokeSession(
        self, request: identity_pb2.RevokeSessionRequest, context: grpc.ServicerContext
    ) -> identity_pb2.RevokeSessionResponse:
        session = sessions.revoke_session(self.deps, request.id, request.reason)
        return identity_pb2.RevokeSessionResponse(session=convert.session_to_proto(session))

    def ListSigningKeys(
        self, request: identity_pb2.ListSigningKeysRequest, context: grpc.ServicerContext
    ) -> identity_pb2.ListSigningKeysResponse:
        keys = sessions.list_signing_keys(self.deps)
        return identity_pb2.ListSigningKeysResponse(signing_keys=[convert.signing_key_to_proto(k) for k in keys])

    def ChangePassword(
        self, request: identity_pb2.ChangePasswordRequest, context: grpc.ServicerContext
    ) -> identity_pb2.ChangePasswordResponse:
        passwords.change_password(
            self.deps, request.user_id, request.new_password, current_password=request.current_password
        )
        return identity_pb2.ChangePasswordResponse()

    # --- teams --------------------------------------------------------------------------------

    def GetTeam(
        self, request: identity_pb2.GetTeamRequest, context: grpc.ServicerContext
    ) -> identity_pb2.GetTeamResponse:
        return identity_pb2.GetTeamResponse(team=convert.team_to_proto(teams.get_team(self.deps, request.id)))

    def ListTeams(
        self, request: identity_pb2.ListTeamsRequest, context: grpc.ServicerContext
    ) -> identity_pb2.ListTeamsResponse:
        filters = teams.TeamFilters(query=request.query, manager_id=request.manager_id)
        rows, token = teams.list_teams(self.deps, filters, request.page_size, request.page_token)
        return identity_pb2.ListTeamsResponse(teams=[convert.team_to_proto(t) for t in rows], next_page_token=token)

    def CreateTeam(
        self, request: identity_pb2.CreateTeamRequest, context: grpc.ServicerContext
    ) -> identity_pb2.CreateTeamResponse:
        team = teams.prepare_team(convert.team_from_proto(request.team))

        def change(uow: UnitOfWork) -> identity_pb2.CreateTeamResponse:
            return identity_pb2.CreateTeamResponse(team=convert.team_to_proto(teams.create_team(uow, team)))

        return once_more_after_integrity_error(
            lambda: run_once(
                self.deps.db, teams.CREATE_SCOPE, request.request_id, identity_pb2.CreateTeamResponse, change
            )
        )

    def UpdateTeam(
        self, request: identity_pb2.UpdateTeamRequest, context: grpc.ServicerContext
    ) -> identity_pb2.UpdateTeamResponse:
        team = teams.update_team(
            self.deps,
            convert.team_from_proto(request.team),
            list(request.update_mask.paths),
            request.expected_version,
        )
        return identity_pb2.UpdateTeamResponse(team=convert.team_to_proto(team))

    def DeleteTeam(
        self, request: identity_pb2.DeleteTeamRequest, context: grpc.ServicerContext
    ) -> identity_pb2.DeleteTeamResponse:
        teams.delete_team(self.deps, request.id)
        return identity_pb2.DeleteTeamResponse()

    # --- API tokens ---------------------------------------------------------------------------

    def CreateApiToken(
        self, request: identity_pb2.CreateApiTokenRequest, context: grpc.ServicerContext
    ) -> identity_pb2.CreateApiTokenResponse:
        draft = api_tokens.prepare_api_token(
            request.user_id, request.name, expire_at=convert.datetime_or_none(request, "expire_time")
        )
        # The stored answer has no plaintext (it is never stored); only the call that made the
        # token answers it, so a repeated request_id answers the same token without it.
        plaintexts: dict[str, str] = {}

        def change(uow: UnitOfWork) -> identity_pb2.CreateApiTokenResponse:
            made = api_tokens.create_api_token(uow, draft)
            plaintexts[made.token.id] = made.plaintext
            return identity_pb2.CreateApiTokenResponse(api_token=convert.api_token_to_proto(made.token))

        answer = once_more_after_integrity_error(
            lambda: run_once(self.deps.db, draft.scope, request.request_id, identity_pb2.CreateApiTokenResponse, change)
        )
        plaintext = plaintexts.get(answer.api_token.id, "")
        if not plaintext:
            return answer
        return identity_pb2.CreateApiTokenResponse(api_token=answer.api_token, plaintext_token=plaintext)

    def ListApiTokens(
        self, request: identity_pb2.ListApiTokensRequest, context: grpc.ServicerContext
    ) -> identity_pb2.ListApiTokensResponse:
        filters = api_tokens.ApiTokenFilters(user_id=request.user_id, include_revoked=request.include_revoked)
        rows, token = api_tokens.list_api_tokens(self.deps, filters, request.page_size, request.page_token)
        return identity_pb2.ListApiTokensResponse(
            api_tokens=[convert.api_token_to_proto(t) for t in rows], next_page_token=token
        )

    def RevokeApiToken(
        self, request: identity_pb2.RevokeApiTokenRequest, context: grpc.ServicerContext
    ) -> identity_pb2.RevokeApiTokenResponse:
        token = api_tokens.revoke_api_token(self.deps, request.id, user_id=request.user_id)
        return identity_pb2.RevokeApiTokenResponse(api_token=convert.api_token_to_proto(token))

    def VerifyApiToken(
        self, request: identity_pb2.VerifyApiTokenRequest, context: grpc.ServicerContext
    ) -> identity_pb2.VerifyApiTokenResponse:
        user, token = api_tokens.verify_api_token(self.deps, request.plaintext_token)
        return identity_pb2.VerifyApiTokenResponse(
            user=convert.user_to_proto(user), api_token=convert.api_token_to_proto(token)
        )
