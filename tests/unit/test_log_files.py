"""Log files: rotated by size with a few kept, safely when several processes
(gunicorn's workers) write the same file; and the chat hash the logs carry."""
from __future__ import annotations

import json
import logging
import multiprocessing
import subprocess
import sys

import pytest

from python_services.common.config import PROJECT_ROOT, Config, ConfigError
from python_services.common.logs import (
    JsonFormatter,
    SharedRotatingFileHandler,
    chat_hash,
    chat_hash_key,
    configure_logging,
)


def _write_lines(path: str, worker: int, count: int, max_bytes: int, backups: int) -> None:
    logger = logging.getLogger(f"test.worker{worker}")
    logger.propagate = False
    handler = SharedRotatingFileHandler(path, max_bytes, backups)
    handler.setFormatter(JsonFormatter("test"))
    logger.addHandler(handler)
    for i in range(count):
        logger.warning("line", extra={"fields": {"worker": worker, "n": i, "pad": "x" * 200}})
    handler.close()


def lines_in(tmp_path, name="svc.log") -> list[dict]:
    found = []
    for path in tmp_path.glob(name + "*"):
        if not path.name.endswith(".lock"):
            found += [json.loads(line) for line in path.read_text().splitlines()]
    return found


def test_two_processes_writing_one_file_rotate_it_without_losing_a_line(tmp_path):
    path, count, max_bytes = str(tmp_path / "svc.log"), 1500, 64 * 1024
    ctx = multiprocessing.get_context("fork")
    workers = [ctx.Process(target=_write_lines, args=(path, w, count, max_bytes, 100)) for w in (1, 2)]
    for w in workers:
        w.start()
    for w in workers:
        w.join(60)
        assert w.exitcode == 0

    written = sorted((line["worker"], line["n"]) for line in lines_in(tmp_path))
    assert written == sorted((w, n) for w in (1, 2) for n in range(count))
    files = [p for p in tmp_path.glob("svc.log*") if not p.name.endswith(".lock")]
    assert len(files) > 5
    line_size = max(len(line) for p in files for line in p.read_text().splitlines()) + 1
    # a file is rotated once it reaches the size; a line or two per process may land past it
    assert all(p.stat().st_size <= max_bytes + 2 * line_size for p in files)


def test_only_the_configured_number_of_old_files_is_kept(tmp_path):
    _write_lines(str(tmp_path / "svc.log"), 1, 3000, 64 * 1024, 2)
    names = sorted(p.name for p in tmp_path.glob("svc.log*") if not p.name.endswith(".lock"))
    assert names == ["svc.log", "svc.log.1", "svc.log.2"]


def test_a_service_logs_to_the_file_it_is_given(tmp_path):
    path = tmp_path / "logs" / "collision.log"
    try:
        configure_logging("collision", "INFO", file=str(path), max_bytes=64 * 1024, backups=3)
        logging.getLogger("hybridflow.test").info("hello")
        assert json.loads(path.read_text().splitlines()[-1])["msg"] == "hello"
    finally:
        configure_logging("test", "INFO")


def test_a_chat_id_and_its_bare_number_hash_alike_and_differ_per_deployment():
    key = chat_hash_key("token-of-one-deployment")
    assert chat_hash("5511987654321@s.whatsapp.net", key) == chat_hash("5511987654321", key)
    assert chat_hash("5511987654321", key) != chat_hash("5511987654322", key)
    assert chat_hash("5511987654321", key) != chat_hash("5511987654321", chat_hash_key("another"))
    assert chat_hash("5511987654321", key).startswith("h:") and len(chat_hash("5511987654321", key)) == 14
    assert "5511987654321" not in chat_hash("5511987654321", key)


def test_the_operator_can_compute_a_chats_hash_to_grep_for_it(tmp_path):
    env_file = tmp_path / ".env"
    env_file.write_text("SERVICE_TOKEN=token-of-one-deployment\n")
    done = subprocess.run([sys.executable, "-m", "python_services.common.logs", "chat-hash", "5511987654321"],
                          cwd=PROJECT_ROOT, capture_output=True, text=True, timeout=60,
                          env={"HYBRIDFLOW_ENV_FILE": str(env_file), "PATH": "/usr/bin:/bin"})
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == chat_hash("5511987654321", chat_hash_key("token-of-one-deployment"))


@pytest.mark.parametrize("variables, message", [
    ({"LOG_MAX_BYTES": "10"}, "LOG_MAX_BYTES"),
    ({"LOG_BACKUPS": "0"}, "LOG_BACKUPS"),
    ({"LOG_PHONE_NUMBERS": "sometimes"}, "LOG_PHONE_NUMBERS"),
    ({"LOG_LEVEL": "chatty"}, "LOG_LEVEL"),
    ({"PRUNE_BATCH_SIZE": "0"}, "PRUNE_BATCH_SIZE"),
    ({"PRUNE_MAX_BATCHES": "x"}, "PRUNE_MAX_BATCHES"),
    ({"FLOW_ERRORS_RETENTION_DAYS": "0"}, "FLOW_ERRORS_RETENTION_DAYS"),
])
def test_a_bad_log_or_prune_variable_stops_the_start_naming_it(tmp_path, variables, message):
    with pytest.raises(ConfigError, match=message):
        Config.from_env(variables, env_file=tmp_path / "none")


def test_log_and_prune_defaults(tmp_path):
    cfg = Config.from_env({}, env_file=tmp_path / "none")
    assert (cfg.log_file, cfg.log_max_bytes, cfg.log_backups, cfg.log_phone_numbers) == ("", 10 * 1024 * 1024, 5, False)
    assert (cfg.prune_batch_size, cfg.prune_max_batches, cfg.flow_errors_retention_days) == (500, 20, 90)


def test_each_service_gets_its_own_file_from_one_setting(tmp_path):
    cfg = Config.from_env({"LOG_FILE": str(tmp_path / "{service}.log")}, env_file=tmp_path / "none")
    try:
        from python_services.common.logs import configure_service_logging

        configure_service_logging("evolution", cfg)
        logging.getLogger("hybridflow.test").info("to the evolution file")
        assert "to the evolution file" in (tmp_path / "evolution.log").read_text()
    finally:
        configure_logging("test", "INFO")
