"""Aggregation and distribution: routing rules, the change feed, webhooks, data quality."""
from __future__ import annotations

import datetime as dt
import hashlib
import http.server
import json
import threading
import uuid
from decimal import Decimal

import pytest
from django.urls import reverse
from django.utils import timezone
from django.utils.html import escape
from procrastinate.contrib.django.models import ProcrastinateJob

from skillguard.accounts.models import User
from skillguard.accounts.roles import Role
from skillguard.audit.models import AuditEvent
from skillguard.core.errors import BusinessRuleError
from skillguard.distribution import quality, queries, services
from skillguard.distribution.models import (
    Basis,
    DeliveryStatus,
    DistributionRule,
    FeedEntry,
    Subscriber,
    WebhookDelivery,
)
from skillguard.distribution.services import FeedItem
from skillguard.ingest.models import (
    ClientKind,
    DockingClient,
    QuarantinedRecord,
    RecordIdentity,
    RecordVersion,
    Submission,
)

pytestmark = pytest.mark.django_db


def district_client(district, name):
    user = User.objects.create_user(username=f"sys-{district.code}-{name}", password=None,
                                    role=Role.API_CLIENT, district=district)
    return DockingClient.objects.create(name=name, kind=ClientKind.DISTRICT_SYSTEM, user=user,
                                        district=district)


@pytest.fixture
def systems(world):
    a = district_client(world.a.district, "徐汇区系统")
    b = district_client(world.b.district, "浦东新区系统")
    services.ensure_district_subscribers()
    return a, b


def sub_of(client) -> Subscriber:
    return Subscriber.objects.get(client=client)


def item(key, *, venue=None, residence=None, institution=None, version=1):
    return FeedItem(key, {"venue_district": venue, "residence_district": residence,
                          "institution_district": institution}, None, {"key": key}, version)


def keys(subscriber):
    return sorted(FeedEntry.objects.filter(subscriber=subscriber)
                  .values_list("external_key", flat=True))


# --------------------------------------------------------------------------- routing


def test_district_systems_get_default_rules_venue_and_residence(systems):
    a, _b = systems
    rules = DistributionRule.objects.filter(subscriber__client=a, active=True)
    assert sorted(r.basis for r in rules) == ["residence_district", "venue_district"]
    assert all(r.record_type == "*" and r.district_id is None for r in rules)
    assert AuditEvent.objects.filter(object_type="distribution.distributionrule").count() == 4


def test_rules_route_by_venue_and_residence_district(world, systems):
    a, b = systems
    da, db_ = world.a.district.pk, world.b.district.pk
    written = services.publish("checkin", [
        item("c-venue-a-res-b", venue=da, residence=db_),  # both
        item("c-all-a", venue=da, residence=da, institution=db_),  # a only: no institution rule
        item("c-res-b", venue=None, residence=db_),  # b only
    ])
    assert written == 4
    assert keys(sub_of(a)) == ["c-all-a", "c-venue-a-res-b"]
    assert keys(sub_of(b)) == ["c-res-b", "c-venue-a-res-b"]


def test_rule_record_type_basis_and_deactivation(world, systems):
    a, b = systems
    admin = world.users["city_admin"]
    city = services.create_subscriber(admin, name="市级数据仓")
    services.create_rule(admin, subscriber=city, record_type="assessment", basis=Basis.ALL)
    inst_rule = services.create_rule(admin, subscriber=sub_of(b), record_type="class",
                                     basis=Basis.INSTITUTION_DISTRICT)
    for rule in DistributionRule.objects.filter(subscriber__client=b,
                                                basis=Basis.RESIDENCE_DISTRICT):
        services.deactivate_rule(admin, rule, reason="区系统不再需要居住地数据")
    da, db_ = world.a.district.pk, world.b.district.pk
    services.publish("class", [item("k1", venue=da, residence=db_, institution=db_)])
    services.publish("assessment", [item("x1", venue=da, residence=db_)])
    assert keys(city) == ["x1"]
    assert keys(sub_of(b)) == ["k1"]  # by institution district; residence rule inactive
    assert keys(sub_of(a)) == ["k1", "x1"]  # venue district
    assert inst_rule.version == 1


