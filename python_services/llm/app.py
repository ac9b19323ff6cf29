"""The llm service: prompts, history windows, providers, token accounting."""
from __future__ import annotations

from ..common.web import create_base_app


def create_app(test_config: dict | None = None):
    app = create_base_app("llm", test_config)
    return app
