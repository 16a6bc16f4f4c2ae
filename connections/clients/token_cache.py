"""msal's state shared by every process of the portal through Redis (:mod:`.shared_cache`): the token cache of each
credential and the authority's OpenID configuration.

An RQ worker forks a fresh work horse for every job, so an msal application kept in memory (one per credential,
:mod:`.entra`) dies with its job: without a shared cache every job signs in again (an OpenID discovery request and a
token request per credential), 12 Entra requests a minute on an idle system. Here:

* :class:`SharedTokenCache` is msal's ``SerializableTokenCache`` (msal for Python, "Token cache serialization")
  persisted under one Redis key per credential fingerprint (:func:`connections.clients.entra.fingerprint`: a changed
  secret is a different key), the serialized cache Fernet-encrypted with ``PORTAL_ENCRYPTION_KEY``
  (:mod:`base.crypto`), so the stored value holds no token text. :meth:`SharedTokenCache.prepare` loads it before
  msal looks for a token (only when memory has no token with more than 5 minutes of life: msal's own margin in
  ``acquire_token_silent``), a Redis lock per credential lets one process fetch while the others wait and then read
  its token, and :meth:`SharedTokenCache.save` writes it back when msal changed it (``has_state_changed``).
* :class:`DiscoveryCachingSession` answers msal's tenant discovery (``GET <authority>/v2.0/.well-known/
  openid-configuration``, which msal sends when it builds an application) from Redis once one process fetched it.

When Redis is down, each process keeps its tokens in memory as before (logged once; never a failed run).
"""
from __future__ import annotations

import logging
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import msal
import redis.exceptions
import requests

from base.crypto import SecretUnreadable, decrypt, encrypt
from connections.clients.shared_cache import SharedStore
from connections.clients.transport import TimeoutSession

logger = logging.getLogger(__name__)

#: Seconds a saved token cache lives in Redis after its last change (access tokens live about an hour; a cache that
#: nobody used for a day is dropped, and the next process signs in again).
TOKEN_CACHE_TTL = 24 * 3600
#: Seconds the authority's OpenID configuration is kept (its endpoints change only with the tenant).
DISCOVERY_TTL = 24 * 3600
#: msal renews an access token with less than this many seconds of life left (``msal/application.py``).
TOKEN_MARGIN = 300

_tokens = SharedStore("msal-token-cache")
_discovery = SharedStore("openid-configuration")


class SharedTokenCache(msal.SerializableTokenCache):
    """msal's token cache of one credential (``key``: its fingerprint), shared through Redis, encrypted at rest.

    Give it to the msal application (``token_cache=``) and wrap each token request in :meth:`shared` (which calls
    :meth:`prepare` before and :meth:`save` after: no Redis call when memory already holds a fresh token and nothing
    changed). ``store`` is the :class:`~connections.clients.shared_cache.SharedStore` (default: the module's).
    """

    def __init__(self, key: str, *, store: SharedStore | None = None) -> None:
        super().__init__()
        self.key = key
        self._store = store
        self._lock_held: Any = None
        self._in_use = threading.Lock()  # one token request of this credential at a time in this process

    @property
    def store(self) -> SharedStore:
        """The shared store (the module's, read at use so that tests can replace it)."""
        return self._store or _tokens

    @contextmanager
    def shared(self, scopes: list[str], *, wait: float = 30.0) -> Iterator[None]:
        """Around one msal token request for ``scopes``: :meth:`prepare` before, :meth:`save` after (also when the
        request raised), one thread of this process at a time."""
        with self._in_use:
            self.prepare(scopes, wait=wait)
            try:
                yield
            finally:
                self.save()

    def has_fresh_token(self, scopes: list[str], *, now: float | None = None) -> bool:
        """Whether memory holds an access token for ``scopes`` with more than :data:`TOKEN_MARGIN` seconds left."""
        now = time.time() if now is None else now
        return any(int(entry.get("expires_on") or 0) - now > TOKEN_MARGIN
                   for entry in self.search(self.CredentialType.ACCESS_TOKEN, target=scopes))

    def load(self) -> bool:
        """Replace the in-memory state with the shared one; False when Redis has none (or cannot be read, or it was
        encrypted with a key no longer configured)."""
        raw = self.store.get(self.key)
        if raw is None:
            return False
        try:
            state = decrypt(raw.decode())
        except (SecretUnreadable, UnicodeDecodeError):
            logger.warning("The shared token cache of a credential cannot be decrypted (PORTAL_ENCRYPTION_KEY "
                           "changed); it is replaced at the next sign-in")
            return False
        self.deserialize(state)
        return True

    def prepare(self, scopes: list[str], *, wait: float = 30.0) -> None:
        """Before msal looks for a token for ``scopes``: when memory has no fresh one, load the shared cache; when
        that has none either, take the credential's Redis lock (waiting at most ``wait`` seconds for another process
        that is signing in, then loading what it saved), so that one process signs in for all. :meth:`save` releases
        the lock."""
        if self.has_fresh_token(scopes):
            return
        if self.load() and self.has_fresh_token(scopes):
            return
        self._lock_held = self.store.acquire_lock(self.key, timeout=wait + 30, wait=wait)
        if self._lock_held is not None and self.load() and self.has_fresh_token(scopes):
            self._release()  # another process signed in while this one waited

    def save(self) -> None:
        """Write the cache to Redis when msal changed it (a new token, a removed one), then release the lock taken
        by :meth:`prepare`."""
        try:
            if self.has_state_changed:
                self.store.set(self.key, encrypt(self.serialize()).encode(), ttl=TOKEN_CACHE_TTL)
        finally:
            self._release()

    def forget(self) -> None:
        """Drop the shared copy (after a 401: the token was revoked or expired early)."""
        self.store.delete(self.key)

    def _release(self) -> None:
        lock, self._lock_held = self._lock_held, None
        if lock is not None:
            try:
                lock.release()
            except (redis.exceptions.RedisError, OSError):  # expired (LockNotOwnedError) or Redis gone meanwhile
                pass


class DiscoveryCachingSession(TimeoutSession):
    """msal's ``http_client``: a :class:`~connections.clients.transport.TimeoutSession` whose answers to the
    authority's OpenID configuration (``…/.well-known/openid-configuration``, HTTP 200) are kept in Redis for
    :data:`DISCOVERY_TTL` seconds and served from there, so a fresh process builds its msal application without a
    request. Other requests (tokens, user realm) pass unchanged; an error answer is never cached."""

    def request(self, method: str | bytes, url: str | bytes, *args: Any, **kwargs: Any) -> requests.Response:  # type: ignore[override]
        discovery = (method == "GET" and isinstance(url, str)
                     and url.split("?", 1)[0].endswith("/.well-known/openid-configuration"))
        if not discovery:
            return super().request(method, url, *args, **kwargs)
        assert isinstance(url, str)
        cached = _discovery.get(url)
        if cached is not None:
            response = requests.Response()
            response.status_code = 200
            response._content = cached
            response.headers["Content-Type"] = "application/json; charset=utf-8"
            response.url = url
            response.encoding = "utf-8"
            return response
        response = super().request(method, url, *args, **kwargs)
        if response.status_code == 200:
            _discovery.set(url, response.content, ttl=DISCOVERY_TTL)
        return response
