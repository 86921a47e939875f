"""HTTP API of cameras (thin router over queries and services)."""
from ninja import Router

router = Router(tags=["cameras"])
