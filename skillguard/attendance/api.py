"""HTTP API of attendance (thin router over queries and services)."""
from ninja import Router

router = Router(tags=["attendance"])
