"""A fake LLM server speaking the real wire formats, so the official SDKs
run unchanged against it (base_url):

- Anthropic  POST /v1/messages          (ANTHROPIC_BASE_URL=http://127.0.0.1:N)
- OpenAI     POST /v1/chat/completions  (OPENAI_BASE_URL=http://127.0.0.1:N/v1)
- OpenAI     POST /v1/audio/transcriptions (multipart: model, file, language?)

Images in either chat format (Anthropic base64 `image` blocks, OpenAI
`image_url` data URLs) are checked and recorded in `fake.images` (and in
the request's record under "images"); transcriptions in `fake.requests`
with api "transcription" (the audio as its size and sha256). A
transcription answers the first queued spec with api "transcription"
({"api": "transcription", "text": "...", "status": 500, ...}), else
"fake transcript of <file name>".

In a test:   fake = FakeLLM().start(); fake.enqueue(...); fake.requests; fake.stop()
Standalone:  python -m testkit.fake_llm --port 8099 [--delay 0.2] [--error-ratio 0.1 --error-statuses 429,500]
             then script it over HTTP (JSON bodies):
               POST /_fake/script   {"queue": [spec, ...], "rules": [spec, ...], "delay": s,
                                     "error_ratio": 0.1, "error_statuses": [429, 500]}  (adds)
               POST /_fake/reset    forgets the script and the record
               GET  /_fake/requests every request received: {"api", "path", "headers", "body"}

A spec is a dict; the first queued spec that fits the request is used up
(`times` of it), else the first rule whose `when` the last user text
contains (case-folded), else the default reply "fake reply to: <last user text>".
  {"text": "...", "tokens_in": n, "tokens_out": n}     a success (tokens default to word counts)
  {"status": 429|500|529|..., "retry_after": 0}        an error in that API's own shape
  {"api": "anthropic"|"openai"}                        only for that wire format
  {"when": "opening hours"}                            rules: match on the last user text
  {"times": n}                                         queue: used n times (default 1)
  {"delay": s}                                         wait before answering (timeouts)
With error_ratio set, that share of requests (at random, before the
script is looked at) answers one of error_statuses (default 429 and 500).
Errors carry retry-after (seconds, default 0) and retry-after-ms (default 1),
so the SDKs retry at once and suites stay fast.

The fake checks what the real APIs insist on (an API key, Anthropic's
version header, max_tokens, alternating roles that start with the user) and
answers 400 in the real shape when a request breaks it.
"""
from __future__ import annotations

import argparse
import json
import random
import threading
import time
import uuid
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

from .fake_media import image_parts, transcription

ANTHROPIC_ERRORS = {
    400: "invalid_request_error", 401: "authentication_error", 403: "permission_error",
    404: "not_found_error", 413: "request_too_large", 429: "rate_limit_error",
    500: "api_error", 529: "overloaded_error",
}
OPENAI_ERRORS = {
    400: ("invalid_request_error", None), 401: ("invalid_request_error", "invalid_api_key"),
    404: ("invalid_request_error", "model_not_found"), 429: ("requests", "rate_limit_exceeded"),
    500: ("server_error", None), 503: ("server_error", None),
}
ERROR_MESSAGES = {
    400: "Bad request", 401: "Invalid API key", 429: "Rate limit exceeded, please retry after a moment",
    500: "Internal server error", 503: "Service unavailable", 529: "Overloaded",
}


def _words(text: str) -> int:
    return len(text.split())


def _content_text(content) -> str:
    if isinstance(content, str):
        return content
    if isinstance(content, list):
        return "\n".join(b.get("text", "") for b in content if isinstance(b, dict))
    return ""


