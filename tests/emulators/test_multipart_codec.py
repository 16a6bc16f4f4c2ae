"""The ``$batch`` multipart codec (base.multipart) the emulator and the portal's Dataverse client share: layouts of
the examples of Microsoft Learn "Execute batch operations using the Web API", and lenient reading."""

from __future__ import annotations

import pytest

from base import multipart as mp


def test_request_body_layout_and_round_trip() -> None:
    body = mp.encode_requests("batch_A", [
        mp.ChangeSet("changeset_B", [
            mp.RequestPart("post", "/api/data/v9.2/accounts", {"Content-Type": "application/json; type=entry"},
                           b'{"name":"A"}', "1"),
            mp.RequestPart("PATCH", "$1", {"Content-Type": "application/json; type=entry"}, b'{"x":1}', "2"),
        ]),
        mp.RequestPart("GET", "/api/data/v9.2/accounts?$top=1", {"Accept": "application/json"}),
    ])
    assert body == (
        b"--batch_A\r\nContent-Type: multipart/mixed; boundary=changeset_B\r\n\r\n"
        b"--changeset_B\r\nContent-Type: application/http\r\nContent-Transfer-Encoding: binary\r\nContent-ID: 1\r\n\r\n"
        b"POST /api/data/v9.2/accounts HTTP/1.1\r\nContent-Type: application/json; type=entry\r\n\r\n"
        b'{"name":"A"}\r\n'
        b"--changeset_B\r\nContent-Type: application/http\r\nContent-Transfer-Encoding: binary\r\nContent-ID: 2\r\n\r\n"
        b'PATCH $1 HTTP/1.1\r\nContent-Type: application/json; type=entry\r\n\r\n{"x":1}\r\n'
        b"--changeset_B--\r\n\r\n"
        b"--batch_A\r\nContent-Type: application/http\r\nContent-Transfer-Encoding: binary\r\n\r\n"
        b"GET /api/data/v9.2/accounts?$top=1 HTTP/1.1\r\nAccept: application/json\r\n\r\n\r\n"
        b"--batch_A--\r\n")
    items = mp.read_requests(body, "batch_A")
    assert isinstance(items[0], mp.ChangeSet) and items[0].boundary == "changeset_B"
    first, second = items[0].parts
    assert (first.method, first.url, first.content_id, first.body) == ("POST", "/api/data/v9.2/accounts", "1",
                                                                       b'{"name":"A"}')
    assert first.headers == {"content-type": "application/json; type=entry"}
    assert (second.method, second.url, second.body) == ("PATCH", "$1", b'{"x":1}')
    get = items[1]
    assert isinstance(get, mp.RequestPart)
    assert (get.method, get.url, get.headers, get.body, get.content_id) == (
        "GET", "/api/data/v9.2/accounts?$top=1", {"accept": "application/json"}, b"", None)


def test_response_body_layout_and_round_trip() -> None:
    body = mp.encode_responses("batchresponse_R", [
        mp.ChangeSet("changesetresponse_C", [mp.ResponsePart(204, {"OData-Version": "4.0"}, b"", "1")]),
        mp.ResponsePart(200, {"Content-Type": "application/json"}, b'{"value":[]}'),
        mp.ResponsePart(599, {}, b""),
    ])
    assert body == (
        b"--batchresponse_R\r\nContent-Type: multipart/mixed; boundary=changesetresponse_C\r\n\r\n"
        b"--changesetresponse_C\r\nContent-Type: application/http\r\nContent-Transfer-Encoding: binary\r\n"
        b"Content-ID: 1\r\n\r\nHTTP/1.1 204 No Content\r\nOData-Version: 4.0\r\n\r\n\r\n"
        b"--changesetresponse_C--\r\n"
        b"--batchresponse_R\r\nContent-Type: application/http\r\nContent-Transfer-Encoding: binary\r\n\r\n"
        b'HTTP/1.1 200 OK\r\nContent-Type: application/json\r\n\r\n{"value":[]}\r\n'
        b"--batchresponse_R\r\nContent-Type: application/http\r\nContent-Transfer-Encoding: binary\r\n\r\n"
        b"HTTP/1.1 599 \r\n\r\n\r\n"
        b"--batchresponse_R--\r\n")
    answers = mp.read_responses(body, mp.boundary_of('multipart/mixed; boundary="batchresponse_R"') or "")
    assert [(a.status, a.content_id, a.body) for a in answers] == [(204, "1", b""), (200, None, b'{"value":[]}'),
                                                                   (599, None, b"")]
    assert answers[0].headers == {"odata-version": "4.0"}


def test_lenient_reading() -> None:
    """LF line ends, a part without headers, a request without an empty line after its headers."""
    body = (b"preamble\n--b\nContent-Type: application/http\n\nGET /x HTTP/1.1\nAccept: a\n"
            b"--b\n\nDELETE /y HTTP/1.1\n\n\n--b--\nepilogue")
    items = mp.read_requests(body, "b")
    assert [(i.method, i.url, i.headers) for i in items if isinstance(i, mp.RequestPart)] == [
        ("GET", "/x", {"accept": "a"}), ("DELETE", "/y", {})]
    assert mp.boundary_of("multipart/mixed;Boundary=abc") == "abc" and mp.boundary_of("application/json") is None
    assert mp.is_multipart("Multipart/Mixed; boundary=x") and not mp.is_multipart("application/http")


@pytest.mark.parametrize(("body", "message"), [
    (b"--b\r\nContent-Type: multipart/mixed\r\n\r\n--c--\r\n--b--\r\n", "A change set part has no boundary."),
    (b"--b\r\nContent-Type: multipart/mixed; boundary=c\r\n\r\n--c\r\nContent-Type: multipart/mixed; boundary=d\r\n"
     b"\r\n--d--\r\n--c--\r\n--b--\r\n", "Change sets cannot be nested."),
    (b"--b\r\nContent-Type: application/http\r\n\r\n\r\n--b--\r\n", "Empty request in batch."),
    (b"--b\r\nContent-Type: application/http\r\n\r\nGET\r\n--b--\r\n", "Malformed request line in batch: 'GET'."),
])
def test_unreadable_requests(body: bytes, message: str) -> None:
    with pytest.raises(mp.MultipartError, match=message.replace(".", r"\.")):
        mp.read_requests(body, "b")
