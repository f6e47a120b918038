"""Logged-in wire clients for the gateway tests."""
from __future__ import annotations

from typing import Any

import pytest
from gateway_wire import Api


@pytest.fixture
def alice(gateway: Any) -> Api:
    api = Api(gateway)
    api.login("alice", gateway.password)
    return api


@pytest.fixture
def bob(gateway: Any) -> Api:
    api = Api(gateway)
    api.login("bob", "bob-Secret-2")
    return api
