"""The signature scheme: canonical form (property tests), parsing, and every refusal."""
from __future__ import annotations

import time

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from skillguard.trust import client as ref
from skillguard.trust.signatures import (
    SignatureError,
    check_signature,
    inspect_request,
    parse_dictionary,
)

ED_KEY, ED_PEM = ref.generate_key("ed25519")
EC_KEY, EC_PEM = ref.generate_key("ecdsa-p256-sha256")
KEYS = {"ed25519": (ED_KEY, ED_PEM), "ecdsa-p256-sha256": (EC_KEY, EC_PEM)}

methods = st.sampled_from(["GET", "POST", "PUT", "PATCH", "DELETE"])
segment = st.text(st.characters(codec="utf-8", exclude_characters="/?#\x00"), min_size=1,
                  max_size=12)
paths = st.lists(segment, min_size=1, max_size=4).map(lambda s: "/" + "/".join(s))
queries = st.text(st.characters(min_codepoint=0x21, max_codepoint=0x7e,
                                exclude_characters="#"), max_size=40)
bodies = st.binary(max_size=300)
content_types = st.sampled_from(["application/json", "text/csv; charset=utf-8",
                                 "application/x-ndjson", ""])
algs = st.sampled_from(sorted(KEYS))


def _sign(method, path, query, body, content_type, alg, **kw):
    key, _pem = KEYS[alg]
    return ref.sign_request(method, path, query, body, content_type, "k_test", key, alg, **kw)


def _check(method, path, query, headers, body, alg):
    parts = inspect_request(method, path, query, headers, body)
    check_signature(parts, KEYS[alg][1], alg)
    return parts


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(methods, paths, queries, bodies, content_types, algs)
def test_sign_then_verify_succeeds(method, path, query, body, content_type, alg):
    headers = _sign(method, path, query, body, content_type, alg)
    parts = _check(method, path, query, headers, body, alg)
    assert parts.key_id == "k_test" and parts.alg == alg
    # header names are case-insensitive
    _check(method, path, query, {k.upper(): v for k, v in headers.items()}, body, alg)


@settings(max_examples=60, deadline=None)
@given(methods, paths, queries, bodies, content_types, algs, st.data())
def test_any_change_of_a_covered_component_fails(method, path, query, body, content_type,
                                                 alg, data):
    headers = _sign(method, path, query, body, content_type, alg)
    what = data.draw(st.sampled_from(["method", "path", "query", "content_type", "body"]))
    if what == "method":
        other = data.draw(methods.filter(lambda m: m != method))
        args = (other, path, query, headers, body)
    elif what == "path":
        other = data.draw(paths.filter(lambda p: ref.canonical_path(p)
                                       != ref.canonical_path(path)))
        args = (method, other, query, headers, body)
    elif what == "query":
        other = data.draw(queries.filter(lambda q: q.lstrip("?") != query.lstrip("?")))
        args = (method, path, other, headers, body)
    elif what == "content_type":
        other = data.draw(content_types.filter(lambda c: c != content_type))
        headers = {**headers, "Content-Type": other}
        args = (method, path, query, headers, body)
    else:
        other = data.draw(bodies.filter(lambda b: b != body))
        args = (method, path, query, headers, other)
    with pytest.raises(SignatureError) as exc:
        _check(*args, alg)
    assert exc.value.code == ("bad_digest" if what == "body" else "bad_signature")


@settings(max_examples=40, deadline=None)
@given(bodies, bodies.filter(bool))
def test_body_changed_with_a_matching_digest_fails_the_signature(body, other):
    headers = _sign("POST", "/x", "", body, "application/json", "ed25519")
    if other == body:
        return
    forged = {**headers, "Content-Digest": ref.content_digest(other)}
    with pytest.raises(SignatureError) as exc:
        _check("POST", "/x", "", forged, other, "ed25519")
    assert exc.value.code == "bad_signature"


printable = st.text(st.characters(min_codepoint=0x20, max_codepoint=0x7e), max_size=30)


@settings(max_examples=80, deadline=None)
@given(st.lists(st.sampled_from(["@method", "@path", "@query", "content-digest",
                                 "content-type", "x-a", "date"]), unique=True),
       st.lists(st.tuples(st.sampled_from(["created", "nonce", "keyid", "alg", "tag"]),
                          st.one_of(st.integers(-10**12, 10**12), printable)),
                unique_by=lambda p: p[0]))
def test_signature_input_round_trips(components, params):
    serialized = ref.serialize_params(components, params)
    parsed = parse_dictionary(f"sg={serialized}")
    assert parsed["sg"] == (components, params)
    assert ref.serialize_params(*parsed["sg"]) == serialized


