"""What masking a captured body costs on the event loop: `python bench/masking.py`.

Services that capture bodies mask each request and response (cut to 64 KB) before the record leaves the data
plane (apps/gateway/pipeline/masking.py). Times ordinary texts and the inputs that make regular expressions
backtrack (long runs of one character class), at the 64 KB bound; prints the median of 5 runs per input."""

from __future__ import annotations

import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from report import table

from apps.gateway.pipeline.capture import CAPTURE_LIMIT
from apps.gateway.pipeline.masking import mask_text

PROSE = "Dear support, my order 12345 from 2026-11-02 never arrived; write to jane.doe@example.com. "
INPUTS = {
    "prose with an e-mail every 90 characters": PROSE,
    "one letter repeated": "x",
    "letters and dots": "a.",
    "digits and spaces": "1 ",
    "digits and dashes": "1-",
    "'@' repeated": "@",
    "a JSON chat body": '{"role": "user", "content": "Summarize the attached report for the board."}, ',
}


def main() -> None:
    rows = []
    for name, unit in INPUTS.items():
        text = (unit * (CAPTURE_LIMIT // len(unit) + 1))[:CAPTURE_LIMIT]
        runs = []
        for _ in range(5):
            started = time.perf_counter()
            _, masked = mask_text(text)
            runs.append(time.perf_counter() - started)
        rows.append([name, f"{len(text):,}", f"{masked:,}", f"{statistics.median(runs) * 1000:.1f} ms"])
    print(table(["64 KB of", "characters", "masked", "time"], rows))


if __name__ == "__main__":
    main()
