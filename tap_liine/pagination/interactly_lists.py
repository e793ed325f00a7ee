"""Page numbers over an Interactly dashboard whose lists are paged together.

One response holds a page of each list (`trends`, `source`, `utm_*`) and the overview's
`total`. The document says `size` defaults to 300; a server may cap it (say at 100)
whatever is asked. `ListsPaginator` ends a list only on proof: an empty page of it, or a
page shorter than the largest page any list returned (the server's real page size) once
its entries' counts add up to the total (every appointment has a source, UTM values
default to "direct"/"not set"). A short page alone, or the total alone (it may lag), is
not enough: the next page is asked. A page identical to the one before, or more pages
than any dashboard can have, fails the run instead of looping. A page number refused as
past the last (404 or 400, as Django REST framework answers) ends every list, once a page
had entries.
"""

from __future__ import annotations

import typing as t

from singer_sdk.exceptions import FatalAPIError
from singer_sdk.pagination import BaseAPIPaginator

from tap_liine.observations import Observations, as_count

if t.TYPE_CHECKING:
    import requests

MAX_PAGES = 10_000

# How much one entry of a list counts towards the total.
Weight = t.Callable[[dict[str, t.Any]], int]


def entry_count(entry: dict[str, t.Any]) -> int:
    return as_count(entry.get("count")) or 0


def trend_count(entry: dict[str, t.Any]) -> int:
    return (as_count(entry.get("successful")) or 0) + (as_count(entry.get("failed")) or 0)


class ListsPaginator(BaseAPIPaginator[int]):
    def __init__(self, lists: t.Mapping[str, Weight], *, where: str, observations: Observations, size: int) -> None:
        super().__init__(1)
        self._observations = observations
        self._size = size
        self._lists = dict(lists)
        self._where = where
        self._sums = dict.fromkeys(self._lists, 0)
        self._open = set(self._lists)  # lists that may have more entries
        self._capacity = 0  # the longest list page seen: the server's real page size
        self._previous: t.Any = None
        self._had_entries = False
        self.total: int | None = None

    def accept(self, body: dict[str, t.Any]) -> None:
        page = self.current_value
        if page > MAX_PAGES:
            msg = f"{self._where}: more than {MAX_PAGES} pages; stopping rather than looping."
            raise FatalAPIError(msg)
        current = {name: body.get(name) or [] for name in self._lists}
        if page > 1 and any(current.values()) and current == self._previous:
            msg = f"{self._where}: page {page} came back identical to page {page - 1}; the API does not honour `page`."
            raise FatalAPIError(msg)
        self._previous = current
        self._had_entries = self._had_entries or any(current.values())
        if self.total is None:
            self.total = as_count((body.get("overview") or {}).get("total"))
        self._capacity = max([self._capacity, *(len(entries) for entries in current.values())])
        if page > 1 and any(current.values()) and self._capacity < self._size:
            self._observations.note(
                "interactly.size",
                "%s: Interactly sends at most %d entries per list page although size=%d was asked; the tap reads "
                "further pages until each list adds up to the total.",
                self._where, self._capacity, self._size,
            )  # fmt: skip
        for name, weight in self._lists.items():
            entries = current[name]
            self._sums[name] += sum(weight(entry) for entry in entries)
            complete = self.total is not None and self._sums[name] >= self.total
            if not entries or (complete and len(entries) < self._capacity):
                self._open.discard(name)

    def past_the_last(self) -> bool:
        """The server refused the current page number: the end, if an earlier page had entries."""
        return self.current_value > 1 and self._had_entries

    def shortfall(self) -> dict[str, int]:
        """Lists whose counts do not add up to the total, and by how much."""
        if self.total is None:
            return {}
        return {name: self.total - got for name, got in self._sums.items() if got < self.total}

    def has_more(self, response: requests.Response) -> bool:  # noqa: ARG002
        return bool(self._open)

    def get_next(self, response: requests.Response) -> int | None:  # noqa: ARG002
        return self.current_value + 1
