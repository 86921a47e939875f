"""In Chromium, through htmx: the operator puts an installed camera in service and sees its
stream key once; the estate page shows the district figures."""
from __future__ import annotations

import os

import pytest

from skillguard.cameras import keys
from skillguard.cameras.models import Camera, CameraState
from skillguard.cameras.testing import make_camera

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]
os.environ.setdefault("DJANGO_ALLOW_ASYNC_UNSAFE", "true")  # Playwright's loop in this thread


def test_key_shown_once_in_the_browser(world, browser_login):
    camera, _ = make_camera(world.a.room, state=CameraState.INSTALLED)
    page = browser_login("cityadmin")
    page.goto(f"{page.base_url}/cameras/{camera.pk}/")
    page.click("#step-put_in_service summary")
    page.click("button[name=submit-put_in_service]")
    page.wait_for_selector("#stream-key-value")
    key = page.inner_text("#stream-key-value").strip()
    camera = Camera.objects.get(pk=camera.pk)
    assert camera.state == CameraState.IN_SERVICE
    assert keys.camera_for_stream(camera.stream_name, key) == (camera, "")
    if os.environ.get("SKILLGUARD_SCREENSHOTS"):
        page.screenshot(path=os.environ["SKILLGUARD_SCREENSHOTS"] + "/camera.png", full_page=True)
    page.reload()
    page.wait_for_selector("#camera-key")
    assert key not in page.content() and f"…{key[-4:]}" in page.inner_text("#camera-key")
    page.goto(f"{page.base_url}/cameras/estate/")
    row = page.inner_text(f'tr[data-district="{world.a.district.code}"]')
    assert "100.0%" in row  # coverage of district A: its approved room has the camera
    if os.environ.get("SKILLGUARD_SCREENSHOTS"):
        page.screenshot(path=os.environ["SKILLGUARD_SCREENSHOTS"] + "/estate.png", full_page=True)