class FakeLLM:
    def __init__(self, host: str = "127.0.0.1", port: int = 0, delay: float = 0.0, error_ratio: float = 0.0,
                 error_statuses: tuple = (429, 500)):
        self.host, self.port, self.delay = host, port, delay
        # random failures (benchmarks): this share of requests answers one of error_statuses
        self.error_ratio, self.error_statuses = error_ratio, tuple(error_statuses)
        self._random = random.Random()
        self.queue: list[dict] = []
        self.rules: list[dict] = []
        self.requests: list[dict] = []
        # every image part received: {"api", "media_type", "bytes", "sha256", "data", "role", "text"}
        self.images: list[dict] = []
        self._lock = threading.Lock()
        self._server: ThreadingHTTPServer | None = None
        self._thread: threading.Thread | None = None

    # ------------------------------------------------------------ control
    @property
    def url(self) -> str:
        return f"http://{self.host}:{self.port}"

    @property
    def anthropic_url(self) -> str:
        return self.url

    @property
    def openai_url(self) -> str:
        return self.url + "/v1"

    def start(self) -> "FakeLLM":
        self._server = ThreadingHTTPServer((self.host, self.port), _handler_for(self))
        self._server.daemon_threads = True
        self.port = self._server.server_address[1]
        self._thread = threading.Thread(target=self._server.serve_forever, name="fake-llm", daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._server = None

    def serve_forever(self) -> None:
        self._server = ThreadingHTTPServer((self.host, self.port), _handler_for(self))
        self._server.daemon_threads = True
        self.port = self._server.server_address[1]
        self._server.serve_forever()

    def enqueue(self, *specs: dict) -> "FakeLLM":
        with self._lock:
            self.queue.extend(dict(s) for s in specs)
        return self

    def on(self, when: str, **spec) -> "FakeLLM":
        with self._lock:
            self.rules.append({"when": when, **spec})
        return self

    def reset(self) -> None:
        with self._lock:
            self.queue.clear()
            self.rules.clear()
            self.requests.clear()
            self.images.clear()
            self.delay = 0.0
            self.error_ratio, self.error_statuses = 0.0, (429, 500)

    def requests_to(self, api: str) -> list[dict]:
        return [r for r in self.requests if r["api"] == api]

    # ------------------------------------------------------------ choosing an answer
    def random_error(self) -> dict | None:
        """An error spec for this request when error_ratio picks it."""
        with self._lock:
            if self.error_ratio and self._random.random() < self.error_ratio:
                return {"status": self._random.choice(self.error_statuses)}
        return None

    def _choose(self, api: str, last_user: str) -> dict:
        with self._lock:
            for i, spec in enumerate(self.queue):
                if spec.get("api") in (None, api):
                    times = spec.get("times", 1)
                    if times is None or times <= 1:
                        self.queue.pop(i)
                    else:
                        spec["times"] = times - 1
                    return spec
            folded = last_user.casefold()
            for rule in self.rules:
                if rule.get("api") in (None, api) and str(rule.get("when", "")).casefold() in folded:
                    return rule
        return {}


def _handler_for(fake: FakeLLM):
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def log_message(self, *args):  # quiet: tests read fake.requests instead
            pass

        # -------------------------------------------------------- plumbing
        def _send(self, status: int, body: dict, headers: dict | None = None) -> None:
            data = json.dumps(body).encode()
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            for name, value in (headers or {}).items():
                self.send_header(name, str(value))
            self.end_headers()
            self.wfile.write(data)

        def _body(self):
            length = int(self.headers.get("Content-Length") or 0)
            raw = self.raw_body = self.rfile.read(length) if length else b""
            if (self.headers.get("Content-Type") or "").startswith("multipart/"):
                return None
            try:
                return json.loads(raw or b"{}")
            except ValueError:
                return None

        def do_GET(self):
            if self.path == "/_fake/requests":
                with fake._lock:
                    return self._send(200, {"requests": list(fake.requests)})
            if self.path == "/health":
                return self._send(200, {"ok": True})
            self._send(404, {"error": {"type": "not_found_error", "message": f"no route {self.path}"}})

        def do_POST(self):
            body = self._body()
            if self.path == "/_fake/script":
                body = body or {}
                fake.enqueue(*body.get("queue", []))
                for rule in body.get("rules", []):
                    fake.on(**rule)
                if "delay" in body:
                    fake.delay = float(body["delay"])
                if "error_ratio" in body:
                    fake.error_ratio = float(body["error_ratio"])
                if body.get("error_statuses"):
                    fake.error_statuses = tuple(int(s) for s in body["error_statuses"])
                return self._send(200, {"queued": len(fake.queue), "rules": len(fake.rules)})
            if self.path == "/_fake/reset":
                fake.reset()
                return self._send(200, {"ok": True})
            if self.path.rstrip("/") == "/v1/messages":
                return self._answer("anthropic", body)
            if self.path.rstrip("/") == "/v1/chat/completions":
                return self._answer("openai", body)
            if self.path.rstrip("/") == "/v1/audio/transcriptions":
                return self._transcribe()
            self._send(404, {"error": {"type": "not_found_error", "message": f"no route {self.path}"}})

        # -------------------------------------------------------- the APIs
        def _answer(self, api: str, body):
            headers = {k.lower(): v for k, v in self.headers.items()}
            record = {"api": api, "path": self.path, "headers": headers, "body": body, "at": time.time()}
            pictures, problem = image_parts(api, body.get("messages") if isinstance(body, dict) else None)
            record["images"] = [{k: v for k, v in p.items() if k != "data"} for p in pictures]
            with fake._lock:
                fake.requests.append(record)
                fake.images.extend(pictures)
            problem = self._invalid(api, body, headers) or problem
            if problem:
                return self._error(api, {"status": 401 if "key" in problem else 400, "message": problem})
            messages = body.get("messages") or []
            users = [m for m in messages if m.get("role") == "user"]
            last_user = _content_text(users[-1].get("content")) if users else ""
            spec = fake.random_error() or fake._choose(api, last_user)
            delay = spec.get("delay", fake.delay)
            if delay:
                time.sleep(float(delay))
            if spec.get("status"):
                return self._error(api, spec)
            text = spec.get("text", f"fake reply to: {last_user}")
            prompt_words = _words(_content_text(body.get("system"))) + sum(
                _words(_content_text(m.get("content"))) for m in messages)
            tokens_in = int(spec.get("tokens_in", prompt_words))
            tokens_out = int(spec.get("tokens_out", _words(text)))
            model = spec.get("model", body.get("model"))
            if api == "anthropic":
                return self._send(200, {
                    "id": "msg_" + uuid.uuid4().hex[:24], "type": "message", "role": "assistant",
                    "model": model, "content": [{"type": "text", "text": text}],
                    "stop_reason": "end_turn", "stop_sequence": None,
                    "usage": {"input_tokens": tokens_in, "output_tokens": tokens_out,
                              "cache_creation_input_tokens": int(spec.get("cache_creation_input_tokens", 0)),
                              "cache_read_input_tokens": int(spec.get("cache_read_input_tokens", 0))},
                }, {"request-id": "req_" + uuid.uuid4().hex[:24]})
            return self._send(200, {
                "id": "chatcmpl-" + uuid.uuid4().hex[:24], "object": "chat.completion",
                "created": int(time.time()), "model": model, "system_fingerprint": "fp_fake",
                "choices": [{"index": 0, "message": {"role": "assistant", "content": text, "refusal": None},
                             "logprobs": None, "finish_reason": "stop"}],
                "usage": {"prompt_tokens": tokens_in, "completion_tokens": tokens_out,
                          "total_tokens": tokens_in + tokens_out},
            }, {"x-request-id": "req_" + uuid.uuid4().hex[:24]})

        def _transcribe(self):
            """POST /v1/audio/transcriptions, as OpenAI answers it (response_format json)."""
            headers = {k.lower(): v for k, v in self.headers.items()}
            error, answer = transcription(fake, self.path, headers, self.headers.get("Content-Type"), self.raw_body)
            if error:
                return self._error("openai", error)
            return self._send(200, answer, {"x-request-id": "req_" + uuid.uuid4().hex[:24]})

        def _invalid(self, api: str, body, headers: dict) -> str | None:
            if not isinstance(body, dict):
                return "the body must be a JSON object"
            if not (headers.get("x-api-key") or headers.get("authorization")):
                return "missing API key"
            if not body.get("model"):
                return "model: field required"
            messages = body.get("messages")
            if not isinstance(messages, list) or not messages:
                return "messages: at least one message is required"
            if api == "anthropic":
                if not headers.get("anthropic-version"):
                    return "anthropic-version: header is required"
                if not isinstance(body.get("max_tokens"), int):
                    return "max_tokens: field required"
                roles = [m.get("role") for m in messages]
                if roles[0] != "user":
                    return "messages: first message must use the \"user\" role"
                if any(a == b for a, b in zip(roles, roles[1:])):
                    return "messages: roles must alternate between \"user\" and \"assistant\""
                if any(r not in ("user", "assistant") for r in roles):
                    return "messages: unexpected role; the system prompt goes in the top-level system field"
            else:
                roles = [m.get("role") for m in messages]
                if any(r not in ("system", "developer", "user", "assistant", "tool") for r in roles):
                    return "messages: invalid role"
            return None

        def _error(self, api: str, spec: dict):
            status = int(spec["status"])
            message = spec.get("message") or ERROR_MESSAGES.get(status, f"HTTP {status}")
            headers = {}
            if status == 429 or status >= 500:
                headers["retry-after"] = spec.get("retry_after", 0)
                headers["retry-after-ms"] = spec.get("retry_after_ms", 1)
            if api == "anthropic":
                kind = spec.get("type") or ANTHROPIC_ERRORS.get(status, "api_error")
                headers["request-id"] = "req_" + uuid.uuid4().hex[:24]
                return self._send(status, {"type": "error", "error": {"type": kind, "message": message},
                                           "request_id": headers["request-id"]}, headers)
            kind, code = OPENAI_ERRORS.get(status, ("server_error", None))
            headers["x-request-id"] = "req_" + uuid.uuid4().hex[:24]
            return self._send(status, {"error": {"message": message, "type": spec.get("type") or kind,
                                                 "param": None, "code": spec.get("code", code)}}, headers)

    return Handler


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description="A fake Anthropic + OpenAI server for tests and benchmarks.")
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8099)
    parser.add_argument("--delay", type=float, default=0.0, help="seconds to wait before every answer")
    parser.add_argument("--error-ratio", type=float, default=0.0, help="share of requests answered with an error")
    parser.add_argument("--error-statuses", default="429,500", help="the statuses of those errors (comma-separated)")
    args = parser.parse_args(argv)
    fake = FakeLLM(args.host, args.port, args.delay, args.error_ratio,
                   tuple(int(s) for s in args.error_statuses.split(",") if s.strip()))
    print(f"fake LLM listening on http://{args.host}:{args.port} "
          f"(ANTHROPIC_BASE_URL=http://{args.host}:{args.port} OPENAI_BASE_URL=http://{args.host}:{args.port}/v1)",
          flush=True)
    try:
        fake.serve_forever()
    except KeyboardInterrupt:
        pass
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
