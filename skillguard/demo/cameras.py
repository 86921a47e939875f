"""The demo city's camera estate (监管视频网点位): believable, deterministic, bulk-written.

``populate_cameras(seed=…)`` gives the rooms that host sessions their cameras:

* about 90% of those rooms: a camera in service (serial, model, SIM, stream name, a stream
  key hash — of a random key nobody ever sees), installed 1–30 months ago, its done
  installation work order, and a passed yearly inspection within the last year when it has
  been in service for more than a year — except about 6%, whose inspection is overdue;
* about 4%: a faulty camera with its open repair work order (some scheduled);
* about 3%: an installation requested (some scheduled) — not covered yet;
* about 3%: no camera at all, so some institutions are below 100% coverage (应装尽装);
* ``video.CameraHealth`` for every camera in service (about 93% online) and faulty one
  (offline), so the estate page shows online rates.

Same seed and city → same estate. Written with ``bulk_create`` only; does nothing when
cameras already exist."""
from __future__ import annotations

import datetime as dt
import random
import secrets
import time

from django.db import connection, transaction
from django.utils import timezone

MODELS = ("HK-4G-DS2CD", "DH-4G-IPC-HFW", "UNV-4G-IPC2122", "TP-4G-IPC45")
TECHNICIANS = (("张师傅", "13800010001"), ("李师傅", "13800010002"), ("王师傅", "13800010003"),
               ("赵师傅", "13800010004"), ("陈师傅", "13800010005"))
FAULTS = ("画面黑屏", "4G 信号弱，频繁掉线", "镜头被遮挡", "设备无法开机", "画面模糊")


