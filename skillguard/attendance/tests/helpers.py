"""Helpers of the hours tests: classes in the past, built through the registry services."""
from __future__ import annotations

import datetime as dt

from django.utils import timezone

from skillguard.registry import services
from skillguard.registry.models import Enrolment


def local(d: dt.date, hour: int, minute: int = 0) -> dt.datetime:
    return timezone.make_aware(dt.datetime.combine(d, dt.time(hour, minute)))


def past_class(side, course, *, start: dt.date, days: int = 3, planned_hours: int = 12,
               trainees=None, finish=True, hours=(9, 12), name="历史班"):
    """An approved (and, with ``finish``, finished) class with one session a day."""
    trainees = trainees if trainees is not None else side.trainees
    end = start + dt.timedelta(days=days - 1)
    cls = services.create_class(None, side.institution, name=name, course=course,
                                venue=side.venue, start_date=start, end_date=end,
                                planned_hours=planned_hours, capacity=30,
                                teachers=[side.teacher])
    for k in range(days):
        day = start + dt.timedelta(days=k)
        services.add_session(None, cls, starts_at=local(day, hours[0]),
                             ends_at=local(day, hours[1]), teacher=side.teacher, room=side.room)
    for t in trainees:
        services.enrol_trainee(None, cls, t)
    services.transition_class(None, cls, "submit")
    cls = services.transition_class(None, cls, "approve", "ok")
    if finish:
        cls = services.transition_class(None, cls, "start")
        cls = services.transition_class(None, cls, "finish")
    return cls


def enrolment_of(cls, trainee) -> Enrolment:
    return Enrolment.objects.get(training_class=cls, trainee=trainee)
