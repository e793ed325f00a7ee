"""Page-number paging that notices when the list shifts under it, and reads it again.

`/conversations` pages by number, and the document never says how the list is ordered,
what `count` counts, or that rows may not change while a client pages. A row updated,
created or deleted between two page requests shifts every row behind it: one is then
read twice and, worse, another is never read. `PassesPaginator` reads the list in
passes (page 1, 2, ... until the end) and emits each id once. A pass is trusted only if
nothing betrays a shift: no id came twice, `count` did not move and was reached, and a
final probe of the rows updated since the newest one the pass saw finds nothing the pass
missed. When `count` cannot be trusted (absent, or the rows of one page) a second pass
checks the first. Otherwise another pass reads the list again, up to `max_passes`; after
that a warning names the location and how many rows may be missing.

The end of a pass is an empty page, the only proof the server gives: not `count` rows
received (a count may be capped, lag behind or count one page), nor a page shorter than
`per_page` (a server may cap it silently). `count` is a cross-check: a pass that read fewer
rows is read again, and when the passes run out the walk counts as not read to proof
(`finish`), so the location's bookmark stays and the next run reads it again. A page number
the server refuses (Django REST framework answers 404 "Invalid page." past the last) ends
the pass like an empty page, but only after pages of that pass had rows.
"""

from __future__ import annotations

import dataclasses
import typing as t

from singer_sdk.exceptions import FatalAPIError
from singer_sdk.pagination import BaseAPIPaginator

from tap_liine.observations import Observations, as_count

if t.TYPE_CHECKING:
    import requests

MAX_PASSES = 3
MAX_PAGES = 100_000  # per pass: far beyond any real location


@dataclasses.dataclass(frozen=True)
class PageToken:
    number: int = 1  # page number within the pass
    run: int = 1  # pass number
    probe_since: str | None = None  # set on the probe request: `updated_since` of the rows to check


@dataclasses.dataclass
class _Pass:
    """What one pass over the list saw."""

    run: int
    ids: dict[t.Any, t.Any] = dataclasses.field(default_factory=dict)  # id -> updated_at as received
    counts: set[int] = dataclasses.field(default_factory=set)
    count: int | None = None  # the last count, when it reads as a total
    count_trusted: bool = True
    repeated: int = 0
    pages_with_rows: int = 0
    new: int = 0  # rows no earlier pass had
    previous_page: list[t.Any] = dataclasses.field(default_factory=list)

    def doubts(self) -> list[str]:
        found = []
        if self.repeated:
            found.append(f"{self.repeated} rows came twice")
        if len(self.counts) > 1:
            found.append(f"count moved from {min(self.counts)} to {max(self.counts)}")
        if self.count_trusted and self.count is not None and len(self.ids) < self.count:
            found.append(f"{len(self.ids)} of the {self.count} rows count announced arrived")
        if not self.count_trusted and self.pages_with_rows > 1:
            if self.run == 1:
                found.append("count is no total, so a second pass checks the first")
            elif self.new:
                found.append(f"{self.new} rows no earlier pass had")
        return found


