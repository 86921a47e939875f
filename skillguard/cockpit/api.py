"""HTTP API of cockpit (thin router over queries and services)."""
from ninja import Router

router = Router(tags=["cockpit"])
