"""Background jobs of the registry (Procrastinate; the worker runs
``manage.py procrastinate worker``)."""
from __future__ import annotations

from procrastinate.contrib.django import app


@app.task(name="registry.process_import_batch")
def process_import_batch(batch_id: int) -> None:
    """Process a large import. Idempotent: a finished batch is left alone, a batch another
    worker holds is skipped, and an interrupted valid-rows-only batch resumes."""
    from skillguard.registry.imports import process_batch

    process_batch(batch_id, report_progress=True)