def test_plain_set_of_districts_matches_any_district_basis(world, systems):
    a, b = systems
    services.publish("trainee", [FeedItem("t1", {world.b.district.pk}, None, {}, 1)])
    assert keys(sub_of(a)) == [] and keys(sub_of(b)) == ["t1"]


# --------------------------------------------------------------------------- feed


def test_feed_cursor_pagination_and_isolation(world, systems):
    a, b = systems
    da, db_ = world.a.district.pk, world.b.district.pk
    services.publish("session", [item(f"s{n}", venue=da) for n in range(5)])
    services.publish("session", [item(f"b{n}", venue=db_) for n in range(2)])
    services.publish("session", [item("s5", venue=da)])
    seen, cursor = [], 0
    while True:
        entries, next_cursor = queries.feed_page(sub_of(a), cursor, 2)
        if not entries:
            assert next_cursor == cursor
            break
        assert len(entries) <= 2 and next_cursor == entries[-1].id > cursor
        seen += [e.external_key for e in entries]
        cursor = next_cursor
    assert seen == [f"s{n}" for n in range(6)]  # ordered, complete, nothing of b's
    entries, _ = queries.feed_page(sub_of(b), 0, 1000)
    assert [e.external_key for e in entries] == ["b0", "b1"]
    # resumable: a reader that stored an earlier cursor gets the same rest again
    entries, _ = queries.feed_page(sub_of(a), 0, 1000)
    again, _ = queries.feed_page(sub_of(a), entries[2].id, 1000)
    assert [e.external_key for e in again] == ["s3", "s4", "s5"]


def _other_connection():
    """A second session on the test database: a concurrent writer."""
    import psycopg
    from django.db import connection

    s = connection.settings_dict
    return psycopg.connect(dbname=s["NAME"], user=s["USER"] or None,
                           password=s.get("PASSWORD") or None, host=s["HOST"] or None,
                           port=s.get("PORT") or None)


@pytest.mark.django_db(transaction=True)
def test_feed_never_skips_an_entry_whose_transaction_commits_late(world, systems):
    """Transaction 1 takes id N and is still open; transaction 2 takes N+1 and commits. A
    reader must not be handed N+1 (it would store N+1 as its cursor and never see N)."""
    a, _b = systems
    sub = sub_of(a)
    other = _other_connection()
    try:
        with other.cursor() as cur:  # psycopg opens a transaction and keeps it open
            cur.execute("INSERT INTO distribution_feedentry (subscriber_id, record_type, "
                        "external_key, version, payload, created_at) VALUES "
                        "(%s, 'session', 'late', 1, '{}', now()) RETURNING id", [sub.pk])
            late_id = cur.fetchone()[0]
        services.publish("session", [item("early", venue=world.a.district.pk)])
        assert FeedEntry.objects.get(external_key="early").id > late_id
        entries, cursor = queries.feed_page(sub, 0, 100)
        assert (entries, cursor) == ([], 0)  # held back until transaction 1 ends
        other.commit()
        entries, cursor = queries.feed_page(sub, 0, 100)
        assert [e.external_key for e in entries] == ["late", "early"]
        # A transaction opened after entries were made does not hold them back; entries
        # made while it is open wait for it.
        with other.cursor() as cur:
            cur.execute("SELECT 1")
        again, _ = queries.feed_page(sub, 0, 100)
        assert [e.external_key for e in again] == ["late", "early"]
        services.publish("session", [item("later", venue=world.a.district.pk)])
        entries, _ = queries.feed_page(sub, cursor, 100)
        assert [e.external_key for e in entries] == []
        other.rollback()
        entries, _ = queries.feed_page(sub, cursor, 100)
        assert [e.external_key for e in entries] == ["later"]
    finally:
        other.close()


