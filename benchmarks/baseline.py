"""The baseline the tap is measured against: the same requests, orjson, one RECORD line each.

`python -m benchmarks.baseline URLS_FILE OUT_FILE TOKEN`: replays the recorded request URLs,
decodes every page with orjson and writes one Singer RECORD line per interaction, dropping
ids already written (the boundary second is read twice, exactly as the tap reads it).
"""

from __future__ import annotations

import sys

import orjson
import requests


def main() -> None:
    urls_file, out_file, token = sys.argv[1:4]
    urls = orjson.loads(open(urls_file, "rb").read())  # noqa: SIM115
    session = requests.Session()
    seen: set[int] = set()
    with open(out_file, "wb") as out:
        for url in urls:
            body = orjson.loads(session.get(url, headers={"Authorization": token}, timeout=300).content)
            for record in body["interactions"]:
                if record["id"] in seen:
                    continue
                seen.add(record["id"])
                out.write(orjson.dumps({"type": "RECORD", "stream": "interactions", "record": record}) + b"\n")


if __name__ == "__main__":
    main()
