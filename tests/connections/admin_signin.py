"""Helpers of the tests that need the Dataverse administrator's sign-in: sign in on the Entra emulator's page (the
authorization code flow), approve a device code on its verification page, and run ``setup_connection
--import-solution`` with its device code approved, in-process or as a subprocess."""
from __future__ import annotations

import io
import re
import subprocess
from typing import Any
from urllib.parse import parse_qs, urlsplit

from emulators.testing import EmulatorSession

#: The portal's host as the emulator's app registration knows it (loopback redirect URIs match on any port).
HOST = "localhost"


def emulator_sign_in(info: dict[str, Any], auth_uri: str, *, login: str | None = None, password: str | None = None,
                     consent: str = "accept") -> str:
    """Sign in on the Entra emulator's page at ``auth_uri`` as the seeded administrator (by default) and return the
    URL Entra redirects the browser back to."""
    http = EmulatorSession.for_info(info)
    page = http.get(auth_uri, timeout=30)
    assert page.status_code == 200 and 'id="accept"' in page.text, page.text
    answer = http.post(auth_uri, allow_redirects=False, timeout=30, data={
        "login": info["admin_user"] if login is None else login,
        "passwd": info["admin_password"] if password is None else password, "consent": consent})
    assert answer.status_code == 302, answer.text
    return answer.headers["Location"]


def approve_device_code(info: dict[str, Any], message: str, *, consent: str = "accept") -> str:
    """Enter the user code of a device flow ``message`` on the emulator's verification page and approve it as the
    seeded administrator; returns the final page's text."""
    found = re.search(r"open the page (\S+) and enter the code (\w+)", message)
    assert found, message
    uri, code = found.groups()
    http = EmulatorSession.for_info(info)
    assert 'id="otc"' in http.get(uri, timeout=30).text
    assert 'id="accept"' in http.post(uri, data={"otc": code}, timeout=30).text
    done = http.post(uri, timeout=30, data={"otc": code, "login": info["admin_user"],
                                            "passwd": info["admin_password"], "consent": consent})
    assert done.status_code == 200, done.text
    return done.text


def admin_tokens_for(info: dict[str, Any]) -> Any:
    """The seeded administrator's token source as the browser's sign-in gives it (authorization code flow with PKCE
    against the emulator, through the service the callback uses), for tests that run Finish or the import
    directly."""
    from connections.clients.entra import InteractiveSignIn

    sign_in = InteractiveSignIn(authority=info["entra_authority"], client_id=info["client_id"],
                                client_secret=info["client_secret"])
    scope = info["dataverse_url"] + "/user_impersonation"
    flow = sign_in.start_auth_code_flow(scope=scope, redirect_uri=f"http://{HOST}/connections/admin-sign-in/callback/")
    answer = urlsplit(emulator_sign_in(info, flow["auth_uri"]))
    response = {k: v[-1] for k, v in parse_qs(answer.query).items()}
    return sign_in.finish_auth_code_flow(flow=flow, response=response, scope=scope)


class ApprovingStream(io.StringIO):
    """A stderr for ``call_command("setup_connection", "--import-solution", …)`` that approves the device code the
    command prints, on the emulator's verification page as the seeded administrator, before the command polls."""

    def __init__(self, info: dict[str, Any]) -> None:
        super().__init__()
        self.info = info

    def write(self, text: str) -> int:
        written = super().write(text)
        if "enter the code" in text:
            approve_device_code(self.info, text)
        return written


def run_approving(command: list[str], info: dict[str, Any], *, timeout: float = 600,
                  **popen: Any) -> subprocess.CompletedProcess[str]:
    """``subprocess.run(command)`` of a ``manage.py setup_connection --import-solution``, approving the device code
    it prints on stderr (as :class:`ApprovingStream` does in-process)."""
    process = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, **popen)
    seen: list[str] = []
    assert process.stderr is not None
    for line in process.stderr:
        seen.append(line)
        if "enter the code" in line:
            approve_device_code(info, line)
            break
    out, err = process.communicate(timeout=timeout)
    return subprocess.CompletedProcess(command, process.returncode, out, "".join(seen) + err)


def callback_after_sign_in(client: Any, finish: Any, info: dict[str, Any], *, consent: str = "accept") -> Any:
    """Follow a "Sign in with Microsoft" redirect (``finish``: the response of the request that started it, made
    with ``HTTP_HOST=HOST``): sign in on the emulator as the administrator and call the portal's callback with the
    test ``client``; returns the callback's response."""
    assert finish.status_code == 302 and finish["Location"].startswith(info["entra_authority"]), finish
    back = urlsplit(emulator_sign_in(info, finish["Location"], consent=consent))
    return client.get(f"{back.path}?{back.query}", HTTP_HOST=HOST)