def test_feed_over_http_signed_both_ways_and_isolated(world, systems, client):
    testing = pytest.importorskip("skillguard.trust.testing")
    from skillguard.trust import client as ref
    from skillguard.trust.services import server_key

    a, b = systems
    services.publish("session", [item(f"s{n}", venue=world.a.district.pk) for n in range(3)])
    services.publish("session", [item("b0", venue=world.b.district.pk)])
    key, private = testing.add_key(a)
    signer = testing.Signer(client, key.key_id, private)
    response = signer.request("GET", "/api/docking/v1/feed?cursor=0&limit=2")
    assert response.status_code == 200, response.content
    body = response.json()
    assert [e["external_key"] for e in body["entries"]] == ["s0", "s1"]
    assert body["next_cursor"] == body["entries"][-1]["id"]
    _private, record = server_key()
    assert ref.verify_response(200, dict(response.headers), response.content,
                               record.public_key_pem)
    rest = signer.request("GET", f"/api/docking/v1/feed?cursor={body['next_cursor']}&limit=2")
    assert [e["external_key"] for e in rest.json()["entries"]] == ["s2"]
    key_b, private_b = testing.add_key(b)
    other = testing.Signer(client, key_b.key_id, private_b).request(
        "GET", "/api/docking/v1/feed?cursor=0")
    assert [e["external_key"] for e in other.json()["entries"]] == ["b0"]
    assert client.get("/api/docking/v1/feed").status_code == 401  # unsigned


# --------------------------------------------------------------------------- webhooks


class Receiver:
    """A real HTTP server on localhost: answers the scripted statuses in turn."""

    def __init__(self, statuses):
        self.statuses, self.requests = list(statuses), []
        outer = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def do_POST(self):
                body = self.rfile.read(int(self.headers["Content-Length"]))
                outer.requests.append((self.headers, body))
                status = outer.statuses.pop(0) if outer.statuses else 200
                self.send_response(status)
                self.end_headers()
                self.wfile.write(b"ok")

            def log_message(self, *args):
                pass

        self.server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/hook"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    def __enter__(self):
        self.thread.start()
        return self

    def __exit__(self, *exc):
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def local_receivers_allowed(settings):
    """The test receivers listen on 127.0.0.1, which production refuses (SSRF guard)."""
    settings.SKILLGUARD_WEBHOOK_ALLOW_PRIVATE = True


def test_webhook_retried_after_500_then_delivered_with_valid_hmac(world, systems,
                                                                  local_receivers_allowed):
    a, _b = systems
    sub = sub_of(a)
    with Receiver([500]) as receiver:
        services.update_subscriber(world.users["city_admin"], sub, webhook_url=receiver.url)
        services.publish("checkin", [item("c1", venue=world.a.district.pk),
                                     item("c2", venue=world.a.district.pk)])
        delivery = WebhookDelivery.objects.get(subscriber=sub)
        assert delivery.entry_count == 2
        job = ProcrastinateJob.objects.get(task_name="distribution.deliver_webhook")
        assert job.args == {"delivery_id": delivery.pk}
        with pytest.raises(services.DeliveryFailed):
            services.attempt_delivery(delivery.pk)
        delivery.refresh_from_db()
        assert (delivery.status, delivery.attempts, delivery.last_status) == \
            (DeliveryStatus.RETRYING, 1, 500)
        assert delivery.next_attempt_at > timezone.now()
        services.attempt_delivery(delivery.pk)  # the retry
    delivery.refresh_from_db()
    assert (delivery.status, delivery.attempts, delivery.last_status) == \
        (DeliveryStatus.DELIVERED, 2, 200)
    assert len(receiver.requests) == 2
    headers, body = receiver.requests[-1]
    sub.refresh_from_db()
    assert sub.webhook_secret
    assert services.verify_webhook(sub.webhook_secret, headers["X-SkillGuard-Timestamp"], body,
                                   headers["X-SkillGuard-Signature"])
    assert not services.verify_webhook("wrong", headers["X-SkillGuard-Timestamp"], body,
                                       headers["X-SkillGuard-Signature"])
    import hmac
    expected = hmac.new(sub.webhook_secret.encode(),
                        headers["X-SkillGuard-Timestamp"].encode() + b"." + body,
                        hashlib.sha256).hexdigest()
    assert headers["X-SkillGuard-Signature"] == "sha256=" + expected
    assert [e["external_key"] for e in json.loads(body)["entries"]] == ["c1", "c2"]