class PassesPaginator(BaseAPIPaginator[PageToken]):
    """Pages of one list (one location's conversations), in as many passes as it takes."""

    def __init__(
        self,
        *,
        where: str,
        observations: Observations,
        per_page: int,
        updated_key: str = "updated_at",
        max_passes: int = MAX_PASSES,
    ) -> None:
        super().__init__(PageToken())
        self._where = where
        self._per_page = per_page
        self._observations = observations
        self._updated_key = updated_key
        self._max_passes = max_passes
        self._emitted: set[t.Any] = set()  # ids emitted (every pass, and the probe)
        self._pass = _Pass(run=1)
        self._finished_pass = False
        self._probe_rows: list[dict[str, t.Any]] = []
        self._doubts: list[str] = []
        self._done = False
        self._incomplete = False
        self._refused = False  # the server refused the current page number as past the last

    @property
    def emitted(self) -> int:
        return len(self._emitted)

    def accept(self, rows: list[dict[str, t.Any]], *, count: t.Any) -> list[dict[str, t.Any]]:
        """Note what the page says about the list; return its rows not emitted before."""
        token = self.current_value
        if token.probe_since is not None:
            self._probe_rows = rows
            return self._fresh(rows)
        current = self._pass
        if self._refused:  # the end of the pass; the refusal says nothing about `count`
            self._refused, self._finished_pass, current.previous_page = False, True, []
            return []
        ids = [row.get("id") for row in rows]
        if rows and ids == current.previous_page:
            msg = (
                f"{self._where}: page {token.number} came back identical to page {token.number - 1}; the API "
                "does not honour `page`, so paging cannot go on."
            )
            raise FatalAPIError(msg)
        if token.number > MAX_PAGES:
            msg = f"{self._where}: more than {MAX_PAGES} pages in one pass; stopping rather than looping."
            raise FatalAPIError(msg)
        if rows and 0 < len(current.previous_page) < self._per_page:
            self._observations.note(
                "conversations.per_page",
                "%s: the API sends at most %d rows per page although per_page=%d was asked; the tap reads on until "
                "a page is empty.",
                self._where, len(current.previous_page), self._per_page,
            )  # fmt: skip
        current.previous_page = ids
        current.pages_with_rows += bool(rows)
        current.repeated += sum(1 for key in ids if key in current.ids)
        current.new += sum(1 for key in ids if key not in self._emitted)
        current.ids.update((row.get("id"), row.get(self._updated_key)) for row in rows)
        total = as_count(count)
        per_page_count = rows and total == len(rows) and (token.number > 1 or total < len(current.ids))
        if total is None or per_page_count or (not rows and total == 0 and current.ids):
            current.count_trusted = False  # absent, or the rows of this page rather than a total
        elif total != len(rows) or not rows:
            current.counts.add(total)
            current.count = total
        self._finished_pass = not rows  # the end of the list, said by the server
        return self._fresh(rows)

    def past_the_last(self) -> bool:
        """The server refused the current page number: True (the end of the pass) when earlier pages
        of this pass had rows; False on a first page or a probe, where it proves nothing."""
        token = self.current_value
        self._refused = token.probe_since is None and token.number > 1 and self._pass.pages_with_rows > 0
        return self._refused

    def finish(self) -> bool:
        """After the walk: True unless its passes ran out with rows that may be missing (it warned)."""
        counted = self._pass.count if self._pass.count_trusted else None
        if not self._incomplete and counted is not None and counted < len(self._pass.ids):
            self._observations.note(
                "count-low:conversations",
                "%s: the API counted %d conversations and the tap read %d, every page to the end: its count is low "
                "(capped or lagging), so the tap reads on to an empty page (said once).",
                self._where, counted, len(self._pass.ids),
            )  # fmt: skip
        return not self._incomplete

    def _fresh(self, rows: list[dict[str, t.Any]]) -> list[dict[str, t.Any]]:
        fresh = [row for row in rows if row.get("id") not in self._emitted]
        self._emitted.update(row.get("id") for row in fresh)
        return fresh

    def continue_if_empty(self, response: requests.Response) -> bool:  # noqa: ARG002
        return not self._done

    def has_more(self, response: requests.Response) -> bool:  # noqa: ARG002
        return not self._done

    def get_next(self, response: requests.Response) -> PageToken | None:  # noqa: ARG002
        token = self.current_value
        if token.probe_since is not None:  # the probe decides whether the pass can be trusted
            missed = self._probe_missed()
            return self._end_of_pass(token, [f"{missed} rows changed while it was paged"] if missed else [])
        if not self._finished_pass:
            return PageToken(token.number + 1, token.run)
        doubts = self._pass.doubts()
        if doubts or self._pass.pages_with_rows <= 1 or not self._pass.count_trusted:
            # One page of rows is a snapshot; without a total, later passes check each other.
            return self._end_of_pass(token, doubts)
        newest = max((str(u) for u in self._pass.ids.values() if u), default=None)
        if newest is None:
            return self._end_of_pass(token, ["no row has an updated_at"])
        return PageToken(1, token.run, probe_since=newest)

    def _probe_missed(self) -> int:
        """Rows updated since the newest the pass saw, which the pass did not see in that state."""
        seen = self._pass.ids
        missing = object()
        return sum(1 for row in self._probe_rows if seen.get(row.get("id"), missing) != row.get(self._updated_key))

    def _end_of_pass(self, token: PageToken, doubts: list[str]) -> PageToken | None:
        if not doubts:
            self._done = True
            return None
        self._doubts = doubts
        if token.run >= self._max_passes:
            self._done = True
            self._warn()
            return None
        self._observations.note(
            f"passes:{self._where}:{token.run}",
            "%s: pass %d over the list cannot be trusted (%s); reading it again.",
            self._where, token.run, "; ".join(doubts),
        )  # fmt: skip
        self._pass = _Pass(run=token.run + 1)
        return PageToken(1, token.run + 1)

    def _warn(self) -> None:
        self._incomplete = True
        count = self._pass.count if self._pass.count_trusted else None
        bound = f"up to {count - len(self._emitted)}" if count and count > len(self._emitted) else "an unknown number"
        self._observations.warn(
            f"passes-exhausted:{self._where}",
            "%s: after %d passes the list still could not be trusted (%s); %d distinct rows were read and %s may "
            "be missing; the bookmark stays, so the next run reads this location again.",
            self._where, self._max_passes, "; ".join(self._doubts), len(self._emitted), bound,
        )  # fmt: skip
