"""HTTP API of video (ingest): thin router over queries and services."""
from ninja import Router

router = Router(tags=["video"])
