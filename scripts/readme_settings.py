"""Replace the README's settings table with the one `tap-liine --about --format=markdown` prints."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

README = Path(__file__).resolve().parent.parent / "README.md"
START, END = "<!-- settings:start -->", "<!-- settings:end -->"

about = subprocess.run(
    [sys.executable, "-m", "tap_liine", "--about", "--format=markdown"], capture_output=True, text=True, check=True
).stdout
table = "\n".join(line for line in about.splitlines() if line.startswith("|"))
text = README.read_text()
text = re.sub(re.escape(START) + ".*?" + re.escape(END), f"{START}\n{table}\n{END}", text, flags=re.S)
README.write_text(text)
print("README settings table updated")
