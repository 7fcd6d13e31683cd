"""The pass summary by email: a readable text part and the same JSON as the webhook, attached.

SMTP through the standard library: STARTTLS (``starttls``, port 587: refused when the server
does not offer it, never downgraded to clear text) or TLS from the first byte (``ssl``, port
465), certificates checked against the system's store or ``ca_file``. The password is
``password`` or, better, the environment variable named by ``password_env``, read as is
when sending (never through the YAML-parsed ``ARCHIVER__`` overrides, which would turn
``123456`` or ``yes`` into a number or a boolean). The mail host is the operator's own relay,
often on this machine, so the fetch address policy does not apply to it.
"""
from __future__ import annotations

import json
import os
import smtplib
import ssl
import time
from email.message import EmailMessage
from email.utils import formatdate, make_msgid, parseaddr
from typing import Callable, Mapping

from ..config import EmailSettings
from ..errors import NotifyError
from .retry import Transient, with_retries

_TITLES = (("newly_lost", "Newly lost"), ("changed", "Changed"), ("recovered", "Recovered from web archives"),
           ("failures", "Failures"))


def subject(doc: dict, prefix: str) -> str:
    run, t = doc["run"], doc["totals"]
    if run["status"] == "failed":
        return f"{prefix} pass {run['id']} failed"
    return (f"{prefix} pass {run['id']}: {t['newly_lost']} newly lost, {t['changed']} changed, "
            f"{t['recovered']} recovered, {t['failures']} failed").strip()


def _line(kind: str, item: dict) -> str:
    if kind == "newly_lost":
        return f"  {item['url']}  ({item['found_by']}: {item.get('reason') or 'dead'})"
    if kind == "changed":
        more = f" -> {item['final_url']}" if item["state"] == "moved" else ""
        return f"  {item['url']}  ({item['state']}{more})"
    if kind == "recovered":
        return f"  {item['url']}  (from {item.get('archive') or 'an archive'}, archived {item.get('archived_at')})"
    return f"  {item['url']}  ({item['stage']}: {item.get('message') or item.get('error_type') or 'failed'}" \
           f"{'; given up' if item.get('given_up') else ''})"


def render_text(doc: dict) -> str:
    run = doc["run"]
    out = [f"archiver pass {run['id']} ({run['kind']}), {run['started_at']} to {run['finished_at']}: "
           f"{run['status']}"]
    if run.get("error"):
        out.append(f"error: {run['error']}")
    for kind, title in _TITLES:
        total = doc["totals"][kind]
        out += ["", f"{title} ({total})"]
        out += [_line(kind, item) for item in doc[kind]]
        if total > len(doc[kind]):
            out.append(f"  ... and {total - len(doc[kind])} more")
    if doc["errors"]:
        out += ["", "Errors"] + [f"  {e}" for e in doc["errors"]]
    counts = doc.get("counts") or {}
    flat = ", ".join(f"{k} {v}" for k, v in counts.items() if not isinstance(v, dict))
    if flat:
        out += ["", f"Counts: {flat}"]
    out += ["", "The same summary is attached as summary.json (schema " + doc["schema"] + ")."]
    return "\n".join(out) + "\n"


def render(doc: dict, email: EmailSettings) -> EmailMessage:
    msg = EmailMessage()
    msg["From"] = email.from_address
    msg["To"] = ", ".join(email.to)
    msg["Subject"] = subject(doc, email.subject_prefix)
    msg["Date"] = formatdate(usegmt=True)
    # the domain given: make_msgid would otherwise ask DNS for this machine's full name
    msg["Message-ID"] = make_msgid("archiver", domain=parseaddr(email.from_address or "")[1].rpartition("@")[2])
    msg.set_content(render_text(doc))
    msg.add_attachment(json.dumps(doc, ensure_ascii=False, indent=1).encode("utf-8"), maintype="application",
                       subtype="json", filename="summary.json")
    return msg


def _password(email: EmailSettings, env: Mapping[str, str]) -> str:
    if email.password is not None:
        return email.password
    value = env.get(email.password_env)
    if value is None:
        raise NotifyError(f"notify.email.username is set but there is no password: set ${email.password_env} "
                          "(or notify.email.password)")
    return value


def send(doc: dict, email: EmailSettings, *, env: Mapping[str, str] | None = None,
         sleep: Callable[[float], None] = time.sleep) -> int:
    """Mail ``doc`` to ``email.to``; returns the number of tries. Raises NotifyError (``context['tries']``)."""
    if email.host is None:
        raise NotifyError("no mail host configured")
    env = os.environ if env is None else env
    msg = render(doc, email)
    password = _password(email, env) if email.username else None
    context = ssl.create_default_context(cafile=str(email.ca_file) if email.ca_file else None)

    def once() -> None:
        try:
            if email.ssl:
                smtp = smtplib.SMTP_SSL(email.host, email.port, timeout=email.timeout_s, context=context)
            else:
                smtp = smtplib.SMTP(email.host, email.port, timeout=email.timeout_s)
            with smtp:
                if email.starttls:
                    smtp.starttls(context=context)  # SMTPNotSupportedError when not offered: never in clear
                if email.username:
                    smtp.login(email.username, password)
                smtp.send_message(msg)
        except smtplib.SMTPNotSupportedError as exc:
            raise NotifyError(f"{email.host}:{email.port}: {exc} (starttls is on)") from None
        except smtplib.SMTPRecipientsRefused as exc:
            raise NotifyError(f"every recipient refused: {_codes(exc.recipients)}") from None
        except smtplib.SMTPResponseException as exc:
            error = Transient if 400 <= exc.smtp_code < 500 else NotifyError
            raise error(f"{email.host}:{email.port} answered {exc.smtp_code} {_text(exc.smtp_error)}") from None
        except ssl.SSLError as exc:  # (an OSError) a certificate that does not verify: not worth a retry
            raise NotifyError(f"{email.host}:{email.port}: TLS: {exc.reason or exc}") from None
        except (smtplib.SMTPException, OSError) as exc:  # refused, reset, timeout, DNS
            raise Transient(f"{email.host}:{email.port}: {type(exc).__name__}: {exc}") from None

    return with_retries(once, retries=email.retries, backoff_s=email.backoff_s, sleep=sleep)


def _text(raw) -> str:
    return (raw.decode("utf-8", "replace") if isinstance(raw, bytes) else str(raw)).replace("\n", " ")[:300]


def _codes(recipients: dict) -> str:
    return "; ".join(f"{addr}: {code} {_text(text)}" for addr, (code, text) in recipients.items())
