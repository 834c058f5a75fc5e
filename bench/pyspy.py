"""Profiling the gateway worker under load with py-spy (`bench/run.py --profile`): a flame graph to look at,
and the functions that hold the interpreter longest, printed as a list."""

from __future__ import annotations

import collections
import re
import shutil
import subprocess
import sys
from pathlib import Path

from harness import BIN, LOAD_CPU

_LOCATION = re.compile(r" \((.*?):\d+\)$")


def py_spy() -> str | None:
    """py-spy from the venv, installed there on first use (it is a PyPI wheel)."""
    found = shutil.which("py-spy", path=str(BIN)) or shutil.which("py-spy")
    if found is None:
        subprocess.run([sys.executable, "-m", "pip", "install", "-q", "py-spy"], check=False)
        found = shutil.which("py-spy", path=str(BIN))
    return found


def start(pid: int, seconds: float, out_dir: Path) -> list[subprocess.Popen]:
    """Two recordings side by side: a flame graph and the raw stacks. --gil keeps only the samples where the
    worker held the interpreter, i.e. where its CPU time went; py-spy runs on the load core."""
    binary = py_spy()
    if binary is None:
        raise RuntimeError("py-spy is not installed and could not be installed")
    common = ["taskset", "-c", LOAD_CPU, binary, "record", "--pid", str(pid), "--duration", str(round(seconds))]
    common += ["--rate", "250", "--gil", "--nonblocking"]
    quiet = {"stdout": subprocess.DEVNULL, "stderr": subprocess.DEVNULL}
    return [
        subprocess.Popen([*common, "--format", "flamegraph", "-o", str(out_dir / "profile.svg")], **quiet),
        subprocess.Popen([*common, "--format", "raw", "-o", str(out_dir / "profile.txt")], **quiet),
    ]


def summarize(raw: Path, top: int = 20) -> list[str]:
    """The functions with the most samples on top of the stack (self) and anywhere in it (inclusive)."""
    own: collections.Counter[str] = collections.Counter()
    inclusive: collections.Counter[str] = collections.Counter()
    total = 0
    for line in raw.read_text().splitlines():
        stack, _, count = line.rpartition(" ")
        frames = [_short(frame) for frame in stack.split(";")[1:]]  # the first entry names the thread
        total += int(count)
        if frames:
            own[frames[-1]] += int(count)
        for frame in set(frames):
            inclusive[frame] += int(count)
    lines = [f"{total} samples with the GIL held; self time (top of stack):"]
    lines += [f"  {count * 100 / total:5.1f}%  {frame}" for frame, count in own.most_common(top)]
    lines.append("inclusive time (anywhere on the stack), the gateway's own layers:")
    ours = [(f, c) for f, c in inclusive.most_common() if f.split(" (")[1].startswith(("apps/", "django/", "ninja/"))]
    lines += [f"  {count * 100 / total:5.1f}%  {frame}" for frame, count in ours[:top]]
    return lines


def _short(frame: str) -> str:
    location = _LOCATION.search(frame)
    path = location.group(1) if location else ""
    path = path.split("site-packages/")[-1].removeprefix(str(Path(__file__).resolve().parent.parent) + "/")
    return f"{_LOCATION.sub('', frame)} ({path})"
