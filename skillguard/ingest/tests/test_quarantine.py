"""Quarantine: refused records kept with every reason, resolved by a valid resubmission,
corrected and resubmitted in the UI."""
from __future__ import annotations

import pytest
from django.urls import reverse

from skillguard.attendance.models import CheckIn
from skillguard.ingest.models import QuarantinedRecord, Submission
from skillguard.ingest.tests.test_pipeline import checkin, client_of, submit

pytestmark = pytest.mark.django_db


def test_resubmission_resolves_the_quarantined_record(world):
    client = client_of(world.a)
    _ref, out = submit(client, "checkin", [checkin(world.a, method="telepathy")])
    assert out.rejected == 1
    # sending the same bad record again does not pile up entries
    submit(client, "checkin", [checkin(world.a, method="telepathy")])
    entry = QuarantinedRecord.objects.get()
    assert entry.status == "open" and entry.problems[0]["code"] == "invalid_code"
    ref, out = submit(client, "checkin", [checkin(world.a)])
    assert out.accepted == 1
    entry.refresh_from_db()
    assert entry.status == "resubmitted" and entry.resolved_by_submission_id == ref.id


def test_list_is_scoped(world, login):
    submit(client_of(world.a), "checkin", [checkin(world.a, method="x")])
    submit(client_of(world.b), "checkin", [checkin(world.b, 7, method="x")])
    page = login(world.a.users["institution_admin"]).get(reverse("ingest:quarantine_list"))
    assert page.status_code == 200
    assert "CI-1" in page.content.decode() and "CI-7" not in page.content.decode()
    other = QuarantinedRecord.objects.get(external_id="CI-7")
    assert login(world.a.users["institution_admin"]).get(
        reverse("ingest:quarantine_detail", args=[other.pk])).status_code == 404
    page = login(world.users["city_supervisor"]).get(reverse("ingest:quarantine_list"))
    assert "CI-7" in page.content.decode() and "CI-1" in page.content.decode()
    page = login(world.b.users["district_supervisor"]).get(
        reverse("ingest:quarantine_list") + "?record_type=checkin&status=open")
    assert "CI-7" in page.content.decode() and "CI-1" not in page.content.decode()


def test_ui_correct_and_resubmit(world, login):
    client = client_of(world.a)
    bad = checkin(world.a, method="telepathy", extra="x")
    submit(client, "checkin", [bad])
    entry = QuarantinedRecord.objects.get()
    http = login(world.a.users["institution_admin"])
    url = reverse("ingest:quarantine_detail", args=[entry.pk])
    page = http.get(url)
    assert page.status_code == 200 and "extra_field" in page.content.decode()
    form = {k: ("" if v is None else str(v)) for k, v in checkin(world.a).items()}
    form["method"] = "bogus"  # still wrong: refused again, stays open
    res = http.post(url, form)
    assert res.status_code == 200 and "invalid_code" in res.content.decode()
    entry.refresh_from_db()
    assert entry.status == "open"
    form["method"] = "qr"
    res = http.post(url, form)
    assert res.status_code == 302
    entry.refresh_from_db()
    assert entry.status == "resubmitted"
    sub = Submission.objects.get(id=entry.resolved_by_submission_id)
    assert (sub.key_id, sub.method, sub.signature) == ("ui:inst1", "UI", "session")
    assert CheckIn.objects.get().method == "qr"
    # a supervisor may look but not correct
    sup = login(world.a.users["district_supervisor"])
    assert sup.post(url, form).status_code == 403
