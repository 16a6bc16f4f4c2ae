"""URL normalisation and the legacy connection string (BC: codeunit 5330 CRM Integration Management,
CheckModifyCRMConnectionURL; table 5330 CRM Connection Setup, field 138 Server Connection String)."""
from __future__ import annotations

import pytest
from django.core.exceptions import ValidationError

from connections.environment import (
    connection_string_build,
    connection_string_parse,
    normalise_environment_url,
)


def test_scheme_and_host_kept_and_https_added() -> None:
    assert normalise_environment_url("  contoso.crm4.dynamics.com ").url == "https://contoso.crm4.dynamics.com"
    assert normalise_environment_url("https://Contoso.CRM4.dynamics.com/").url == "https://contoso.crm4.dynamics.com"
    assert normalise_environment_url("https://127.0.0.1:8443").url == "https://127.0.0.1:8443"


def test_path_is_dropped_only_with_agreement() -> None:
    with pytest.raises(ValidationError) as refused:
        normalise_environment_url("https://contoso.crm4.dynamics.com/main.aspx?appid=1")
    assert refused.value.code == "path"
    assert "https://contoso.crm4.dynamics.com" in refused.value.messages[0]
    agreed = normalise_environment_url("https://contoso.crm4.dynamics.com/main.aspx?appid=1", allow_drop_path=True)
    assert agreed.url == "https://contoso.crm4.dynamics.com"
    assert agreed.dropped_path == "/main.aspx?appid=1"


@pytest.mark.parametrize(("url", "code"), [
    ("http://contoso.crm.dynamics.com", "scheme"),
    ("ftp://contoso.crm.dynamics.com", "scheme"),
    ("https://user:secret@contoso.crm.dynamics.com", "credentials"),
    ("", "invalid"),
    ("https://", "invalid"),
])
def test_bad_urls_are_refused_with_the_reason(url: str, code: str) -> None:
    with pytest.raises(ValidationError) as refused:
        normalise_environment_url(url)
    assert refused.value.code == code
    assert "secret" not in refused.value.messages[0]


def test_oauth_connection_string_round_trip_keeps_the_password_as_placeholder() -> None:
    text = connection_string_build(authentication_type="OAuth", url="https://contoso.crm.dynamics.com",
                                   client_id="51f81489-12ee-4a9e-aaae-a2591f45987d", username="int@contoso.com")
    assert text.startswith("AuthType=OAuth;Username=int@contoso.com;Password={PASSWORD};"
                           "Url=https://contoso.crm.dynamics.com;AppId=51f81489-12ee-4a9e-aaae-a2591f45987d;"
                           "RedirectUri=app://51F81489-12EE-4A9E-AAAE-A2591F45987D;TokenCacheStorePath=;LoginPrompt=Auto")
    parts = connection_string_parse(text)
    assert (parts.authentication_type, parts.username, parts.password, parts.client_id) == (
        "OAuth", "int@contoso.com", "", "51f81489-12ee-4a9e-aaae-a2591f45987d")


def test_parse_moves_a_real_password_out_of_the_string() -> None:
    parts = connection_string_parse(
        "authtype=OAuth; Username=u@contoso.com; Password=S3cr3t!; Url=https://contoso.crm.dynamics.com; "
        "AppId=abc; RedirectUri=app://ABC; TokenCacheStorePath=; LoginPrompt=Auto")
    assert parts.password == "S3cr3t!"
    assert parts.redirect_uri == "app://ABC"


def test_client_secret_and_certificate_strings_hold_placeholders() -> None:
    secret = connection_string_build(authentication_type="ClientSecret", url="https://x.crm.dynamics.com",
                                     client_id="id")
    assert "ClientSecret={CLIENTSECRET}" in secret
    assert connection_string_parse(secret).client_secret == ""
    certificate = connection_string_build(authentication_type="Certificate", url="https://x.crm.dynamics.com",
                                          client_id="id", certificate_thumbprint="AB12")
    assert "Certificate={CERTIFICATE}" in certificate and "Thumbprint=AB12" in certificate


@pytest.mark.parametrize(("text", "needle"), [
    ("Url=https://x.crm.dynamics.com", "AuthType"),
    ("AuthType=OAuth;Username=u", "Url="),
    ("AuthType=OAuth;garbage", "Key=Value"),
])
def test_parse_names_what_is_missing(text: str, needle: str) -> None:
    with pytest.raises(ValidationError) as refused:
        connection_string_parse(text)
    assert needle in refused.value.messages[0]


@pytest.mark.parametrize(("typed", "expected"), [("9.2", "9.2"), ("v9.1", "9.1"), (" 9.0 ", "9.0")])
def test_web_api_version_accepts_versions(typed: str, expected: str) -> None:
    from connections.forms import clean_web_api_version

    assert clean_web_api_version(typed) == expected


@pytest.mark.parametrize("typed", ["9", "latest", "9.x", ""])
def test_web_api_version_refuses_other_text(typed: str) -> None:
    from connections.forms import clean_web_api_version

    with pytest.raises(ValidationError, match="such as 9.2"):
        clean_web_api_version(typed)
