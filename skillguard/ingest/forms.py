"""Forms of the docking pages: quarantine filters and the correct-and-resubmit form."""
from __future__ import annotations

import json

from django import forms
from django.utils.translation import gettext_lazy as _

from skillguard.ingest.models import QuarantineStatus
from skillguard.ingest.records import RECORD_TYPES


class QuarantineFilter(forms.Form):
    record_type = forms.ChoiceField(label=_("record type"), required=False,
                                    choices=[("", "—")] + [(t, t) for t in RECORD_TYPES])
    status = forms.ChoiceField(label=_("status"), required=False,
                               choices=[("", "—")] + list(QuarantineStatus.choices))
    source = forms.ChoiceField(label=_("source"), required=False, choices=[("", "—")])

    def __init__(self, *args, sources=(), **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["source"].choices = [("", "—")] + [(str(s.pk), s.name) for s in sources]


def _as_text(value) -> str:
    if value is None:
        return ""
    if isinstance(value, (dict, list, bool, int, float)):
        return json.dumps(value, ensure_ascii=False)
    return str(value)


class CorrectionForm(forms.Form):
    """One text box per field of the record type, prefilled from the quarantined payload.
    Blank boxes are left out (the field's default applies); JSON lists/objects are parsed;
    everything else is sent as text and checked by the same schema as a pushed record.
    Fields the payload had that the type does not know are dropped (they were refused)."""

    def __init__(self, record_type: str, payload: dict, *args, **kwargs):
        super().__init__(*args, **kwargs)
        model = RECORD_TYPES[record_type]
        payload = payload if isinstance(payload, dict) else {}
        for name, info in model.model_fields.items():
            self.fields[name] = forms.CharField(
                label=name, required=False, initial=_as_text(payload.get(name)),
                help_text=info.description or "", max_length=4000)

    def payload(self) -> dict:
        out = {}
        for name, value in self.cleaned_data.items():
            value = (value or "").strip()
            if not value:
                continue
            if value[0] in "[{":
                try:
                    out[name] = json.loads(value)
                    continue
                except ValueError:
                    pass
            out[name] = value
        return out