def test_failing_webhook_is_kept_with_its_error_and_shown(world, systems, login, settings,
                                                           local_receivers_allowed):
    a, _b = systems
    sub = sub_of(a)
    with Receiver([]) as receiver:
        url = receiver.url
    services.update_subscriber(None, sub, webhook_url=url)  # nobody listens any more
    services.publish("checkin", [item("c1", venue=world.a.district.pk)])
    delivery = WebhookDelivery.objects.get(subscriber=sub)
    for _ in range(services.WEBHOOK_MAX_ATTEMPTS):
        with pytest.raises(services.DeliveryFailed):
            services.attempt_delivery(delivery.pk)
    delivery.refresh_from_db()
    assert delivery.status == DeliveryStatus.FAILED and delivery.last_error
    client = login(world.users["city_admin"])
    page = client.get(reverse("distribution:delivery_list"), {"status": "failed"})
    assert page.status_code == 200
    assert escape(delivery.last_error[:40]) in page.content.decode()
    client.post(reverse("distribution:delivery_redeliver", args=[delivery.pk]))
    delivery.refresh_from_db()
    assert delivery.status == DeliveryStatus.PENDING and delivery.attempts == 0


@pytest.mark.parametrize("url", ["http://127.0.0.1:8000/hook", "http://localhost/hook",
                                 "http://10.1.2.3/hook", "http://169.254.169.254/latest/",
                                 "http://[::1]/hook", "ftp://example.org/hook"])
def test_webhook_to_own_network_is_refused_naming_the_field(world, systems, url):
    a, _b = systems
    sub = sub_of(a)
    with pytest.raises(BusinessRuleError) as refused:
        services.update_subscriber(world.users["city_admin"], sub, webhook_url=url)
    assert [p.field for p in refused.value.problems] == ["webhook_url"]
    sub.refresh_from_db()
    assert sub.webhook_url == ""  # nothing half-written


def test_delivery_refused_when_the_target_turned_private(world, systems, settings):
    """Checked again at delivery: an address allowed once is not trusted for ever."""
    a, _b = systems
    sub = sub_of(a)
    settings.SKILLGUARD_WEBHOOK_ALLOW_PRIVATE = True
    services.update_subscriber(None, sub, webhook_url="http://127.0.0.1:9/hook")
    settings.SKILLGUARD_WEBHOOK_ALLOW_PRIVATE = False
    services.publish("checkin", [item("c1", venue=world.a.district.pk)])
    delivery = WebhookDelivery.objects.get(subscriber=sub)
    with pytest.raises(services.DeliveryFailed):
        services.attempt_delivery(delivery.pk)
    delivery.refresh_from_db()
    assert delivery.last_status is None and "loopback" in delivery.last_error


def test_webhook_secret_is_sealed_and_never_audited(world, systems, settings):
    from django.db import connection

    a, _b = systems
    sub = sub_of(a)
    settings.SKILLGUARD_WEBHOOK_ALLOW_PRIVATE = True
    services.update_subscriber(world.users["city_admin"], sub,
                               webhook_url="http://127.0.0.1:9/hook")
    sub.refresh_from_db()
    secret = sub.webhook_secret
    assert len(secret) >= 32
    with connection.cursor() as cur:
        cur.execute("SELECT webhook_secret_enc FROM distribution_subscriber WHERE id = %s",
                    [sub.pk])
        stored = cur.fetchone()[0]
    assert secret not in stored
    trail = json.dumps([e.changes for e in AuditEvent.objects.all()], default=str)
    assert secret not in trail and "webhook_secret" not in trail


# --------------------------------------------------------------------------- rules UI


def test_rule_validation_problems_are_bilingual_and_name_fields(world, systems):
    a, _b = systems
    admin = world.users["city_admin"]
    external = services.create_subscriber(admin, name="无辖区订阅方")
    cases = [
        (dict(subscriber=external, record_type="payroll", basis=Basis.ALL),
         "record_type", "unknown_record_type"),
        (dict(subscriber=external, record_type="*", basis=Basis.VENUE_DISTRICT),
         "district", "district_required"),
        (dict(subscriber=sub_of(a), record_type="*", basis=Basis.VENUE_DISTRICT),
         "record_type", "duplicate_rule"),
    ]
    for kwargs, field, code in cases:
        with pytest.raises(BusinessRuleError) as err:
            services.create_rule(admin, **kwargs)
        (problem,) = err.value.as_list()
        assert (problem["field"], problem["code"]) == (field, code)
        assert problem["message_en"].isascii() and not problem["message_zh"].isascii()
    rule = DistributionRule.objects.filter(subscriber__client=a).first()
    with pytest.raises(BusinessRuleError) as err:
        services.update_rule(admin, rule, reason=" ", record_type="class")
    assert err.value.as_list()[0]["code"] == "reason_required"


