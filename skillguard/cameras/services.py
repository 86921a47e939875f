"""Writes of the camera estate: each function is one business event.

Every event validates (bilingual ``BusinessRuleError`` naming the record and the field),
writes, audits, in one transaction. Camera states (``models.CameraState``):

    requested → scheduled → installed → in_service          (installation)
    in_service → faulty → in_service                        (repair work order)
    in_service | faulty | installed → relocating → installed (relocation: removal + new site)
    any state but retired → retired

Who may do what (``accounts.roles`` + the record's scope):

* ordering field work (request an installation, report a fault, ask for a relocation,
  schedule a yearly inspection): holders of ``workorder`` ADD within their scope —
  institution admins for their own institution, district supervisors in their district,
  city supervisors and the city administrator anywhere;
* running the estate (scheduling technicians, recording installations, repairs and
  inspections, putting in service, stream keys, completing relocations, retiring): holders
  of ``camera`` CHANGE (the city administrator, who operates the estate with its
  contractor).

Stream keys: ``put_in_service`` and ``rotate_stream_key`` return the key ONCE (only its
keyed hash is kept; ``keys.issue_stream_key``).
"""
from __future__ import annotations

import datetime as dt
import os
import re
import secrets

from django.db import IntegrityError, transaction
from django.db.models import Exists, OuterRef
from django.utils import timezone
from django.utils.translation import gettext_lazy as _
from django.utils.translation import pgettext_lazy

from skillguard.accounts.roles import ADD, CHANGE, role_allows
from skillguard.audit import services as audit
from skillguard.cameras import keys
from skillguard.cameras.models import (
    CHECKLIST_ITEMS,
    OPEN_WORK_ORDER_STATES,
    Camera,
    CameraState,
    Inspection,
    WorkOrder,
    WorkOrderKind,
    WorkOrderPhoto,
    WorkOrderState,
)
from skillguard.core.errors import BusinessRuleError, Problem, Problems, lazy_format
from skillguard.core.scoping import NOTHING, scope_q

S = CameraState
K = WorkOrderKind
W = WorkOrderState

# Legal camera transitions (from → allowed targets).
TRANSITIONS: dict[str, set[str]] = {
    S.REQUESTED: {S.SCHEDULED, S.RETIRED},
    S.SCHEDULED: {S.INSTALLED, S.RETIRED},
    S.INSTALLED: {S.IN_SERVICE, S.RELOCATING, S.RETIRED},
    S.IN_SERVICE: {S.FAULTY, S.RELOCATING, S.RETIRED},
    S.FAULTY: {S.IN_SERVICE, S.RELOCATING, S.RETIRED},
    S.RELOCATING: {S.INSTALLED, S.RETIRED},
    S.RETIRED: set(),
}
# Cameras that occupy their room (a second camera cannot be requested there).
ACTIVE_STATES = (S.REQUESTED, S.SCHEDULED, S.INSTALLED, S.IN_SERVICE, S.FAULTY)

PHOTO_EXTENSIONS = {".jpg", ".jpeg", ".png", ".gif", ".webp", ".heic"}
MAX_PHOTO_BYTES = 10 * 1024 * 1024
ICCID_RE = re.compile(r"^89\d{17,19}[0-9A-F]?$")
PHONE_RE = re.compile(r"^[0-9+\- ]{5,20}$")


# --------------------------------------------------------------------------- helpers


def _refuse(model, field: str, code: str, message, record: str = ""):
    problems = Problems(model, record)
    problems.add(field, code, message)
    problems.raise_if_any()


def _forbidden(model, record: str = ""):
    raise BusinessRuleError([Problem("", "forbidden", _("You may not do this for this record."),
                                     record=record)])


def _in_scope(user, obj, action: str) -> bool:
    """The user's role allows ``action`` on ``obj``'s model and the record is in scope."""
    if user is None:
        return True  # the system (demo, tasks)
    q = scope_q(type(obj), user, action)
    if q is NOTHING:
        return False
    return type(obj)._base_manager.filter(q, pk=obj.pk).exists() if q else True


def may_order(user, camera: Camera) -> bool:
    """May order field work on this camera (fault, relocation, inspection)."""
    if user is None:
        return True
    if not (getattr(user, "is_authenticated", False) and user.is_active):
        return False
    if not (user.is_superuser or role_allows(user.role, "workorder", ADD)):
        return False
    return _in_scope(user, camera, "view")


