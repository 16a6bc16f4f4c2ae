"""The error hierarchy's mapping rules (Microsoft Learn: "Compose HTTP requests and handle errors", "Web service
error codes", "Service protection API limits", "Troubleshooting REST API/OData calls", "Microsoft Entra authentication
and authorization error codes") and its plumbing."""
from __future__ import annotations

import pickle

import pytest

from connections.clients import errors
from connections.clients.errors import (
    AccessDeniedError,
    AuthenticationError,
    DuplicateKeyError,
    NotFoundError,
    PermanentError,
    PreconditionFailedError,
    ThrottledError,
    TransientError,
    entra_error,
    error_for_status,
    parse_retry_after,
)


@pytest.mark.parametrize(("service", "status", "code", "expected"), [
    ("dataverse", 429, "0x80072322", ThrottledError),
    ("dataverse", 503, "", TransientError),
    ("dataverse", 500, "0x80044151", TransientError),  # SQL timeout
    ("dataverse", 401, "", AuthenticationError),
    ("dataverse", 403, "0x80040220", AccessDeniedError),
    ("dataverse", 404, "0x80040217", NotFoundError),
    ("dataverse", 412, "0x80060882", PreconditionFailedError),
    ("dataverse", 412, "0x80040237", DuplicateKeyError),
    ("dataverse", 412, "0x80060892", DuplicateKeyError),
    ("dataverse", 400, "0x80040203", PermanentError),
    ("businesscentral", 409, "Request_EntityChanged", PreconditionFailedError),
    ("businesscentral", 400, "Internal_EntityWithSameKeyExists", DuplicateKeyError),
    ("businesscentral", 408, "", TransientError),
    ("businesscentral", 404, "BadRequest_ResourceNotFound", NotFoundError),
    # "or" across two fields in $filter: BC answers 501 Not Implemented, which no retry can cure (RFC 9110)
    ("businesscentral", 501, "BadRequest_MethodNotImplemented", PermanentError),
    ("dataverse", 501, "", PermanentError),
])
def test_status_and_code_mapping(service, status, code, expected):
    error = error_for_status(service=service, status=status, code=code, message="text")
    assert type(error) is expected
    assert error.transient is issubclass(expected, TransientError)
    assert (error.service, error.status, error.code, error.message) == (service, status, code, "text")


def test_entra_error_carries_the_aadsts_code_and_fix():
    error = entra_error({"error": "invalid_client", "error_codes": [7000215],
                         "error_description": "AADSTS7000215: Invalid client secret provided.\r\nTrace ID: x"})
    assert isinstance(error, AuthenticationError)
    assert (error.service, error.code, error.layer) == ("entra", "AADSTS7000215", "auth")
    assert error.message == "AADSTS7000215: Invalid client secret provided."
    assert "client secret" in error.fix


def test_retry_after_seconds_and_http_date():
    assert parse_retry_after("7") == 7.0
    assert parse_retry_after(None) is None
    assert parse_retry_after("soon") is None
    assert parse_retry_after("Wed, 21 Oct 2015 07:28:00 GMT") == 0.0  # in the past: no wait


def test_errors_survive_pickling_for_rq():
    error = errors.ThrottledError("slow down", service="dataverse", status=429, code="0x80072322", retry_after=3.0)
    copy = pickle.loads(pickle.dumps(error))
    assert type(copy) is errors.ThrottledError
    assert (copy.code, copy.retry_after, str(copy)) == ("0x80072322", 3.0, str(error))
