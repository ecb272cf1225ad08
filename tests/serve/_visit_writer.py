"""A separate process appending visits to one patient (the cross-process concurrency test).

Usage: ``python _visit_writer.py DATABASE_URL PATIENT FIRST_TIME COUNT GO_FILE``. Waits for
GO_FILE to exist (so every writer starts at once), then appends COUNT visits at times
FIRST_TIME, FIRST_TIME + 1, ... one request-sized transaction each, and prints how many
it stored. Imports only the registry (no torch), so it starts fast.
"""

from __future__ import annotations

import sys
import time
from pathlib import Path

from oncofusion.serve.db.engine import make_engine
from oncofusion.serve.db.repository import Audit, Registry


def main() -> None:
    url, patient, first, count, go = sys.argv[1], sys.argv[2], float(sys.argv[3]), int(sys.argv[4]), Path(sys.argv[5])
    registry = Registry(make_engine(url))
    deadline = time.monotonic() + 60
    while not go.exists() and time.monotonic() < deadline:
        time.sleep(0.005)
    stored = 0
    for i in range(count):
        t = first + i
        _, new = registry.append_visits(
            patient, [{"time": t, "ezh2": t / 10, "cd10": None}], None, Audit(f"proc-{first:g}-{i}", "test", "writer")
        )
        stored += new
    print(stored)


if __name__ == "__main__":
    main()
