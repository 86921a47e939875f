import pytest

from skillguard.registry.models import ClassStatus, TrainingClass


@pytest.mark.django_db
def test_world_builds_through_services(world):
    assert world.a.approved_class.status == ClassStatus.APPROVED
    assert TrainingClass.objects.filter(status=ClassStatus.DRAFT).count() == 2
    assert world.a.draft_class.code.startswith("K")
