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


def summarize(raw: Path, top: int = 12) -> list[str]:
    """Where the samples were, by layer (the package of the innermost frame; worker threads apart) and by
    function. Self time, because py-spy's stacks of resumed coroutines are cut short, which makes
    inclusive time undercount."""
    layers: collections.Counter[str] = collections.Counter()
    functions: collections.Counter[str] = collections.Counter()
    total = 0
    for line in raw.read_text().splitlines():
        stack, _, count = line.rpartition(" ")
        frames = stack.split(";")
        leaf = _short(frames[-1])
        total += int(count)
        functions[leaf] += int(count)
        layers[_layer(frames, leaf)] += int(count)
    lines = [f"{total} samples with the GIL held, by layer:"]
    lines += [f"  {count * 100 / total:5.1f}%  {layer}" for layer, count in layers.most_common()]
    lines.append("by function (self):")
    lines += [f"  {count * 100 / total:5.1f}%  {frame}" for frame, count in functions.most_common(top)]
    return lines


def _layer(frames: list[str], leaf: str) -> str:
    if any("Thread._bootstrap" in frame for frame in frames):
        return "worker threads (call-log batches through the ORM, snapshot poll)"
    path = leaf.rsplit(" (", 1)[-1].rstrip(")")
    if leaf.startswith("Runner.run") or not path:
        return "event loop (uvloop, in C)"
    if path.startswith("apps/"):
        return "/".join(path.split("/")[:2])
    return path.split("/")[0].removesuffix(".py")


def _short(frame: str) -> str:
    location = _LOCATION.search(frame)
    path = location.group(1) if location else ""
    path = path.split("site-packages/")[-1].removeprefix(str(Path(__file__).resolve().parent.parent) + "/")
    return f"{_LOCATION.sub('', frame)} ({path})"