def test_rule_pages_create_edit_with_reason_and_refuse(world, systems, login):
    a, _b = systems
    admin = world.users["city_admin"]
    client = login(admin)
    assert client.get(reverse("distribution:rule_list")).status_code == 200
    sub = sub_of(a)
    bad = client.post(reverse("distribution:rule_create"), {
        "subscriber": sub.pk, "record_type": "nonsense", "basis": "all", "active": "on"})
    assert bad.status_code == 400 and "nonsense" not in DistributionRule.objects.values_list(
        "record_type", flat=True)
    ok = client.post(reverse("distribution:rule_create"), {
        "subscriber": sub.pk, "record_type": "assessment", "basis": "all", "active": "on"})
    assert ok.status_code == 302
    rule = DistributionRule.objects.get(record_type="assessment")
    no_reason = client.post(reverse("distribution:rule_edit", args=[rule.pk]), {
        "subscriber": sub.pk, "record_type": "class", "basis": "all", "active": "on"})
    assert no_reason.status_code == 400
    client.post(reverse("distribution:rule_edit", args=[rule.pk]), {
        "subscriber": sub.pk, "record_type": "class", "basis": "all", "active": "on",
        "reason": "只需开班数据"})
    rule.refresh_from_db()
    assert (rule.record_type, rule.version, rule.changed_by) == ("class", 2, admin)
    event = AuditEvent.objects.filter(object_type="distribution.distributionrule",
                                      object_id=str(rule.pk), action="update").get()
    assert event.comment == "只需开班数据" and event.changes["record_type"] == ["assessment",
                                                                            "class"]
    # a district supervisor may not change rules
    district = login(world.users["district_supervisor"])
    assert district.get(reverse("distribution:rule_create")).status_code == 403


# --------------------------------------------------------------------------- data quality


def _submission(client, when, count):
    Submission.objects.create(id=uuid.uuid4(), district_id=client.district_key, received_at=when,
                              client_id=client.pk, key_id="k", method="POST", path="/x",
                              content_type="application/json", body=b"{}", body_sha256="0" * 64,
                              signature_input="", signature="", record_count=count)


def _identity(client, n, when):
    ident = RecordIdentity.objects.create(
        client=client, record_type="trainee", external_id=f"T{n}", payload_sha256="0" * 64,
        target="x", district_id=client.district_key, first_submission_id=uuid.uuid4(),
        last_submission_id=uuid.uuid4())
    RecordIdentity.objects.filter(pk=ident.pk).update(created_at=when)
    return ident


def _version(ident, version, when):
    rv = RecordVersion.objects.create(identity=ident, version=version, payload={},
                                      submission_id=uuid.uuid4())
    RecordVersion.objects.filter(pk=rv.pk).update(replaced_at=when)


def _quarantine(client, when, codes):
    q = QuarantinedRecord.objects.create(
        client=client, district_id=client.district_key, record_type="trainee",
        submission_id=uuid.uuid4(), payload={},
        problems=[{"record": "", "field": "f", "code": c, "message_zh": "", "message_en": ""}
                  for c in codes])
    QuarantinedRecord.objects.filter(pk=q.pk).update(created_at=when)


