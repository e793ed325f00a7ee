"""Replace the README's table of sandbox readings with the one the sandbox prints (`--list-readings`)."""

from __future__ import annotations

import re
from pathlib import Path

from tap_liine.sandbox.readings import table

README = Path(__file__).resolve().parent.parent / "README.md"
START, END = "<!-- readings:start -->", "<!-- readings:end -->"

text = README.read_text()
text = re.sub(re.escape(START) + ".*?" + re.escape(END), lambda _: f"{START}\n{table()}\n{END}", text, flags=re.S)
README.write_text(text)
print("README readings table updated")
