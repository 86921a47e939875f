"""Hooks other apps' pages call lazily (they never import cases at module import time)."""
from __future__ import annotations


def warning_case_panel(user, warning):
    """The warning page's "case of this warning" panel: the case if the user may see it."""
    from skillguard.cases.queries import case_of_warning

    case = case_of_warning(user, warning.pk)
    if case is None:
        return None
    return {"template": "cases/_warning_case_panel.html", "case": case}
