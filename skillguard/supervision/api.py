"""HTTP API of supervision (thin router over queries and services)."""
from ninja import Router

router = Router(tags=["supervision"])
