"""HTTP API of subsidies (thin router over queries and services)."""
from ninja import Router

router = Router(tags=["subsidies"])
