"""Fixtures for API tests: personal tokens made through the token service, and header helpers."""

from __future__ import annotations

import pytest

from dealgate.api.services import create_token


@pytest.fixture
def token_for(world):
    """token_for(user) -> a fresh bearer secret for that user."""

    def make(user, name: str = "test") -> str:
        return create_token(user=user, name=name)[1]

    return make


@pytest.fixture
def auth(token_for):
    """auth(user) -> request headers carrying a bearer token of that user."""

    def headers(user) -> dict[str, str]:
        return {"Authorization": f"Bearer {token_for(user)}"}

    return headers

