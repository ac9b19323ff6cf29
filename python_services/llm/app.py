"""The llm service: prompts, history windows, providers, token accounting."""
from __future__ import annotations

from ..common import metrics
from ..common.web import create_base_app
from ..core import secrets_at_rest


def create_app(test_config: dict | None = None):
    app = create_base_app("llm", test_config)
    from . import routes
    from .providers import LlmOptions
    from .usage import load_prices

    # read once, and a malformed LLM_MAX_RETRIES or LLM_PRICES stops the start
    app.extensions["llm_options"] = LlmOptions.from_config(app.config["HF"])
    app.extensions["llm_prices"] = load_prices(app.config["HF"].llm_prices)
    # tenants' own LLM keys are stored encrypted: no HYBRIDFLOW_SECRET_KEYS, no start
    secrets_at_rest.install(app)
    app.register_blueprint(routes.reply_bp)
    app.register_blueprint(routes.usage_bp)
    # requests by route, replies, tokens and cost at GET /metrics (service token; docs/metrics.md)
    metrics.install(app)
    return app
