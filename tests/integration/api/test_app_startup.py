"""What the API does once at start-up for a server process: its start-up objects leave the garbage collector's
walks (a full collection over them paused the server for a quarter of a second)."""

from __future__ import annotations

import gc

from fastapi.testclient import TestClient

from trainforge.api.app import create_app


def test_a_server_app_freezes_its_start_up_objects_and_a_test_app_does_not(settings):
    gc.unfreeze()
    try:
        with TestClient(create_app(settings)) as client:
            assert client.get("/healthz").status_code == 200
            assert gc.get_freeze_count() == 0
        with TestClient(create_app(settings, freeze_gc=True)) as client:
            assert client.get("/healthz").status_code == 200
            assert gc.get_freeze_count() > 10_000  # the libraries' objects, not a handful
    finally:
        gc.unfreeze()
