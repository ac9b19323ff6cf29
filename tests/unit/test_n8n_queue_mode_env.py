"""Two HybridFlow stacks in queue mode on one Redis (the flow tests' two stacks,
or two deployments sharing a Redis) must not see each other's keys: every
HybridFlow has the same workflow ids, and n8n caches each published workflow
in Redis under its id."""
from __future__ import annotations

from pathlib import Path

from ops import n8n

BASE = {"N8N_ENCRYPTION_KEY": "k", "N8N_WEBHOOK_URL": "http://127.0.0.1:8080/"}


def queue_env(database: str, **extra) -> dict:
    return n8n.environment({**BASE, **extra}, server_url="postgresql://postgres@127.0.0.1:5432/postgres",
                           database=database, port=5678, broker_port=5679, user_folder=Path("/tmp/n8n"),
                           queue_workers=1)


def test_two_stacks_on_one_redis_keep_their_queues_and_their_workflow_caches_apart():
    one, other = queue_env("hf_one_n8n"), queue_env("hf_other_n8n")
    for key in ("QUEUE_BULL_PREFIX", "N8N_REDIS_KEY_PREFIX"):
        assert one[key] and other[key] and one[key] != other[key], key


def test_a_stack_that_names_its_queue_prefix_gets_the_same_prefix_for_n8ns_other_keys():
    env = queue_env("hf_x_n8n", QUEUE_BULL_PREFIX="hf-shop")
    assert env["N8N_REDIS_KEY_PREFIX"] == "hf-shop"


def test_without_queue_mode_n8n_is_given_no_redis_settings():
    env = n8n.environment(BASE, server_url="postgresql://postgres@127.0.0.1:5432/postgres", database="d",
                          port=5678, broker_port=5679, user_folder=Path("/tmp/n8n"))
    assert "N8N_REDIS_KEY_PREFIX" not in env and env.get("EXECUTIONS_MODE") != "queue"
