"""HTTP API of video (recording): thin router over queries and services."""
from ninja import Router

router = Router(tags=["video"])
