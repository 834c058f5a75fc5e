"""Driving wrk (installed on first use where apt-get can) with a Lua script that POSTs the chat body, checks
that every stream ends with `data: [DONE]`, and prints its summary as JSON for bench/run.py."""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import tempfile
from pathlib import Path

import orjson
from loadgen import LoadResult

# wrk runs one Lua state per thread (bench/run.py uses one thread); done() reads the counters through
# thread:get. With BENCH_TOTAL the thread stops at that many answers and notes when (LuaJIT's ffi clock), so
# the rate is answers / time to the last one: with 1,000 clients on a 1-second upstream a fixed duration
# would cut off a whole round of answers in flight and understate the rate by up to 1/duration.
LUA = r"""
local ffi = require("ffi")
ffi.cdef[[ typedef struct { long sec; long nsec; } bench_ts; int clock_gettime(int, bench_ts *); ]]
local ts = ffi.new("bench_ts")
local function now() ffi.C.clock_gettime(1, ts); return tonumber(ts.sec) + tonumber(ts.nsec) / 1e9 end

wrk.method = "POST"
wrk.body = os.getenv("BENCH_BODY")
wrk.headers["Content-Type"] = "application/json"
if os.getenv("BENCH_KEY") ~= "" then wrk.headers["Authorization"] = "Bearer " .. os.getenv("BENCH_KEY") end
local stream = os.getenv("BENCH_STREAM") == "1"
if os.getenv("BENCH_UNIQUE") == "1" then
  -- A different prompt in every request (loadgen.UNIQUE_MARK replaced by a counter): a cache always misses.
  local sent = 0
  function request()
    sent = sent + 1
    return wrk.format(nil, nil, nil, (wrk.body:gsub("BENCH_N", tostring(sent))))
  end
end
local total = tonumber(os.getenv("BENCH_TOTAL") or "0")

local threads = {}
function setup(thread) table.insert(threads, thread) end
function init(args) missing_done = 0; answers = 0; started = now(); elapsed = 0 end

if stream or total > 0 then
  -- Only defined when needed: with a response() callback wrk keeps every body, which costs it time.
  function response(status, headers, body)
    if stream and status < 300 and body:sub(-14) ~= "data: [DONE]\n\n" then missing_done = missing_done + 1 end
    answers = answers + 1
    if answers == total then
      elapsed = now() - started
      wrk.thread:stop()
      io.write("stopped\n"); io.flush()  -- bench/run.py then interrupts wrk's sleep
    end
  end
end

function done(summary, latency, requests)
  local missing, seconds = 0, 0
  for _, thread in ipairs(threads) do
    missing = missing + (thread:get("missing_done") or 0)
    seconds = math.max(seconds, thread:get("elapsed") or 0)
  end
  local e = summary.errors
  io.write(string.format(
    '{"wrk": 1, "requests": %d, "duration_us": %d, "connect": %d, "read": %d, "write": %d, "status": %d, ' ..
    '"timeout": %d, "p50_us": %d, "p99_us": %d, "missing_done": %d, "elapsed": %f}\n',
    summary.requests, summary.duration, e.connect, e.read, e.write, e.status, e.timeout,
    latency:percentile(50), latency:percentile(99), missing, seconds))
end
"""


def ensure_wrk() -> str | None:
    """The wrk binary, installing the Debian package if we can; None means: use the Python generator."""
    if os.environ.get("BENCH_NO_WRK"):  # to compare with, or to rule out, the Python generator
        return None
    if not shutil.which("wrk") and shutil.which("apt-get") and os.geteuid() == 0:
        quiet = {"stdout": subprocess.DEVNULL, "stderr": subprocess.DEVNULL, "check": False}
        if subprocess.run(["apt-get", "install", "-y", "-q", "wrk"], **quiet).returncode != 0:
            subprocess.run(["apt-get", "update", "-q"], **quiet)
            subprocess.run(["apt-get", "install", "-y", "-q", "wrk"], **quiet)
    return shutil.which("wrk")


def run_wrk(
    wrk: str,
    url: str,
    body: bytes,
    *,
    concurrency: int,
    duration: float,
    total: int | None = None,
    key: str | None = None,
    stream: bool = False,
    timeout: float = 10.0,
    cpus: str | None = None,
    unique: bool = False,
) -> LoadResult:
    """wrk for `duration` seconds, or until `total` answers (then `duration` is only the upper bound)."""
    with tempfile.NamedTemporaryFile("w", suffix=".lua", delete=False) as script:
        script.write(LUA)
    env = {
        **os.environ,
        "BENCH_BODY": body.decode(),
        "BENCH_KEY": key or "",
        "BENCH_STREAM": "1" if stream else "0",
        "BENCH_TOTAL": str(total or 0),
        "BENCH_UNIQUE": "1" if unique else "0",
    }
    command = [wrk, "-t1", f"-c{concurrency}", f"-d{max(1, round(duration))}s", f"--timeout={timeout:g}s"]
    command += ["-s", script.name, url]
    if cpus is not None:
        command = ["taskset", "-c", cpus, *command]
    try:
        with subprocess.Popen(command, env=env, stdout=subprocess.PIPE, text=True) as process:
            assert process.stdout is not None
            summary = ""
            for line in process.stdout:
                if line.strip() == "stopped":
                    process.send_signal(signal.SIGINT)  # wrk's main thread sleeps for -d: wake it up
                elif line.startswith('{"wrk"'):
                    summary = line
    finally:
        Path(script.name).unlink()
    if process.returncode != 0 or not summary:
        raise RuntimeError(f"wrk failed ({process.returncode}): {' '.join(command)}")
    data = orjson.loads(summary)
    # wrk counts every answer in `requests`; the ones with a non-2xx/3xx status are also in `status`.
    result = LoadResult(
        requests=data["requests"] - data["status"],
        non_2xx=data["status"],
        timeouts=data["timeout"],
        connect_errors=data["connect"] + data["read"] + data["write"],
        missing_done=data["missing_done"],
        seconds=data["elapsed"] if total else data["duration_us"] / 1e6,
    )
    result.errors = result.non_2xx + result.timeouts + result.connect_errors + result.missing_done
    result.rps = result.requests / result.seconds if result.seconds else 0.0
    result.p50_ms, result.p99_ms = data["p50_us"] / 1000, data["p99_us"] / 1000
    return result
