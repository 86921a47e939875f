"""Fixtures of the camera-estate tests."""
from __future__ import annotations

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile


@pytest.fixture(autouse=True)
def _media(settings, tmp_path):
    settings.MEDIA_ROOT = str(tmp_path / "media")


def photo(name="position.jpg"):
    return SimpleUploadedFile(name, b"\xff\xd8\xff\xe0 a photo", "image/jpeg")


@pytest.fixture
def operator(world):
    return world.users["city_admin"]