def test_signature_base_is_exactly_rfc_9421_shape():
    headers = ref.sign_request("POST", "/api/docking/v1/keys", "", b'{"hello": "world"}',
                               "application/json", "k_ABCDEFGHIJKLMNOP", ED_KEY, "ed25519",
                               created=1767225600, nonce="n0nce-0001")
    assert headers["Content-Digest"] == \
        "sha-256=:X48E9qOokqqrvdts8nOJRJN3OWDUoyWxBf7kbu9DBPE=:"
    assert headers["Signature-Input"] == (
        'sg=("@method" "@path" "@query" "content-digest" "content-type");created=1767225600;'
        'nonce="n0nce-0001";keyid="k_ABCDEFGHIJKLMNOP";alg="ed25519"')
    parts = inspect_request("POST", "/api/docking/v1/keys", "", headers,
                            b'{"hello": "world"}', now=1767225600)
    assert parts.base.decode() == (
        '"@method": POST\n"@path": /api/docking/v1/keys\n"@query": ?\n'
        '"content-digest": sha-256=:X48E9qOokqqrvdts8nOJRJN3OWDUoyWxBf7kbu9DBPE=:\n'
        '"content-type": application/json\n'
        '"@signature-params": ("@method" "@path" "@query" "content-digest" "content-type")'
        ';created=1767225600;nonce="n0nce-0001";keyid="k_ABCDEFGHIJKLMNOP";alg="ed25519"')


def test_ecdsa_signature_is_raw_r_s():
    headers = _sign("GET", "/x", "", b"", "", "ecdsa-p256-sha256")
    parts = inspect_request("GET", "/x", "", headers, b"")
    assert len(parts.signature) == 64


def _code(headers, *, method="POST", path="/x", query="", body=b"{}", now=None):
    with pytest.raises(SignatureError) as exc:
        inspect_request(method, path, query, headers, body, now=now)
    return exc.value.code


def test_refusals_before_the_key_is_looked_up():
    good = _sign("POST", "/x", "", b"{}", "application/json", "ed25519")
    assert _code({}) == "missing_signature"
    assert _code({"Signature": good["Signature"]}) == "missing_signature"
    assert _code({**good, "Signature-Input": "sg=(\"@method\""}) == "malformed_signature"
    assert _code({**good, "Signature": "sg=:not base64!:"}) == "malformed_signature"
    assert _code({**good, "Signature-Input": good["Signature-Input"].replace("sg=", "xx=")}) \
        == "missing_signature"
    uncovered = good["Signature-Input"].replace(' "content-type"', "")
    assert _code({**good, "Signature-Input": uncovered}) == "uncovered_component"
    no_nonce = good["Signature-Input"].split(";nonce=")[0] + ';keyid="k";alg="ed25519"'
    assert _code({**good, "Signature-Input": no_nonce}) == "malformed_signature"
    assert _code({**good, "Signature-Input": good["Signature-Input"].replace(
        'alg="ed25519"', 'alg="rsa-v1_5-sha1"')}) == "unsupported_algorithm"
    assert _code({k: v for k, v in good.items() if k != "Content-Digest"}) == "bad_digest"
    assert _code(good, body=b"{ }") == "bad_digest"


def test_sm2_is_refused_without_gmssl():
    try:
        import gmssl  # noqa: F401
    except ImportError:
        headers = _sign("GET", "/x", "", b"", "", "ed25519")
        forged = {**headers, "Signature-Input": headers["Signature-Input"].replace(
            'alg="ed25519"', 'alg="sm2-sm3"')}
        assert _code(forged, method="GET", body=b"") == "unsupported_algorithm"
        assert "sm2-sm3" not in ref.SCHEMES


@pytest.mark.parametrize("offset", [-301, 301])
def test_clock_skew_beyond_300_seconds_is_stale(offset):
    now = time.time()
    headers = _sign("POST", "/x", "", b"{}", "application/json", "ed25519",
                    created=int(now) + offset)
    assert _code(headers, now=int(now)) == "stale_timestamp"
    within = _sign("POST", "/x", "", b"{}", "application/json", "ed25519",
                   created=int(now) + (299 if offset > 0 else -299))
    inspect_request("POST", "/x", "", within, b"{}", now=int(now))


def test_response_signature_round_trip(db, settings, tmp_path):
    from skillguard.trust import services

    settings.DATA_DIR = tmp_path
    body = b'{"entries":[]}'
    headers = services.sign_response(body)
    _private, record = services.server_key()
    assert f'keyid="{record.key_id}"' in headers["Signature-Input"]
    full = {**headers, "Content-Type": "application/json"}
    assert ref.verify_response(200, full, body, record.public_key_pem)
    assert not ref.verify_response(200, full, body + b" ", record.public_key_pem)
    assert not ref.verify_response(201, full, body, record.public_key_pem)
    assert (tmp_path / "keys" / "server-ed25519.pem").exists()
