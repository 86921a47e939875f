"""HTTP API of video (view): thin router over queries and services."""
from ninja import Router

router = Router(tags=["video"])