def populate_cameras(seed: int, stdout=None, *, now: dt.datetime | None = None) -> dict:
    from skillguard.cameras.keys import hash_stream_key
    from skillguard.cameras.models import (
        CHECKLIST_ITEMS,
        Camera,
        CameraState,
        Inspection,
        WorkOrder,
        WorkOrderKind,
        WorkOrderState,
    )
    from skillguard.video.models import CameraHealth

    t0 = time.perf_counter()
    now = now or timezone.now()
    if Camera.objects.exists():
        return {"cameras": 0, "skipped": True}
    rng = random.Random(f"cameras-{seed}")
    with connection.cursor() as c:
        c.execute("""SELECT r.id, v.id, v.institution_id, v.district_id,
                            bool_or(k.status IN ('approved', 'in_progress'))
                     FROM registry_session s
                     JOIN registry_trainingclass k ON k.id = s.training_class_id
                     JOIN registry_room r ON r.id = s.room_id
                     JOIN registry_venue v ON v.id = r.venue_id
                     GROUP BY 1, 2, 3, 4 ORDER BY r.id""")
        rooms = c.fetchall()
    S, K, W = CameraState, WorkOrderKind, WorkOrderState
    # What each room gets, in a seeded random order, with at least one of each kind.
    total = sum(1 for r in rooms if r[4])  # rooms of approved / running classes
    order = list(range(len(rooms)))
    rng.shuffle(order)
    # gaps, requests and faults fall on rooms of approved / running classes first, where
    # the coverage rule (应装尽装) sees them
    order.sort(key=lambda i: not rooms[i][4])
    quota = [(None, max(1, round(0.03 * total))),  # no camera: a coverage gap
             (S.REQUESTED, max(1, round(0.015 * total))),
             (S.SCHEDULED, max(1, round(0.015 * total))),
             (S.FAULTY, max(1, round(0.04 * total)))]
    fate = {}
    position = 0
    for state, count in quota:
        for i in order[position:position + count]:
            fate[i] = state
        position += count
    cameras, plans = [], []
    for n, (room_id, venue_id, inst_id, district_id, _active) in enumerate(rooms, start=1):
        state = fate.get(n - 1, S.IN_SERVICE)
        if state is None:
            continue
        installed = state in (S.FAULTY, S.IN_SERVICE)
        installed_at = now - dt.timedelta(days=rng.randint(30, 900), hours=rng.randint(0, 23))
        cam = Camera(
            district_id=district_id, institution_id=inst_id, venue_id=venue_id, room_id=room_id,
            serial=(f"SG{seed % 1000:03d}{n:06d}" if installed
                    else f"PENDING-{seed % 1000:03d}{n:06d}"),
            model=rng.choice(MODELS) if installed else "",
            iccid=f"8986{rng.randrange(10 ** 15, 10 ** 16):016d}" if installed else "",
            stream_name=f"cam{room_id:06d}", state=state,
            installed_at=installed_at if installed else None,
            in_service_since=installed_at + dt.timedelta(days=1) if installed else None)
        if installed:
            key = secrets.token_urlsafe(24)  # nobody sees it: only its hash is kept
            cam.stream_key_hash = hash_stream_key(key)
            cam.stream_key_hint = key[-4:]
            cam.stream_key_issued_at = cam.in_service_since
        cameras.append(cam)
        plans.append(rng.random())
    with transaction.atomic():
        Camera.objects.bulk_create(cameras, batch_size=2000)
        orders, inspections, health = [], [], []
        inspected_orders = []
        old_enough = [c for c in cameras if c.in_service_since
                      and c.in_service_since < now - dt.timedelta(days=365)]
        overdue = {c.pk for c in old_enough[:max(1, round(0.06 * len(old_enough)))]}
        for cam, y in zip(cameras, plans):
            tech, phone = TECHNICIANS[cam.pk % len(TECHNICIANS)]
            base = {"camera_id": cam.pk, "district_id": cam.district_id,
                    "institution_id": cam.institution_id, "venue_id": cam.venue_id,
                    "room_id": cam.room_id}
            if cam.state in (S.REQUESTED, S.SCHEDULED):
                scheduled = cam.state == S.SCHEDULED
                orders.append(WorkOrder(
                    **base, kind=K.INSTALL, state=W.SCHEDULED if scheduled else W.OPEN,
                    technician_name=tech if scheduled else "",
                    technician_phone=phone if scheduled else "",
                    appointment_at=(now + dt.timedelta(days=1 + cam.pk % 9, hours=2)
                                    if scheduled else None)))
                continue
            orders.append(WorkOrder(**base, kind=K.INSTALL, state=W.DONE, technician_name=tech,
                                    technician_phone=phone, appointment_at=cam.installed_at,
                                    result="安装完成", completed_at=cam.installed_at))
            if cam.state == S.FAULTY:
                scheduled = y < 0.5
                orders.append(WorkOrder(
                    **base, kind=K.REPAIR, state=W.SCHEDULED if scheduled else W.OPEN,
                    fault_description=FAULTS[cam.pk % len(FAULTS)],
                    technician_name=tech if scheduled else "",
                    technician_phone=phone if scheduled else "",
                    appointment_at=now + dt.timedelta(days=1) if scheduled else None))
            online = cam.state == S.IN_SERVICE and y < 0.93
            health.append(CameraHealth(
                camera_id=cam.pk, district_id=cam.district_id, institution_id=cam.institution_id,
                online=online,
                last_seen_at=now - (dt.timedelta(seconds=5 + cam.pk % 50) if online
                                    else dt.timedelta(hours=2 + cam.pk % 70)),
                last_publish_at=now - dt.timedelta(hours=1 + cam.pk % 5),
                bitrate_kbps=(1500 + cam.pk % 700) if online else None))
            if cam.in_service_since < now - dt.timedelta(days=365) and cam.pk not in overdue:
                # inspected within the last year (the other ~6% are overdue)
                at = now - dt.timedelta(days=rng.randint(10, 330), hours=rng.randint(0, 8))
                order = WorkOrder(**base, kind=K.INSPECTION, state=W.DONE, technician_name=tech,
                                  technician_phone=phone, appointment_at=at, result="合格",
                                  completed_at=at)
                orders.append(order)
                inspected_orders.append((cam, order, at))
        WorkOrder.objects.bulk_create(orders, batch_size=2000)
        checklist = {k: {"ok": True, "note": ""} for k, _label in CHECKLIST_ITEMS}
        for cam, order, at in inspected_orders:
            inspections.append(Inspection(
                camera_id=cam.pk, work_order_id=order.pk, district_id=cam.district_id,
                institution_id=cam.institution_id, year=timezone.localtime(at).year,
                checklist=checklist, passed=True, performed_at=at))
        Inspection.objects.bulk_create(inspections, batch_size=2000)
        CameraHealth.objects.bulk_create(health, batch_size=2000)
    result = {"cameras": len(cameras), "rooms": len(rooms), "work_orders": len(orders),
              "inspections": len(inspections), "health": len(health)}
    if stdout:
        stdout.write(f"Cameras written in {time.perf_counter() - t0:.1f} s: {len(cameras)} "
                     f"cameras for {len(rooms)} rooms with sessions, {len(orders)} work orders "
                     f"/ 已生成监控点位\n")
    return result
