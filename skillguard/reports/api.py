"""HTTP API of reports (thin router over queries and services)."""
from ninja import Router

router = Router(tags=["reports"])
