"""Personal data at rest: sealed, masked on screen, found by keyed hash, rotatable, and
never in plaintext in the database — checked down to a pg_dump of it."""
import base64
import os
import secrets
import subprocess
from pathlib import Path

import pytest
from cryptography.exceptions import InvalidTag
from django.core.management import call_command
from django.db import connection
from django.test import override_settings

from skillguard.audit.models import AuditEvent
from skillguard.core import crypto
from skillguard.core.personal_data import lookup, unseal
from skillguard.core.validators import normalise_id_number
from skillguard.registry.models import Teacher, Trainee


def _new_key() -> str:
    return base64.b64encode(secrets.token_bytes(32)).decode()


def plaintexts(model) -> list[str]:
    out = []
    for row in model.objects.all():
        out += [v for v in (unseal(row, "id_number"), unseal(row, "phone")) if v]
    return out


# --------------------------------------------------------------------------- sealing


def test_seal_round_trip_and_fresh_nonce():
    sealed = crypto.seal("310104199001011234")
    again = crypto.seal("310104199001011234")
    assert sealed != again  # a fresh nonce each time: equal values are not recognisable
    assert "310104199001011234" not in sealed
    key_id = crypto.keyring().current_id
    assert sealed.startswith(key_id + ":")
    assert crypto.unseal(sealed) == crypto.unseal(again) == "310104199001011234"
    assert crypto.seal("") == "" and crypto.unseal("") == ""


def test_tampered_ciphertext_is_refused():
    key_id, _, body = crypto.seal("13800001111").partition(":")
    raw = bytearray(base64.b64decode(body))
    raw[-1] ^= 1
    with pytest.raises(InvalidTag):
        crypto.unseal(f"{key_id}:{base64.b64encode(bytes(raw)).decode()}")


def test_keyring_rejects_bad_keys():
    with pytest.raises(ValueError):
        crypto.KeyRing("k1:" + base64.b64encode(b"short").decode())
    with pytest.raises(ValueError):
        crypto.KeyRing("")


@pytest.mark.django_db
def test_attribute_reads_masked_and_columns_hold_no_plaintext(world):
    trainee = Trainee.objects.get(pk=world.a.trainees[0].pk)  # fresh from the database
    full_id, full_phone = unseal(trainee, "id_number"), unseal(trainee, "phone")
    assert len(full_id) == 18 and len(full_phone) == 11
    assert trainee.id_number == trainee.id_number_masked == full_id[:3] + "*" * 11 + full_id[-4:]
    assert trainee.phone == full_phone[:3] + "****" + full_phone[-4:]
    for column in ("id_number_enc", "id_number_hash", "phone_enc", "phone_hash"):
        assert full_id not in getattr(trainee, column)
        assert full_phone not in getattr(trainee, column)
    assert str(trainee) == trainee.name


@pytest.mark.django_db
def test_lookup_by_keyed_hash(world):
    wanted = world.b.trainees[2]
    full_id = unseal(wanted, "id_number")
    found = Trainee.objects.filter(**lookup("id_number", normalise_id_number(
        full_id.lower() + "  ")))
    assert list(found) == [wanted]
    near_miss = full_id[:-1] + ("0" if full_id[-1] != "0" else "1")
    assert not Trainee.objects.filter(**lookup("id_number", near_miss)).exists()
    # the hash is keyed: a plain SHA-256 of the number does not find anyone
    import hashlib

    assert wanted.id_number_hash != hashlib.sha256(full_id.encode()).hexdigest()
    phone = unseal(wanted, "phone")
    assert list(Trainee.objects.filter(**lookup("phone", phone))) == [wanted]


# --------------------------------------------------------------------------- key rotation


@pytest.mark.django_db
def test_key_rotation_reseals_every_row_with_the_new_key(world):
    before = {t.pk: (unseal(t, "id_number"), unseal(t, "phone"), t.id_number_hash)
              for t in Trainee.objects.all()}
    teachers_before = {t.pk: unseal(t, "id_number") for t in Teacher.objects.all()}
    from django.conf import settings

    old_spec = settings.FIELD_ENCRYPTION_KEYS
    new_key = _new_key()
    with override_settings(FIELD_ENCRYPTION_KEYS=f"{old_spec},rot2:{new_key}"):
        ring = crypto.keyring()
        assert ring.current_id == "rot2"
        # old rows stay readable before the rotation runs
        assert all(not t.id_number_enc.startswith("rot2:") for t in Trainee.objects.all())
        assert {t.pk: unseal(t, "id_number") for t in Trainee.objects.all()} == \
            {pk: v[0] for pk, v in before.items()}
        call_command("rotate_field_keys", stdout=open(os.devnull, "w"))
        for t in Trainee.objects.all():
            assert t.id_number_enc.startswith("rot2:") and t.phone_enc.startswith("rot2:")
            assert (unseal(t, "id_number"), unseal(t, "phone"), t.id_number_hash) == before[t.pk]
        assert all(t.id_number_enc.startswith("rot2:") for t in Teacher.objects.all())
    # the old key can now be removed: everything is readable with the new key alone
    with override_settings(FIELD_ENCRYPTION_KEYS=f"rot2:{new_key}"):
        assert {t.pk: unseal(t, "id_number") for t in Teacher.objects.all()} == teachers_before
        assert {t.pk: unseal(t, "phone") for t in Trainee.objects.all()} == \
            {pk: v[1] for pk, v in before.items()}
    event = AuditEvent.objects.filter(object_type="core.fieldkeys").latest("pk")
    assert "rot2" in event.object_repr


