"""A fake SMTP server on 127.0.0.1 (a thread, plain SMTP, no TLS): enough of
RFC 5321 for smtplib's send_message (EHLO/HELO, MAIL, RCPT, DATA, RSET,
NOOP, QUIT), keeping each message it is given, parsed. For the tests of the
team's e-mail notifications (SMTP_HOST=127.0.0.1, SMTP_SECURITY=none)."""
from __future__ import annotations

import socketserver
import threading
from email import message_from_bytes, policy


class FakeSMTP:
    def __init__(self):
        self.messages: list = []
        self.lock = threading.Lock()
        outer = self

        class Handler(socketserver.StreamRequestHandler):
            def reply(self, line: str) -> None:
                self.wfile.write((line + "\r\n").encode())

            def handle(self):
                self.reply("220 fake-smtp ready")
                sender, recipients = None, []
                while True:
                    raw = self.rfile.readline()
                    if not raw:
                        return
                    verb = raw.decode(errors="replace").strip().split(" ", 1)[0].upper()
                    if verb in ("EHLO", "HELO"):
                        self.reply("250 fake-smtp")
                    elif verb == "MAIL":
                        sender, recipients = raw.decode().split(":", 1)[1].strip(), []
                        self.reply("250 ok")
                    elif verb == "RCPT":
                        recipients.append(raw.decode().split(":", 1)[1].strip().strip("<>"))
                        self.reply("250 ok")
                    elif verb == "DATA":
                        self.reply("354 end with <CRLF>.<CRLF>")
                        lines = []
                        while (line := self.rfile.readline()) not in (b".\r\n", b""):
                            lines.append(line[1:] if line.startswith(b"..") else line)
                        with outer.lock:
                            outer.messages.append({"from": sender, "to": recipients, "message": message_from_bytes(
                                b"".join(lines), policy=policy.default)})
                        self.reply("250 queued")
                    elif verb == "QUIT":
                        self.reply("221 bye")
                        return
                    else:
                        self.reply("250 ok")

        self.server = socketserver.ThreadingTCPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.port = self.server.server_address[1]
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def received(self) -> list:
        with self.lock:
            return list(self.messages)

    def stop(self) -> None:
        self.server.shutdown()
        self.server.server_close()
