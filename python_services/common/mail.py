"""E-mail through SMTP (smtplib), configured by SMTP_HOST and its friends in
Config; off while SMTP_HOST is empty. Failures come back as MailError with a
message fit for a log line (never the password)."""
from __future__ import annotations

import smtplib
from email.message import EmailMessage


class MailError(Exception):
    pass


def mail_on(cfg) -> bool:
    return bool(cfg.smtp_host)


def send_mail(cfg, to: str, subject: str, text: str) -> None:
    try:
        message = EmailMessage()
        message["From"] = cfg.smtp_from or cfg.smtp_user or "hybridflow@localhost"
        message["To"] = to
        # a header is one line: a line break in it (a business name written on
        # two lines) makes EmailMessage refuse it with a ValueError
        message["Subject"] = " ".join(subject.split())
        message.set_content(text)
    except ValueError as exc:
        raise MailError(f"the message could not be built: {exc}"[:500]) from None
    smtp_class = smtplib.SMTP_SSL if cfg.smtp_security == "ssl" else smtplib.SMTP
    try:
        with smtp_class(cfg.smtp_host, cfg.smtp_port, timeout=cfg.smtp_timeout) as smtp:
            if cfg.smtp_security == "starttls":
                smtp.starttls()
            if cfg.smtp_user:
                smtp.login(cfg.smtp_user, cfg.smtp_password)
            smtp.send_message(message)
    except (smtplib.SMTPException, OSError) as exc:
        # an SMTP error carries the server's code and words, never what we sent
        raise MailError(f"{type(exc).__name__}: {exc}"[:500]) from None
