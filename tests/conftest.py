"""Shared pytest setup. Each run uses one backend, chosen by KERAS_BACKEND at import time."""

import keras
import pytest


def pytest_report_header(config):
    return f"keras {keras.__version__}, backend {keras.backend.backend()}"


@pytest.fixture(autouse=True)
def _seed_everything():
    # Same numpy / python / backend seeds for every test, so failures reproduce.
    keras.utils.set_random_seed(1234)
    yield
    keras.backend.clear_session()
