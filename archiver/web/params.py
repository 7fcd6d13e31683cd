"""Parameters every route shares: ids within the database's range, and pages.

An id past the range of the database's integer keys (``INTEGER`` on PostgreSQL, 2**31-1) names no row:
it is a 404 like any other unknown id, never a database error. Every list a page or the API shows comes
one page at a time (``?page=N&per_page=M``); the API says where the neighbouring pages are in a ``Link``
header (``rel="next"``/``"prev"``, RFC 8288) and how many there are in ``X-Total-Count``.
"""
from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Annotated

from fastapi import Path, Query, Request, Response

MAX_ID = 2**31 - 1
MAX_PAGE = 1_000_000
Id = Annotated[int, Path(ge=1, le=MAX_ID)]


@dataclass
class Page:
    number: int
    size: int
    total: int = 0

    @property
    def offset(self) -> int:
        return (self.number - 1) * self.size

    @property
    def pages(self) -> int:
        return max(1, math.ceil(self.total / self.size))

    @property
    def stop(self) -> int:
        return self.offset + self.size

    name: str = "page"

    def url(self, request: Request, number: int) -> str:
        """This request's URL (path and query) at another page number."""
        query = request.url.include_query_params(**{self.name: number}).query
        return f"{request.url.path}?{query}"

    def neighbours(self, request: Request) -> dict[str, str]:
        out = {}
        if self.number > 1:
            out["prev"] = self.url(request, min(self.number - 1, self.pages))
        if self.number < self.pages:
            out["next"] = self.url(request, self.number + 1)
        return out

    def headers(self, request: Request, response: Response) -> None:
        links = [f'<{u}>; rel="{rel}"' for rel, u in self.neighbours(request).items()]
        if links:
            response.headers["Link"] = ", ".join(links)
        response.headers["X-Total-Count"] = str(self.total)


def pager(size: int, name: str = "page", most: int = 500):
    """A dependency giving the requested :class:`Page` (query parameter ``name``, ``size`` rows; the main
    list of a route also takes ``per_page``)."""
    if name != "page":
        def other(number: int = Query(1, alias=name, ge=1, le=MAX_PAGE)) -> Page:
            return Page(number, size, name=name)

        return other

    def page(number: int = Query(1, alias="page", ge=1, le=MAX_PAGE),
             per_page: int = Query(size, ge=1, le=most)) -> Page:
        return Page(number, per_page)

    return page


__all__ = ["Id", "MAX_ID", "Page", "pager"]
