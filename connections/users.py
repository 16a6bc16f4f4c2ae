"""User mapping: the Dataverse user a portal user acts as, for writes done on someone's behalf (BC: table 5330 CRM
Connection Setup, field "User Mapping Required"; Microsoft Learn: "Impersonate another user using the Web API").
"""
from __future__ import annotations

import uuid
from typing import Any

from django.contrib.auth.models import AbstractBaseUser
from django.core.cache import cache

from connections.clients.errors import ClientError
from connections.diagnostics import dataverse_client, guid_or_none
from connections.models import ConnectionSetup


class UserNotMapped(Exception):
    """User mapping is required and the portal user has no Dataverse user with the same e-mail (BC: table 5330 CRM
    Connection Setup, field 61 Is User Mapping Required)."""


def dataverse_user_for(*, connection: ConnectionSetup, user: AbstractBaseUser) -> uuid.UUID | None:
    """The Dataverse systemuserid with the portal user's e-mail (``internalemailaddress``), for impersonation
    (``MSCRMCallerID``; Microsoft Learn: "Impersonate another user using the Web API"). None when no enabled
    Dataverse user matches. Cached for 5 minutes. Raises ClientError on remote failures."""
    email = (getattr(user, "email", "") or "").strip().lower()
    if not email:
        return None
    key = f"connections:dataverse-user:{connection.pk}:{email}"
    cached = cache.get(key)
    if cached is not None:
        return guid_or_none(cached) if cached else None
    rows = list(dataverse_client(connection).iter_rows(
        "systemusers", select=["systemuserid", "isdisabled"],
        filter=f"internalemailaddress eq '{email.replace(chr(39), chr(39) * 2)}'",
    ))
    found = next((guid_or_none(r.get("systemuserid")) for r in rows if not r.get("isdisabled")), None)
    cache.set(key, str(found) if found else "", 300)
    return found


def dataverse_client_for_user(*, connection: ConnectionSetup, user: AbstractBaseUser) -> Any:
    """The Dataverse client to use for reads and writes done on behalf of a portal user (BC: table 5330 CRM
    Connection Setup, field 61 Is User Mapping Required): with user mapping off, the integration user's client; with
    it on, a client impersonating the Dataverse user with the same e-mail. Raises UserNotMapped when there is none
    (the integration actions are then not offered to that user; see :func:`user_has_integration_actions`)."""
    if not connection.user_mapping_required:
        return dataverse_client(connection)
    caller = dataverse_user_for(connection=connection, user=user)
    if caller is None:
        raise UserNotMapped(
            f"User mapping is required and no enabled Dataverse user has the e-mail of {user.get_username()}: set "
            "your e-mail in your portal profile to your Dataverse user's e-mail."
        )
    return dataverse_client(connection, caller_id=caller)


def user_mapping_require(*, connection: ConnectionSetup, user: AbstractBaseUser) -> None:
    """Refuse an integration action a portal user takes on a record (Synchronize now, couple, uncouple, Delete
    Couplings, match-based coupling, the skipped records' actions) when the connection requires user mapping and no
    enabled Dataverse user has the portal user's e-mail (BC: table 5330 CRM Connection Setup, field 61 Is User Mapping
    Required). Raises UserNotMapped naming the user and what to do, also when Dataverse cannot be asked (with its
    answer); does nothing when user mapping is off."""
    if not connection.user_mapping_required:
        return
    name = user.get_username()
    email = (getattr(user, "email", "") or "").strip()
    try:
        mapped = dataverse_user_for(connection=connection, user=user)
    except ClientError as error:
        raise UserNotMapped(f"User mapping is required on {connection.name} and the Dataverse user of {name} could "
                            f"not be looked up: {error}") from error
    if mapped is None:
        raise UserNotMapped(
            f"User mapping is required on {connection.name} and no enabled Dataverse user has the e-mail of {name} "
            f"({email or 'no e-mail set'}): set {name}'s e-mail in the portal to their Dataverse user's e-mail, or "
            "turn off User mapping required in the Sales settings."
        )


def user_has_integration_actions(*, connection: ConnectionSetup, user: AbstractBaseUser) -> bool:
    """Whether integration actions (synchronize, couple, ...) are offered to ``user``: always when user mapping is
    off; otherwise only when a Dataverse user with the same e-mail exists."""
    if not connection.user_mapping_required:
        return True

    try:
        return dataverse_user_for(connection=connection, user=user) is not None
    except ClientError:
        return False

