"""Stream keys: the secret a camera presents when it pushes its stream.

Only a keyed hash of the key is stored (``core.crypto.lookup_hash``); the key itself is
returned once, when issued, for the installer to configure on the device. The media
server's publish callback asks ``camera_for_stream`` whether a push may go on.
"""
from __future__ import annotations

import hmac
import secrets

from django.utils import timezone

from skillguard.cameras.models import Camera, CameraState
from skillguard.core.crypto import lookup_hash

# Reason codes of a refused push (MediaEvent.reason); messages in video.
UNKNOWN_STREAM = "unknown_stream"
BAD_KEY = "bad_key"
KEY_REVOKED = "key_revoked"
NOT_IN_SERVICE = "not_in_service"


def hash_stream_key(key: str) -> str:
    return lookup_hash("stream-key:" + key.strip())


def issue_stream_key(camera: Camera) -> str:
    """Give the camera a new key (the old one stops working at once); returns it once."""
    key = secrets.token_urlsafe(24)
    camera.stream_key_hash = hash_stream_key(key)
    camera.stream_key_hint = key[-4:]
    camera.stream_key_issued_at = timezone.now()
    camera.stream_key_revoked_at = None
    camera.save(update_fields=["stream_key_hash", "stream_key_hint", "stream_key_issued_at",
                               "stream_key_revoked_at", "updated_at"])
    return key


def camera_for_stream(stream_name: str, key: str) -> tuple[Camera | None, str]:
    """The camera that may push ``stream_name`` with ``key``, or (camera or None, reason)."""
    camera = (Camera.objects.select_related("room", "venue", "institution")
              .filter(stream_name=stream_name).first())
    if camera is None:
        return None, UNKNOWN_STREAM
    if not camera.stream_key_hash or not hmac.compare_digest(camera.stream_key_hash,
                                                             hash_stream_key(key or "")):
        return camera, BAD_KEY
    if camera.stream_key_revoked_at is not None:
        return camera, KEY_REVOKED
    if camera.state != CameraState.IN_SERVICE:
        return camera, NOT_IN_SERVICE
    return camera, ""