def may_operate(user, camera: Camera | None = None) -> bool:
    """May run the estate's field work and keys (camera CHANGE) for this camera."""
    if user is None:
        return True
    if not (getattr(user, "is_authenticated", False) and user.is_active):
        return False
    if not (user.is_superuser or role_allows(user.role, "camera", CHANGE)):
        return False
    return camera is None or _in_scope(user, camera, "change")


def may_request(user, institution) -> bool:
    """May ask for a camera in one of ``institution``'s rooms."""
    if user is None:
        return True
    if not (getattr(user, "is_authenticated", False) and user.is_active):
        return False
    if user.is_superuser:
        return True
    if not (role_allows(user.role, "camera", ADD) or role_allows(user.role, "workorder", ADD)):
        return False
    from skillguard.registry.models import Institution

    return Institution.objects.restrict(user).filter(pk=institution.pk).exists()


def _require_order(actor, camera):
    if not may_order(actor, camera):
        _forbidden(Camera, str(camera))


def _require_operate(actor, camera):
    if not may_operate(actor, camera):
        _forbidden(Camera, str(camera))


def _locked(camera: Camera) -> Camera:
    return Camera.objects.select_for_update(of=("self",)).select_related(
        "room", "venue", "institution").get(pk=camera.pk)


def _locked_order(order: WorkOrder) -> WorkOrder:
    return WorkOrder.objects.select_for_update().get(pk=order.pk)


def _step_refused(camera, step_label):
    _refuse(Camera, "state", "wrong_state", lazy_format(
        _("The camera is %(state)s: it cannot be %(step)s now."),
        state=S(camera.state).label, step=step_label), str(camera))


def _move(actor, camera: Camera, to_state: str, step_label, comment="", fields=()):
    """Save ``camera`` in ``to_state`` (a legal transition) and audit it."""
    if to_state not in TRANSITIONS.get(camera.state, set()):
        _step_refused(camera, step_label)
    from_state = camera.state
    camera.state = to_state
    try:
        with transaction.atomic():
            camera.save(update_fields=["state", "updated_at", *fields])
    except IntegrityError as exc:
        if "camera_one_in_service_per_room" in str(exc):
            camera.state = from_state
            _refuse(Camera, "room", "room_has_camera", lazy_format(
                _("Room %(room)s already has a camera in service: retire or relocate it "
                  "first."), room=camera.room or "—"), str(camera))
        raise
    audit.record_transition(actor, camera, from_state, to_state, comment=str(comment)[:2000])
    return camera


def _order_state(actor, order: WorkOrder, to_state: str, comment="", fields=()):
    from_state = order.state
    order.state = to_state
    if to_state in (W.DONE, W.FAILED, W.CANCELLED):
        order.completed_at = timezone.now()
        fields = (*fields, "completed_at")
    order.save(update_fields=["state", "updated_at", *fields])
    audit.record_transition(actor, order, from_state, to_state, comment=str(comment)[:2000])
    return order


def _require_order_open(order: WorkOrder, step_label):
    if order.state not in OPEN_WORK_ORDER_STATES:
        _refuse(WorkOrder, "state", "wrong_state", lazy_format(
            _("The work order is %(state)s: it cannot be %(step)s now."),
            state=W(order.state).label, step=step_label), str(order))


def _require_kind(order: WorkOrder, kinds, step_label):
    if order.kind not in kinds:
        _refuse(WorkOrder, "kind", "wrong_kind", lazy_format(
            _("A work order of kind “%(kind)s” cannot be %(step)s."),
            kind=K(order.kind).label, step=step_label), str(order))


def _new_order(actor, camera, kind, *, venue=None, room=None, fault="", technician_name="",
               technician_phone="", appointment_at=None) -> WorkOrder:
    order = WorkOrder.objects.create(
        camera=camera, district_id=camera.district_id, institution_id=camera.institution_id,
        kind=kind, venue=venue or camera.venue, room=room or camera.room,
        fault_description=fault, technician_name=technician_name,
        technician_phone=technician_phone, appointment_at=appointment_at,
        state=W.SCHEDULED if (technician_name and appointment_at) else W.OPEN,
        created_by=actor if getattr(actor, "is_authenticated", False) else None)
    audit.record_created(actor, order)
    return order


