"""Tests that need something outside Python skip without it (and fail under
SKILLGUARD_REQUIRE_ALL=1). No Django imports: the root conftest loads this first."""
from __future__ import annotations

import os
import shutil


def _require_all() -> bool:
    return os.environ.get("SKILLGUARD_REQUIRE_ALL", "").lower() in {"1", "true", "yes"}


def require_binary(path_or_name: str, why: str) -> str:
    """The binary's path; skip the test if it is missing (fail under SKILLGUARD_REQUIRE_ALL)."""
    import pytest

    found = path_or_name if os.path.exists(path_or_name) else shutil.which(path_or_name)
    if not found:
        message = f"{path_or_name} not installed: {why}"
        if _require_all():
            pytest.fail(message + " (SKILLGUARD_REQUIRE_ALL=1)")
        pytest.skip(message)
    return found


def require_importable(module: str, why: str):
    """Import ``module`` in a test; skip the test when it (or a system library it loads, such
    as WeasyPrint's Pango) is missing — fail under SKILLGUARD_REQUIRE_ALL."""
    import importlib

    import pytest

    try:
        return importlib.import_module(module)
    except (ImportError, OSError) as exc:
        message = f"{module} cannot be loaded ({exc}): {why}"
        if _require_all():
            pytest.fail(message + " (SKILLGUARD_REQUIRE_ALL=1)")
        pytest.skip(message)