@pytest.mark.django_db
def test_rotation_is_idempotent(world):
    from django.conf import settings

    spec = f"{settings.FIELD_ENCRYPTION_KEYS},rot3:{_new_key()}"
    with override_settings(FIELD_ENCRYPTION_KEYS=spec):
        call_command("rotate_field_keys", stdout=open(os.devnull, "w"))
        sealed = dict(Trainee.objects.values_list("pk", "id_number_enc"))
        call_command("rotate_field_keys", stdout=open(os.devnull, "w"))
        assert dict(Trainee.objects.values_list("pk", "id_number_enc")) == sealed
        assert AuditEvent.objects.filter(object_type="core.fieldkeys").latest("pk") \
            .object_repr.startswith("re-sealed 0 rows")


# --------------------------------------------------------------------------- the dump


def pg_dump_binary() -> str:
    """pg_dump of the pgserver wheel (next to pg_ctl), else the one on PATH."""
    import shutil

    from skillguard import dbserver

    bin_dir = dbserver._pg_bin_dir()
    candidate = Path(bin_dir) / "pg_dump" if bin_dir else None
    if candidate is not None and candidate.exists():
        return str(candidate)
    found = shutil.which("pg_dump")
    if not found:
        message = "pg_dump not installed: the dump test reads the database as a backup would"
        if os.environ.get("SKILLGUARD_REQUIRE_ALL", "").lower() in {"1", "true", "yes"}:
            pytest.fail(message + " (SKILLGUARD_REQUIRE_ALL=1)")
        pytest.skip(message)
    return found


def dump_test_database() -> str:
    s = connection.settings_dict
    argv = [pg_dump_binary(), "--no-owner", "--format=plain", "--dbname", s["NAME"]]
    if s.get("HOST"):
        argv += ["--host", s["HOST"]]
    if s.get("PORT"):
        argv += ["--port", str(s["PORT"])]
    if s.get("USER"):
        argv += ["--username", s["USER"]]
    env = {**os.environ, "PGPASSWORD": s.get("PASSWORD") or ""}
    done = subprocess.run(argv, capture_output=True, env=env, timeout=120)
    assert done.returncode == 0, done.stderr.decode(errors="replace")
    return done.stdout.decode("utf-8")


@pytest.mark.django_db(transaction=True)
def test_pg_dump_holds_no_plaintext_personal_data(world):
    """Committed data (a transactional test), read by pg_dump as a backup would be."""
    from skillguard.audit.services import reveal_personal_data

    # a logged reveal and an update of a phone leave traces in the trail too
    from skillguard.registry import services

    trainee = world.a.trainees[0]
    old_phone = unseal(trainee, "phone")
    reveal_personal_data(world.users["city_admin"], trainee, "id_number", "dump test")
    services.update_trainee(world.users["city_admin"], trainee, phone="13655556666")

    secrets_ = plaintexts(Trainee) + plaintexts(Teacher) + [old_phone]
    assert "13655556666" in secrets_ and len(secrets_) == 6 * 2 + 2 * 2 + 1
    docked = _docking_pushes(world)  # raw bodies, quarantine, earlier versions
    secrets_ += docked + plaintexts(Trainee)
    assert connection.settings_dict["NAME"].startswith("test_")
    dump = dump_test_database()
    assert "COPY public.registry_trainee" in dump  # it is really the test database
    for value in secrets_:
        assert value not in dump, f"plaintext personal data {value[:3]}… in the dump"
    for row in list(Trainee.objects.all()) + list(Teacher.objects.all()):
        assert row.id_number_masked in dump and row.phone_masked in dump
    # the docking tables were really dumped, with the masked forms only
    for table in ("ingest_submission", "ingest_quarantinedrecord", "ingest_recordversion"):
        assert f"COPY public.{table}" in dump
    assert docked[2][:3] + "*" * 11 + docked[2][-4:] in dump  # quarantined, shown masked


def _docking_pushes(world) -> list[str]:
    """Push through the docking pipeline what leaves personal data in its tables: an
    accepted trainee, a quarantined trainee, a check-in changed into a second version.
    Returns the plaintext ID numbers and phones sent."""
    import datetime as dt

    from skillguard.core.testing import make_id_number
    from skillguard.ingest.models import QuarantinedRecord, RecordVersion
    from skillguard.ingest.tests.test_pipeline import checkin, client_of, submit

    client = client_of(world.a)
    ok_id = make_id_number(world.a.district.code, dt.date(1992, 5, 6), 417)
    bad_id = make_id_number(world.a.district.code, dt.date(1993, 7, 8), 529)
    _ref, out = submit(client, "trainee", [
        {"external_id": "DT-1", "name": "对接甲", "id_number": ok_id, "phone": "13712340001",
         "category": "employed"},
        {"external_id": "DT-2", "name": "对接乙", "id_number": bad_id, "phone": "13712340002",
         "category": "pirate"}])
    assert (out.accepted, out.rejected) == (1, 1)
    submit(client, "checkin", [checkin(world.a, 9, minutes=5)])
    submit(client, "checkin", [checkin(world.a, 9, minutes=6)])
    assert QuarantinedRecord.objects.count() == 1 and RecordVersion.objects.count() == 1
    return [ok_id, "13712340001", bad_id, "13712340002",
            checkin(world.a, 9)["trainee_id_number"]]