def _open_orders(camera, kind):
    return WorkOrder.objects.filter(camera=camera, kind=kind, state__in=OPEN_WORK_ORDER_STATES)


def _check_site(problems: Problems, institution, venue, room):
    if venue is None:
        problems.add("venue", "required", _("Choose the venue."))
    elif venue.institution_id != institution.pk:
        problems.add("venue", "wrong_institution", lazy_format(
            _("Venue %(venue)s does not belong to %(institution)s."), venue=venue.name,
            institution=institution.name))
    elif not venue.active:
        problems.add("venue", "inactive", _("This venue is no longer active."))
    if room is None:
        problems.add("room", "required", _("Choose the classroom."))
    elif venue is not None and room.venue_id != venue.pk:
        problems.add("room", "wrong_venue", lazy_format(
            _("Room %(room)s is not in venue %(venue)s."), room=room.name, venue=venue.name))


def _room_taken(room, *, exclude=None) -> Camera | None:
    qs = Camera.objects.filter(room=room, state__in=ACTIVE_STATES)
    if exclude is not None:
        qs = qs.exclude(pk=exclude.pk)
    cam = qs.first()
    if cam is None:  # a relocation on its way to this room
        order = (WorkOrder.objects.filter(room=room, kind=K.RELOCATION_INSTALL,
                                          state__in=OPEN_WORK_ORDER_STATES)
                 .exclude(camera=exclude).select_related("camera").first())
        cam = order.camera if order else None
    return cam


def _check_technician(problems: Problems, name, phone, appointment_at, *, past_ok=False):
    if not (name or "").strip():
        problems.add("technician_name", "required", _("Name the technician."))
    if not (phone or "").strip():
        problems.add("technician_phone", "required", _("Give the technician's phone number."))
    elif not PHONE_RE.match(phone.strip()):
        problems.add("technician_phone", "invalid", _("Not a phone number."))
    if appointment_at is None:
        problems.add("appointment_at", "required", _("Give the appointment time."))
    elif not past_ok and appointment_at < timezone.now() - dt.timedelta(days=1):
        problems.add("appointment_at", "in_past", _("The appointment is in the past."))


