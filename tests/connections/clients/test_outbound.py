"""The outbound URL check: schemes, credentials in URLs, private addresses and the allow-list."""
from __future__ import annotations

import uuid

import pytest

from connections.clients import BusinessCentralClient, DataverseClient, TokenProvider
from connections.clients.errors import OutboundURLRejected
from connections.clients.outbound import check_outbound_url, same_origin
from connections.clients.transport import Transport


@pytest.fixture
def no_allowed_hosts(settings):
    settings.OUTBOUND_ALLOWED_HOSTS = []
    return settings


@pytest.mark.parametrize("url", ["ftp://example.com/x", "file:///etc/passwd", "gopher://example.com", "example.com"])
def test_only_https(url):
    with pytest.raises(OutboundURLRejected) as caught:
        check_outbound_url(url)
    assert "only https is allowed" in caught.value.message
    assert "https://" in caught.value.fix


def test_credentials_in_url_rejected_without_echoing_them():
    with pytest.raises(OutboundURLRejected) as caught:
        check_outbound_url("https://admin:s3cret-pass@contoso.crm.dynamics.com/")
    assert "user name or password" in caught.value.message
    assert "s3cret-pass" not in str(caught.value)
    assert "credential fields" in caught.value.fix


@pytest.mark.parametrize(("url", "kind"), [
    ("https://127.0.0.1:8443/", "loopback"),
    ("https://[::1]/", "loopback"),
    ("https://localhost/", "loopback"),
    ("https://10.1.2.3/", "private"),
    ("https://192.168.0.10/api", "private"),
    ("https://169.254.169.254/latest/meta-data", "link-local"),
    ("https://0.0.0.0/", "unspecified"),
])
def test_private_addresses_rejected(no_allowed_hosts, url, kind):
    with pytest.raises(OutboundURLRejected) as caught:
        check_outbound_url(url)
    assert f"the {kind} address" in caught.value.message
    assert "OUTBOUND_ALLOWED_HOSTS" in caught.value.fix


def test_allowed_host_passes(settings):
    settings.OUTBOUND_ALLOWED_HOSTS = ["127.0.0.1:8443", "LocalHost:8443"]
    check_outbound_url("https://127.0.0.1:8443/api/data/v9.2/")
    check_outbound_url("https://localhost:8443/")
    with pytest.raises(OutboundURLRejected):
        check_outbound_url("https://10.0.0.1/")


def test_public_address_and_unresolvable_host_pass(no_allowed_hosts):
    check_outbound_url("https://8.8.8.8/")
    # A name that does not resolve is left to the request, which reports the "dns" layer.
    check_outbound_url("https://nonexistent.invalid/")


def test_invalid_url_rejected():
    with pytest.raises(OutboundURLRejected) as caught:
        check_outbound_url("https://example.com:99999999/")
    assert "is not valid" in caught.value.message


def test_client_checks_before_its_first_request(no_allowed_hosts):
    client = BusinessCentralClient("https://10.20.30.40/v2.0/t/production/api/v2.0", uuid.uuid4(),
                                   basic=("user", "key"), max_concurrency=0)
    with pytest.raises(OutboundURLRejected) as caught:
        client.companies()
    assert "private address 10.20.30.40" in caught.value.message
    assert client.requests_sent == 0


def test_links_to_another_host_are_not_followed():
    transport = Transport(service="dataverse", base_url="https://127.0.0.1:8443")
    with pytest.raises(OutboundURLRejected) as caught:
        transport.request("GET", "https://attacker.example/steal?$skiptoken=1")
    assert "another host (attacker.example)" in caught.value.message
    assert transport.requests_sent == 0


def test_same_origin_normalises_default_ports():
    assert same_origin("https://Example.com:443/a?b", "https://example.com/")
    assert not same_origin("http://example.com/", "https://example.com/")
    assert not same_origin("https://example.com:8443/", "https://example.com/")


def test_token_provider_checks_the_authority(no_allowed_hosts):
    provider = TokenProvider(authority="https://169.254.169.254/tenant", client_id="app", client_secret="secret")
    with pytest.raises(OutboundURLRejected) as caught:
        provider.token("https://contoso.crm.dynamics.com/.default")
    assert "link-local address 169.254.169.254" in caught.value.message


def test_dataverse_client_checks_its_environment_url(no_allowed_hosts):
    provider = TokenProvider(authority="https://login.microsoftonline.com/tenant", client_id="app",
                             client_secret="secret")
    client = DataverseClient("https://192.168.1.20", provider, max_concurrency=0)
    with pytest.raises(OutboundURLRejected) as caught:
        client.who_am_i()
    assert "private address 192.168.1.20" in caught.value.message
    assert client.requests_sent == 0