def _quality_data(a, b):
    """Two days of traffic of two sources (the hand-computed figures below)."""
    tz = timezone.get_current_timezone()
    d1 = timezone.localdate() - dt.timedelta(days=2)
    d2 = d1 + dt.timedelta(days=1)
    t1 = timezone.make_aware(dt.datetime.combine(d1, dt.time(10)), tz)
    t2 = timezone.make_aware(dt.datetime.combine(d2, dt.time(23, 30)), tz)
    # day 1, source a: 60 received in two submissions; 50 new records; 4 rejected
    _submission(a, t1, 40)
    _submission(a, t1, 20)
    idents = [_identity(a, n, t1) for n in range(50)]
    _quarantine(a, t1, ["id_checksum"])
    _quarantine(a, t1, ["id_checksum", "unknown_class"])
    _quarantine(a, t1, ["unknown_class"])
    _quarantine(a, t1, ["unknown_class", "unknown_class"])
    # day 2, source a: 10 received: 3 records of day 1 corrected (new version 2), and one
    # of those corrected again the same day (version 3); 1 rejected
    _submission(a, t2, 10)
    for ident in idents[:3]:
        _version(ident, 1, t2)
    _version(idents[0], 2, t2)
    _quarantine(a, t2, ["schema"])
    # source b, day 1: 5 received, 5 new, nothing else
    _submission(b, t1, 5)
    for n in range(5):
        _identity(b, 100 + n, t1)

    return d1, d2, idents


def _check_hand_computed(rows, a, b, d1, d2):
    r = rows[(a.pk, d1)]
    assert (r.received, r.accepted, r.rejected, r.unchanged, r.corrected) == (60, 50, 4, 6, 3)
    assert r.rejected_by_code == {"id_checksum": 2, "unknown_class": 3}
    assert r.completeness == Decimal(56) / Decimal(60)
    assert r.accuracy == Decimal("0.94")
    assert r.below_threshold
    r = rows[(a.pk, d2)]
    # accepted: 3 versions 2 + 1 version 3 = 4; of these version 2 of idents[0] was corrected
    assert (r.received, r.accepted, r.rejected, r.unchanged, r.corrected) == (10, 4, 1, 5, 1)
    assert (r.completeness, r.accuracy) == (Decimal("0.9"), Decimal("0.75"))
    r = rows[(b.pk, d1)]
    assert (r.received, r.accepted, r.rejected, r.completeness, r.accuracy) == (5, 5, 0, 1, 1)
    assert not r.below_threshold
    assert (b.pk, d2) not in rows


def test_quality_figures_equal_hand_computed_counts(world, systems, login):
    a, b = systems
    d1, d2, _idents = _quality_data(a, b)
    names = {a.pk: a.name, b.pk: b.name}
    rows = {(r.client_id, r.day): r for r in quality.compute([a.pk, b.pk], d1, d2, names)}
    _check_hand_computed(rows, a, b, d1, d2)

    # the page: the city sees both sources, a district supervisor only its own
    page = login(world.users["city_supervisor"]).get(reverse("distribution:quality"),
                                                     {"start": d1, "end": d2})
    html = page.content.decode()
    assert page.status_code == 200 and a.name in html and b.name in html
    assert html.count('class="tone-danger below"') == 2
    page = login(world.users["district_supervisor"]).get(reverse("distribution:quality"),
                                                         {"start": d1, "end": d2})
    html = page.content.decode()
    assert a.name in html and b.name not in html
    assert login(world.users["institution_admin"]).get(
        reverse("distribution:quality")).status_code == 403


def _rolled_up(client_ids):
    from skillguard.cockpit.models import QualityDaily

    return {(q.client_id, q.day): (q.district_id, q.received, q.accepted, q.rejected,
                                   q.corrected, q.rejected_by_code)
            for q in QualityDaily.objects.filter(client_id__in=client_ids)}


def _as_tuples(rows):
    return {(r.client_id, r.day): (r.received, r.accepted, r.rejected, r.corrected,
                                   r.rejected_by_code) for r in rows}


