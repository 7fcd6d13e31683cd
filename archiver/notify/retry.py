"""Tries with exponential backoff, shared by the notify targets."""
from __future__ import annotations

import time
from typing import Callable

from ..errors import NotifyError


class Transient(NotifyError):
    """Worth another try (network error, timeout, 5xx, 429, SMTP 4xx)."""


def with_retries(send: Callable[[], None], *, retries: int, backoff_s: float,
                 sleep: Callable[[float], None] = time.sleep) -> int:
    """Call ``send`` until it returns, at most ``1 + retries`` times, waiting ``backoff_s * 2**(n-1)``
    before retry n. Returns the number of tries. A :class:`Transient` error on the last try, or
    any other NotifyError at once, is raised with the try count in ``context['tries']``."""
    tries = 0
    while True:
        tries += 1
        try:
            send()
            return tries
        except Transient as exc:
            if tries > retries:
                exc.context["tries"] = tries
                raise
            sleep(backoff_s * 2 ** (tries - 1))
        except NotifyError as exc:
            exc.context["tries"] = tries
            raise
