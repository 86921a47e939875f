"""HTTP API of cases (thin router over queries and services)."""
from ninja import Router

router = Router(tags=["cases"])