def test_quality_rollup_equals_live_and_follows_corrections(world, systems, login):
    from skillguard.cockpit import rollups

    a, b = systems
    d1, d2, idents = _quality_data(a, b)
    today = timezone.localdate()
    names = {a.pk: a.name, b.pk: b.name}
    live = quality.compute([a.pk, b.pk], d1, today, names)
    assert quality.freshness().live_from is None  # never rolled up: all live

    rollups.refresh_one("quality")
    fresh = quality.freshness()
    assert fresh.live_from == today and fresh.refreshed_at is not None
    stored = _rolled_up([a.pk, b.pk])
    assert {k: v[1:] for k, v in stored.items()} == _as_tuples(live)
    assert stored[(a.pk, d1)][0] == a.district_key and stored[(b.pk, d1)][0] == b.district_key
    # the page's rows now come from the rollup for d1, d2: same figures as the live ones
    rolled = quality.compute([a.pk, b.pk], d1, today, names)
    assert _as_tuples(rolled) == _as_tuples(live)
    _check_hand_computed({(r.client_id, r.day): r for r in rolled}, a, b, d1, d2)

    # a correction today of a record accepted on d1 (version 2 of idents[10]): the
    # incremental refresh re-aggregates d1 and its corrected count rises
    RecordVersion.objects.create(identity=idents[10], version=1, payload={},
                                 submission_id=uuid.uuid4())
    RecordIdentity.objects.filter(pk=idents[10].pk).update(version=2)
    # a record accepted yesterday (d2, version 3 of idents[0]) corrected today as well
    RecordVersion.objects.create(identity=idents[0], version=3, payload={},
                                 submission_id=uuid.uuid4())
    assert rollups.refresh_one("quality") >= 3  # d1, d2 and today
    stored = _rolled_up([a.pk, b.pk])
    assert stored[(a.pk, d1)][4] == 4
    assert stored[(a.pk, d2)][4] == 2
    assert stored[(a.pk, today)][2] == 2  # the two new versions accepted today
    assert {k: v[1:] for k, v in stored.items()} == _as_tuples(
        quality.compute_live_rows([a.pk, b.pk], d1, today))
    # a full rebuild gives the same rows as the incremental refreshes
    rollups.refresh_one("quality", full=True)
    assert _rolled_up([a.pk, b.pk]) == stored

    # the page reads the rollup and says as of when
    page = login(world.users["city_supervisor"]).get(reverse("distribution:quality"),
                                                     {"start": d1, "end": d2})
    html = page.content.decode()
    assert page.status_code == 200 and 'id="quality-freshness"' in html
    assert html.count('class="tone-danger below"') == 2


# --------------------------------------------------------------------------- subscribers UI


def test_city_admin_manages_subscribers_and_sees_a_new_secret_once(world, login, settings):
    settings.SKILLGUARD_WEBHOOK_ALLOW_PRIVATE = True
    admin = login(world.users["city_admin"])
    page = admin.post(reverse("distribution:subscriber_create"), {
        "name": "市审计系统", "district": "", "webhook_url": "http://127.0.0.1:9/hook",
        "active": "on"})
    assert page.status_code == 302, page.content.decode()[:2000]
    sub = Subscriber.objects.get(name="市审计系统")
    listing = admin.get(reverse("distribution:subscriber_list")).content.decode()
    assert "市审计系统" in listing and "http://127.0.0.1:9/hook" in listing
    old_secret = sub.webhook_secret
    shown = admin.post(reverse("distribution:subscriber_secret", args=[sub.pk]))
    assert shown.status_code == 200 and shown["Cache-Control"] == "no-store"
    sub.refresh_from_db()
    assert sub.webhook_secret != old_secret and sub.webhook_secret in shown.content.decode()
    assert sub.webhook_secret not in admin.get(
        reverse("distribution:subscriber_list")).content.decode()  # only that once
    # A URL into the platform's own network is refused on the form, naming the field.
    settings.SKILLGUARD_WEBHOOK_ALLOW_PRIVATE = False
    page = admin.post(reverse("distribution:subscriber_edit", args=[sub.pk]), {
        "name": sub.name, "district": "", "webhook_url": "http://10.0.0.8/hook",
        "active": "on"})
    assert page.status_code == 400
    assert "loopback" in page.content.decode() or "回环" in page.content.decode()
    sub.refresh_from_db()
    assert sub.webhook_url == "http://127.0.0.1:9/hook"


def test_subscriber_pages_are_the_city_admins(world, login):
    sub = Subscriber.objects.create(name="外部订阅方", district=world.a.district)
    auditor = login(world.users["auditor"])
    page = auditor.get(reverse("distribution:subscriber_list")).content.decode()
    assert "外部订阅方" in page
    assert reverse("distribution:subscriber_edit", args=[sub.pk]) not in page
    assert auditor.post(reverse("distribution:subscriber_secret",
                                args=[sub.pk])).status_code in (403, 404)
    district = login(world.users["district_supervisor"])
    assert district.get(reverse("distribution:subscriber_list")).status_code == 403

