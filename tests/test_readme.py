"""What the README tells a user to type or follow holds: its links land on a heading, its state is the tap's."""

from __future__ import annotations

import json
import re
import shlex
from pathlib import Path

from tests.helpers import liine_config, partitions, run_tap, sent

ROOT = Path(__file__).resolve().parent.parent
README = (ROOT / "README.md").read_text()


def anchors(markdown: str) -> set[str]:
    """GitHub's anchors of the headings: lower case, punctuation dropped, spaces as hyphens."""
    headings = re.findall(r"^#+ (.+)$", re.sub(r"```.*?```", "", markdown, flags=re.S), flags=re.M)
    return {re.sub(r"[^\w\- ]", "", heading.lower()).replace(" ", "-") for heading in headings}


def test_every_link_to_a_readme_section_lands_on_a_heading() -> None:
    links = re.findall(r"\]\(#([^)]+)\)", README)
    links += re.findall(r"\]\(README\.md#([^)]+)\)", (ROOT / "CONTRIBUTING.md").read_text())
    assert len(links) >= 10
    assert sorted(set(links) - anchors(README)) == []


def readme_state_set() -> tuple[str, dict]:
    """The state id and the state of the README's `meltano state set` command."""
    [command] = [line for line in README.splitlines() if line.startswith("meltano --environment=prod state set")]
    *_, state_id, state = shlex.split(command)
    return state_id, json.loads(state)


def test_the_readmes_state_set_hands_the_tap_its_own_state_shape(sandbox) -> None:
    """Meltano's `singer_state` holds what the tap reads: the next run of each customer starts at its bookmark."""
    state_id, state = readme_state_set()
    assert state_id == "prod:tap-liine-to-target-postgres"  # <environment>:<extractor>-to-<loader>
    assert list(state) == ["singer_state"]
    server = sandbox(scale=300, customers=[1234, 5678])

    run = run_tap(liine_config(server.url, customer_ids=[1234, 5678]), state=state["singer_state"])

    walks = sent(server.url, "/interactions")
    for customer in (1234, 5678):
        mine = [path for path in walks if f"customer_id={customer}&" in path]
        # 2026-10-20 less lookback_days (1): an incremental run, not a backfill from start_date
        assert mine and all("updated_date=2026-10-19" in path and "end_date" not in path for path in mine)
    assert sorted(partitions(run.last_state, "interactions")) == [1234, 5678]
    assert "StateProblems" not in run.log and "ignored" not in run.log
