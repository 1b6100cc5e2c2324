"""Paging, one convention for every list route.

In: ``page`` (from 1) and ``page_size``; ``limit`` is the specification's name for ``page_size`` and is accepted
as its alias (giving both with different values is a 422 naming ``limit``). Out: the list under its own name
(``jobs``, ``trials``, ...) beside ``total``, ``page`` and ``page_size`` (:class:`Page`). The stores take
``(page, page_size)`` and return ``(items, total)``.

Each route declares its page with a dependency from :func:`page_query` (``page: PageQueryDep``), which sets the
bounds in the OpenAPI document too.
"""

# No `from __future__ import annotations`: the query parameters' bounds are closure variables of page_query, which
# FastAPI could not resolve from string annotations.

from dataclasses import dataclass
from typing import Annotated, Any

from fastapi import Depends, Query
from pydantic import BaseModel, Field

from trainforge.errors import InvalidInput

MAX_PAGE = 100_000


@dataclass(frozen=True)
class PageQuery:
    """The page a request asks for: its number (from 1) and the most items it holds."""

    page: int
    page_size: int

    def answer(self, total: int) -> dict[str, int]:
        """The paging fields of the response to this request, given how many items match in all."""
        return {"total": total, "page": self.page, "page_size": self.page_size}


class Page(BaseModel):
    """The paging fields of every list response. Each list is a subclass that adds its items under its own name
    (``jobs``, ``trials``, ...), as the specification names them, rather than a generic ``items``."""

    total: int = Field(description="How many items match the filters, on all pages.")
    page: int = Field(description="This page's number, from 1. A page past the last is empty.")
    page_size: int = Field(description="The most items a page holds (the request's page_size or limit).")


def page_query(*, default_size: int = 20, max_size: int = 200) -> Any:
    """The ``Annotated[PageQuery, Depends(...)]`` type of a list route whose pages hold 1..``max_size`` items."""

    async def dependency(
        page: Annotated[int, Query(ge=1, le=MAX_PAGE, description=f"Page number, from 1 (at most {MAX_PAGE:,}).")] = 1,
        page_size: Annotated[
            int | None,
            Query(ge=1, le=max_size, description=f"Items per page, 1 to {max_size} (default {default_size})."),
        ] = None,
        limit: Annotated[
            int | None,
            Query(
                ge=1,
                le=max_size,
                description="The specification's name for page_size, accepted as its alias; with both, they must "
                "be equal.",
            ),
        ] = None,
        # Trials used to page by offset; an old client's offset is refused rather than answered with page 1.
        offset: Annotated[str | None, Query(include_in_schema=False)] = None,
    ) -> PageQuery:
        if offset is not None:
            raise InvalidInput("offset is not supported: page with page (from 1) and page_size", field="offset")
        if limit is not None and page_size is not None and limit != page_size:
            raise InvalidInput(
                f"limit ({limit}) is another name for page_size ({page_size}); give one, or both equal", field="limit"
            )
        return PageQuery(page=page, page_size=page_size or limit or default_size)

    return Annotated[PageQuery, Depends(dependency)]


PageQueryDep = page_query()