def _photos(actor, order, files, field="photos"):
    out = []
    for upload in files or ():
        name = os.path.basename(getattr(upload, "name", "") or "")
        ext = os.path.splitext(name)[1].lower()
        problems = Problems(WorkOrder, str(order))
        if ext not in PHOTO_EXTENSIONS:
            problems.add(field, "file_type", lazy_format(
                _("“%(name)s”: only photos are accepted (%(allowed)s)."), name=name,
                allowed=", ".join(sorted(PHOTO_EXTENSIONS))))
        elif not upload.size:
            problems.add(field, "file_empty", lazy_format(_("“%(name)s” is empty."), name=name))
        elif upload.size > MAX_PHOTO_BYTES:
            problems.add(field, "file_too_large", lazy_format(
                _("“%(name)s” is larger than %(mb)s MB."), name=name,
                mb=MAX_PHOTO_BYTES // (1024 * 1024)))
        problems.raise_if_any()
        photo = WorkOrderPhoto(work_order=order, name=name[:200], size=upload.size,
                               uploaded_by=actor if getattr(actor, "is_authenticated", False)
                               else None)
        photo.file.save(name, upload, save=False)
        photo.save()
        audit.record_created(actor, photo)
        out.append(photo)
    return out


def _check_photo(upload, field="position_photo"):
    if upload is None:
        return
    name = os.path.basename(getattr(upload, "name", "") or "")
    if os.path.splitext(name)[1].lower() not in PHOTO_EXTENSIONS or not upload.size \
            or upload.size > MAX_PHOTO_BYTES:
        _refuse(Camera, field, "file_type", lazy_format(
            _("“%(name)s”: give a photo (%(allowed)s, at most %(mb)s MB)."), name=name,
            allowed=", ".join(sorted(PHOTO_EXTENSIONS)), mb=MAX_PHOTO_BYTES // (1024 * 1024)))


def _aware(moment):
    """A datetime from a form or the API, in the platform's time zone when it has none."""
    if moment is not None and timezone.is_naive(moment):
        return timezone.make_aware(moment)
    return moment


def _pending_serial() -> str:
    return "PENDING-" + secrets.token_hex(6).upper()


def _stream_name() -> str:
    return "cam" + secrets.token_hex(6)


# --------------------------------------------------------------------------- installation


@transaction.atomic
def request_installation(actor, *, institution, venue, room, note="") -> WorkOrder:
    """An institution (or its supervisor) asks for a camera in a classroom: a camera point
    in state ``requested`` and its installation work order."""
    if institution is None:
        _refuse(Camera, "institution", "required", _("Choose the institution."))
    if not may_request(actor, institution):
        _forbidden(Camera, str(institution))
    problems = Problems(Camera, str(institution))
    _check_site(problems, institution, venue, room)
    problems.raise_if_any()
    taken = _room_taken(room)
    if taken is not None:
        _refuse(Camera, "room", "room_has_camera", lazy_format(
            _("Room %(room)s already has camera %(serial)s (%(state)s)."), room=room,
            serial=taken.serial, state=S(taken.state).label), str(institution))
    camera = Camera.objects.create(
        district_id=institution.district_id, institution=institution, venue=venue, room=room,
        serial=_pending_serial(), stream_name=_stream_name(), state=S.REQUESTED)
    audit.record_created(actor, camera)
    return _new_order(actor, camera, K.INSTALL, venue=venue, room=room, fault=note or "")


@transaction.atomic
def schedule_work_order(actor, order: WorkOrder, *, technician_name, technician_phone,
                        appointment_at) -> WorkOrder:
    """A technician and an appointment for an open work order (any kind). Scheduling an
    installation moves its camera from ``requested`` to ``scheduled``."""
    order = _locked_order(order)
    camera = _locked(order.camera)
    appointment_at = _aware(appointment_at)
    _require_operate(actor, camera)
    _require_order_open(order, pgettext_lazy("camera step", "scheduled"))
    problems = Problems(WorkOrder, str(order))
    _check_technician(problems, technician_name, technician_phone, appointment_at)
    problems.raise_if_any()
    before = audit.snapshot(order)
    order.technician_name = technician_name.strip()[:64]
    order.technician_phone = technician_phone.strip()[:20]
    order.appointment_at = appointment_at
    if order.kind == K.INSTALL and camera.state == S.REQUESTED:
        _move(actor, camera, S.SCHEDULED, pgettext_lazy("camera step", "scheduled"))
    if order.state == W.OPEN:
        order.state = W.SCHEDULED
    order.save(update_fields=["technician_name", "technician_phone", "appointment_at",
                              "state", "updated_at"])
    audit.record_updated(actor, order, before, comment="schedule")
    return order


def schedule_installation(actor, order: WorkOrder, *, technician_name, technician_phone,
                          appointment_at) -> WorkOrder:
    if order.kind != K.INSTALL:
        _require_kind(order, (K.INSTALL,), _("scheduled as an installation"))
    return schedule_work_order(actor, order, technician_name=technician_name,
                               technician_phone=technician_phone,
                               appointment_at=appointment_at)


def _check_identity(problems: Problems, camera, serial, model, iccid):
    serial = (serial or "").strip()
    if not serial:
        problems.add("serial", "required", _("Give the camera's serial number."))
    elif serial.upper().startswith("PENDING-"):
        problems.add("serial", "invalid", _("Give the serial number printed on the device."))
    elif Camera.objects.filter(serial=serial).exclude(pk=camera.pk).exists():
        problems.add("serial", "duplicate", lazy_format(
            _("Serial number %(serial)s is already registered to another camera."),
            serial=serial))
    if not (model or "").strip():
        problems.add("model", "required", _("Give the camera model."))
    iccid = (iccid or "").strip().upper()
    if not iccid:
        problems.add("iccid", "required", _("Give the SIM card's ICCID."))
    elif not ICCID_RE.match(iccid):
        problems.add("iccid", "invalid", _("An ICCID has 19 to 20 digits and starts with 89."))
    elif Camera.objects.filter(iccid=iccid).exclude(pk=camera.pk).exclude(
            state=S.RETIRED).exists():
        problems.add("iccid", "duplicate", _("This SIM card is in another camera."))
    return serial, (model or "").strip(), iccid


@transaction.atomic
def record_installation(actor, order: WorkOrder, *, serial, model, iccid, position_photo=None,
                        result="", photos=()) -> Camera:
    """The technician installed the device: identity, SIM, position photo. Camera →
    ``installed``; the installation work order is done."""
    order = _locked_order(order)
    camera = _locked(order.camera)
    _require_operate(actor, camera)
    _require_kind(order, (K.INSTALL,), _("recorded as an installation"))
    _require_order_open(order, _("recorded"))
    if camera.state != S.SCHEDULED:
        _step_refused(camera, _("installed (schedule the installation first)"))
    problems = Problems(Camera, str(camera))
    serial, model, iccid = _check_identity(problems, camera, serial, model, iccid)
    if position_photo is None and not camera.position_photo:
        problems.add("position_photo", "required",
                     _("Add a photo of where the camera hangs."))
    problems.raise_if_any()
    _check_photo(position_photo)
    before = audit.snapshot(camera)
    camera.serial, camera.model, camera.iccid = serial[:64], model[:64], iccid[:22]
    camera.installed_at = timezone.now()
    if position_photo is not None:
        camera.position_photo.save(os.path.basename(position_photo.name), position_photo,
                                   save=False)
    camera.save(update_fields=["serial", "model", "iccid", "installed_at", "position_photo",
                               "updated_at"])
    audit.record_updated(actor, camera, before, comment="installation")
    _move(actor, camera, S.INSTALLED, pgettext_lazy("camera step", "installed"))
    order.result = (result or "").strip()
    _photos(actor, order, photos)
    _order_state(actor, order, W.DONE, comment="installed", fields=("result",))
    return camera


@transaction.atomic
def put_in_service(actor, camera: Camera) -> tuple[Camera, str]:
    """An installed camera starts service: it gets a new stream key, returned ONCE."""
    camera = _locked(camera)
    _require_operate(actor, camera)
    if camera.state != S.INSTALLED:
        _step_refused(camera, _("put in service"))
    if camera.room_id is None:
        _refuse(Camera, "room", "required", _("The camera has no classroom."), str(camera))
    camera.in_service_since = timezone.now()
    _move(actor, camera, S.IN_SERVICE, _("put in service"), fields=("in_service_since",))
    before = audit.snapshot(camera)
    key = keys.issue_stream_key(camera)
    audit.record_updated(actor, camera, before, comment="stream key issued")
    return camera, key


@transaction.atomic
def rotate_stream_key(actor, camera: Camera) -> tuple[Camera, str]:
    """A new stream key (the old one stops working at once), returned ONCE."""
    camera = _locked(camera)
    _require_operate(actor, camera)
    if camera.state not in (S.INSTALLED, S.IN_SERVICE, S.FAULTY):
        _step_refused(camera, _("given a new stream key"))
    before = audit.snapshot(camera)
    key = keys.issue_stream_key(camera)
    audit.record_updated(actor, camera, before, comment="stream key rotated")
    return camera, key


@transaction.atomic
def revoke_stream_key(actor, camera: Camera, *, reason="") -> Camera:
    """The stream key stops working (a stolen or leaked key); pushes are refused."""
    camera = _locked(camera)
    _require_operate(actor, camera)
    if not (reason or "").strip():
        _refuse(Camera, "stream_key_hint", "reason_required",
                _("Give the reason for revoking the stream key."), str(camera))
    if not camera.stream_key_hash:
        _refuse(Camera, "stream_key_hint", "no_key", _("The camera has no stream key."),
                str(camera))
    if camera.stream_key_revoked_at is not None:
        _refuse(Camera, "stream_key_hint", "already_revoked",
                _("The stream key is already revoked."), str(camera))
    before = audit.snapshot(camera)
    camera.stream_key_revoked_at = timezone.now()
    camera.save(update_fields=["stream_key_revoked_at", "updated_at"])
    audit.record_updated(actor, camera, before, comment=f"stream key revoked: {reason}"[:2000])
    return camera


# --------------------------------------------------------------------------- repair


@transaction.atomic
def report_fault(actor, camera: Camera, *, description) -> WorkOrder:
    """A camera in service is broken: camera → ``faulty``, a repair work order opens."""
    camera = _locked(camera)
    _require_order(actor, camera)
    if not (description or "").strip():
        _refuse(WorkOrder, "fault_description", "required", _("Describe the fault."),
                str(camera))
    if camera.state == S.FAULTY and _open_orders(camera, K.REPAIR).exists():
        _refuse(Camera, "state", "already_reported",
                _("A fault is already reported: its repair work order is open."), str(camera))
    if camera.state != S.FAULTY:
        if camera.state != S.IN_SERVICE:
            _step_refused(camera, _("reported faulty"))
        _move(actor, camera, S.FAULTY, _("reported faulty"), comment=description)
    return _new_order(actor, camera, K.REPAIR, fault=description.strip())


@transaction.atomic
def record_repair_visit(actor, order: WorkOrder, *, result, fixed=False, photos=()) -> WorkOrder:
    """The technician's visit: what was found and done. ``fixed`` closes the order and
    puts the camera back in service; otherwise the order stays open for another visit."""
    order = _locked_order(order)
    camera = _locked(order.camera)
    _require_operate(actor, camera)
    _require_kind(order, (K.REPAIR,), _("recorded as a repair visit"))
    _require_order_open(order, _("recorded"))
    if not (result or "").strip():
        _refuse(WorkOrder, "result", "required", _("Describe what the technician found and did."),
                str(order))
    stamp = timezone.localtime().strftime("%Y-%m-%d %H:%M")
    before = audit.snapshot(order)
    order.result = (order.result + "\n" if order.result else "") + f"[{stamp}] {result.strip()}"
    order.save(update_fields=["result", "updated_at"])
    audit.record_updated(actor, order, before, comment="repair visit")
    _photos(actor, order, photos)
    if fixed:
        return mark_fixed(actor, order)
    return order


@transaction.atomic
def mark_fixed(actor, order: WorkOrder, *, result="") -> WorkOrder:
    """The repair is done: order done, camera ``faulty`` → ``in_service``."""
    order = _locked_order(order)
    camera = _locked(order.camera)
    _require_operate(actor, camera)
    _require_kind(order, (K.REPAIR,), _("marked fixed"))
    _require_order_open(order, _("marked fixed"))
    if result:
        order.result = (order.result + "\n" if order.result else "") + result.strip()
    if camera.state == S.FAULTY:
        if _open_orders(camera, K.REPAIR).exclude(pk=order.pk).exists():
            pass  # another fault still open: the camera stays faulty
        else:
            _move(actor, camera, S.IN_SERVICE, _("put back in service"), comment="fixed")
    return _order_state(actor, order, W.DONE, comment="fixed", fields=("result",))


# --------------------------------------------------------------------------- relocation


@transaction.atomic
def start_relocation(actor, camera: Camera, *, venue, room, reason="") -> tuple[WorkOrder,
                                                                                 WorkOrder]:
    """The institution moves the class: a removal order at the old site and an installation
    order at the new one; camera → ``relocating`` (it may not push until reinstalled)."""
    camera = _locked(camera)
    _require_order(actor, camera)
    if S.RELOCATING not in TRANSITIONS.get(camera.state, set()):
        _step_refused(camera, _("relocated"))
    problems = Problems(Camera, str(camera))
    _check_site(problems, camera.institution, venue, room)
    if room is not None and room.pk == camera.room_id:
        problems.add("room", "same_room", _("The camera already hangs in this room."))
    problems.raise_if_any()
    taken = _room_taken(room, exclude=camera)
    if taken is not None:
        _refuse(Camera, "room", "room_has_camera", lazy_format(
            _("Room %(room)s already has camera %(serial)s (%(state)s)."), room=room,
            serial=taken.serial, state=S(taken.state).label), str(camera))
    _move(actor, camera, S.RELOCATING, _("relocated"), comment=reason)
    removal = _new_order(actor, camera, K.RELOCATION_REMOVAL, fault=reason or "")
    install = _new_order(actor, camera, K.RELOCATION_INSTALL, venue=venue, room=room,
                         fault=reason or "")
    return removal, install


@transaction.atomic
def complete_relocation(actor, camera: Camera, *, result="", position_photo=None,
                        photos=()) -> Camera:
    """Removed from the old site and installed at the new one: both orders done, the camera
    hangs in its new room, ``installed`` (put it in service to issue its new key)."""
    camera = _locked(camera)
    _require_operate(actor, camera)
    if camera.state != S.RELOCATING:
        _step_refused(camera, _("moved to its new site"))
    install = _open_orders(camera, K.RELOCATION_INSTALL).order_by("-pk").first()
    if install is None:
        _refuse(Camera, "state", "no_order", _("No open relocation installation order."),
                str(camera))
    if position_photo is None:
        _refuse(Camera, "position_photo", "required",
                _("Add a photo of where the camera hangs in its new room."), str(camera))
    _check_photo(position_photo)
    if Camera.objects.filter(room=install.room, state__in=ACTIVE_STATES).exclude(
            pk=camera.pk).exists():
        _refuse(Camera, "room", "room_has_camera", lazy_format(
            _("Room %(room)s has received another camera in the meantime."),
            room=install.room), str(camera))
    for removal in _open_orders(camera, K.RELOCATION_REMOVAL):
        _order_state(actor, removal, W.DONE, comment="removed")
    before = audit.snapshot(camera)
    camera.venue_id, camera.room_id = install.venue_id, install.room_id
    camera.installed_at = timezone.now()
    camera.position_photo.save(os.path.basename(position_photo.name), position_photo,
                               save=False)
    camera.save(update_fields=["venue", "room", "installed_at", "position_photo",
                               "updated_at"])
    audit.record_updated(actor, camera, before, comment="relocated")
    _move(actor, camera, S.INSTALLED, _("moved to its new site"))
    install.result = (result or "").strip()
    _photos(actor, install, photos)
    _order_state(actor, install, W.DONE, comment="installed at the new site",
                 fields=("result",))
    return camera


# --------------------------------------------------------------------------- inspection


@transaction.atomic
def schedule_inspection(actor, camera: Camera, *, technician_name="", technician_phone="",
                        appointment_at=None) -> WorkOrder:
    """Order the yearly inspection (年检) of a camera in service."""
    camera = _locked(camera)
    appointment_at = _aware(appointment_at)
    _require_order(actor, camera)
    if camera.state not in (S.IN_SERVICE, S.FAULTY):
        _step_refused(camera, _("inspected"))
    if _open_orders(camera, K.INSPECTION).exists():
        _refuse(WorkOrder, "kind", "already_open",
                _("An inspection of this camera is already open."), str(camera))
    if technician_name or technician_phone or appointment_at:
        problems = Problems(WorkOrder, str(camera))
        _check_technician(problems, technician_name, technician_phone, appointment_at)
        problems.raise_if_any()
    return _new_order(actor, camera, K.INSPECTION, technician_name=(technician_name or "")[:64],
                      technician_phone=(technician_phone or "")[:20],
                      appointment_at=appointment_at)


@transaction.atomic
def order_due_inspections(*, now=None) -> int:
    """The system orders the yearly inspection of every camera in service whose inspection
    is due and that has no open inspection order (daily task; idempotent). Bulk-written."""
    from skillguard.cameras.queries import inspection_due

    open_inspection = WorkOrder.objects.filter(camera_id=OuterRef("pk"), kind=K.INSPECTION,
                                               state__in=OPEN_WORK_ORDER_STATES)
    due = (inspection_due(Camera.objects.all(), now=now)
           .filter(~Exists(open_inspection)).order_by("pk"))
    orders = [WorkOrder(camera_id=c.pk, district_id=c.district_id,
                        institution_id=c.institution_id, kind=K.INSPECTION, venue_id=c.venue_id,
                        room_id=c.room_id, fault_description="yearly inspection due")
              for c in due]
    WorkOrder.objects.bulk_create(orders, batch_size=2000)
    audit.record_many_created(None, orders, comment="yearly inspection due")
    return len(orders)


def parse_checklist(checklist) -> dict:
    """{"device": {"ok": bool, "note": str}, …}: the four items, each pass or fail; a failed
    item needs a note."""
    problems = Problems(Inspection)
    checklist = checklist if isinstance(checklist, dict) else {}
    out = {}
    for key, label in CHECKLIST_ITEMS:
        item = checklist.get(key)
        if isinstance(item, bool):
            item = {"ok": item}
        if isinstance(item, str):
            item = {"ok": item in ("pass", "ok", "true", "1")} if item in (
                "pass", "fail", "ok", "true", "false", "1", "0") else None
        if not isinstance(item, dict) or not isinstance(item.get("ok"), bool):
            problems.add("checklist", f"{key}_missing", lazy_format(
                _("%(item)s: say whether it passes or fails."), item=label))
            continue
        note = str(item.get("note") or "").strip()[:500]
        if not item["ok"] and not note:
            problems.add("checklist", f"{key}_note", lazy_format(
                _("%(item)s failed: say what is wrong."), item=label))
        out[key] = {"ok": item["ok"], "note": note}
    problems.raise_if_any()
    return out


@transaction.atomic
def record_inspection(actor, order: WorkOrder, *, checklist, performed_at=None, note="",
                      photos=()) -> Inspection:
    """The inspection's checklist. All four items pass: the camera passed. A failed item:
    the camera is ``faulty`` and a repair work order opens with the failed items."""
    order = _locked_order(order)
    camera = _locked(order.camera)
    _require_operate(actor, camera)
    _require_kind(order, (K.INSPECTION,), _("recorded as an inspection"))
    _require_order_open(order, _("recorded"))
    items = parse_checklist(checklist)
    performed_at = _aware(performed_at) or timezone.now()
    if performed_at > timezone.now() + dt.timedelta(minutes=5):
        _refuse(Inspection, "performed_at", "in_future", _("The inspection is in the future."),
                str(order))
    if camera.state not in (S.IN_SERVICE, S.FAULTY):
        _step_refused(camera, _("inspected"))
    passed = all(i["ok"] for i in items.values())
    inspection = Inspection.objects.create(
        camera=camera, work_order=order, district_id=camera.district_id,
        institution_id=camera.institution_id, year=timezone.localtime(performed_at).year,
        checklist=items, passed=passed, note=(note or "").strip(), performed_at=performed_at,
        performed_by=actor if getattr(actor, "is_authenticated", False) else None)
    audit.record_created(actor, inspection)
    _photos(actor, order, photos)
    order.result = str(_("Passed") if passed else _("Failed"))
    _order_state(actor, order, W.DONE, comment="passed" if passed else "failed",
                 fields=("result",))
    if not passed:
        labels = dict(CHECKLIST_ITEMS)
        fault = "; ".join(f"{labels[k]}: {v['note']}" for k, v in items.items() if not v["ok"])
        if camera.state == S.IN_SERVICE:
            _move(actor, camera, S.FAULTY, _("reported faulty"), comment="inspection failed")
        if not _open_orders(camera, K.REPAIR).exists():
            _new_order(actor, camera, K.REPAIR,
                       fault=str(lazy_format(_("Inspection failed — %(items)s"), items=fault)))
    return inspection


# --------------------------------------------------------------------------- end of life


@transaction.atomic
def retire(actor, camera: Camera, *, reason="") -> Camera:
    """The camera leaves the estate: key revoked, open work orders cancelled."""
    camera = _locked(camera)
    _require_operate(actor, camera)
    if not (reason or "").strip():
        _refuse(Camera, "state", "reason_required", _("Give the reason for retiring the camera."),
                str(camera))
    if camera.state == S.RETIRED:
        _step_refused(camera, pgettext_lazy("camera step", "decommissioned"))
    fields = ()
    if camera.stream_key_hash and camera.stream_key_revoked_at is None:
        camera.stream_key_revoked_at = timezone.now()
        fields = ("stream_key_revoked_at",)
    _move(actor, camera, S.RETIRED, pgettext_lazy("camera step", "decommissioned"), comment=reason, fields=fields)
    for order in WorkOrder.objects.filter(camera=camera, state__in=OPEN_WORK_ORDER_STATES):
        _order_state(actor, order, W.CANCELLED, comment="camera retired")
    return camera


@transaction.atomic
def cancel_work_order(actor, order: WorkOrder, *, reason="") -> WorkOrder:
    """An open order that will not be done (a repair or inspection ordered by mistake). An
    installation order is cancelled by retiring its camera point."""
    order = _locked_order(order)
    _require_operate(actor, order.camera)
    _require_order_open(order, pgettext_lazy("camera step", "cancelled"))
    if order.kind in (K.INSTALL, K.RELOCATION_INSTALL, K.RELOCATION_REMOVAL):
        _refuse(WorkOrder, "kind", "cannot_cancel", _(
            "Installation and relocation orders end with the camera: retire the camera "
            "instead."), str(order))
    if not (reason or "").strip():
        _refuse(WorkOrder, "result", "reason_required", _("Give the reason."), str(order))
    order.result = reason.strip()
    _order_state(actor, order, W.CANCELLED, comment=reason, fields=("result",))
    camera = _locked(order.camera)
    if (order.kind == K.REPAIR and camera.state == S.FAULTY
            and not _open_orders(camera, K.REPAIR).exists()):
        _move(actor, camera, S.IN_SERVICE, _("put back in service"), comment="repair cancelled")
    return order
