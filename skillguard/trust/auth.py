"""Ninja authentication for the docking API.

``SignedRequestAuth`` — every docking operation: verifies the RFC 9421 signature over the
raw request (``trust.signatures``), then sets ``request.auth`` and ``request.user`` to the
client's account, ``request.docking_client`` and ``request.verified`` (a
``VerifiedRequest``). A refusal raises ``SignatureError``: 401 with its precise code.

``EnrolmentAuth`` — only POST /keys: ``Authorization: Enrolment <code>``; the signature
(made with the new key) is parsed here and checked by ``services.enrol_first_key``.
"""
from __future__ import annotations

from ninja.security.base import AuthBase

from skillguard.trust.signatures import SignatureError, inspect_request, verify_request


def _query(request) -> str:
    return request.META.get("QUERY_STRING", "")


class SignedRequestAuth(AuthBase):
    openapi_type = "apiKey"
    openapi_in = "header"
    openapi_name = "Signature"
    openapi_description = ("RFC 9421 HTTP Message Signature: Content-Digest, "
                           "Signature-Input (label sg) and Signature headers. "
                           "HTTP 消息签名。")

    def __call__(self, request):
        verified = verify_request(request.method, request.path, _query(request),
                                  request.headers, request.body)
        client = verified.client
        request.docking_client = client
        request.verified = verified
        request.user = client.user
        return client.user


class EnrolmentAuth(AuthBase):
    openapi_type = "apiKey"
    openapi_in = "header"
    openapi_name = "Authorization"
    openapi_description = ("First key only: 'Enrolment <code>' (注册码), the request signed "
                           "with the new key, keyid=\"sha256:<fingerprint>\".")

    def __call__(self, request):
        from skillguard.trust.services import usable_enrolment_code

        header = request.headers.get("Authorization", "")
        scheme, _, code = header.partition(" ")
        if scheme.lower() != "enrolment":
            return None  # not an enrolment: the signed-request auth decides
        record = usable_enrolment_code(code)
        if record is None:
            raise SignatureError("enrolment_code_invalid")
        parts = inspect_request(request.method, request.path, _query(request),
                                request.headers, request.body)
        request.enrolment = (code.strip(), parts)
        request.docking_client = record.client
        request.verified = None
        request.user = record.client.user
        return record.client.user


def install_signature_errors(api) -> None:
    """401 with the precise code for every refused signature."""
    def refused(request, exc: SignatureError):
        return api.create_response(request, {"errors": exc.as_list()}, status=exc.status)

    api.add_exception_handler(SignatureError, refused)
