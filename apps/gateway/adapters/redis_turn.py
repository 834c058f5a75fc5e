"""The data plane's commands to Redis in one turn of the event loop — the response cache's lookups and writes and
the limit and budget counters' admissions of every call that arrived in it — sent as ONE script run (EVALSHA, the
TURN script): per turn, one command to encode, one reply to parse and one write, instead of up to three commands a
call (a loaded worker starts tens of calls a turn; each command cost the worker ~4-6 µs, measured with py-spy).

Each admission stays atomic and exact: Redis runs a script whole, and the script admits the turn's calls one after
the other, in the order they arrived, exactly as separate commands would have been. A call still waits for one
round trip, and on its own future: a caller that gives up (cancelled) does not disturb the others. Cache writes
are lazy — nobody waits for them on an answer's path — and go with the next turn that reads or admits, or alone
within LAZY_WRITE; a write that Redis refuses fails alone (pcall), never the turn's admissions.

RedisCounters.admit and RedisCacheStore's get and put hand their part here; the turn goes out once the callbacks
of this turn of the loop have run, with every other command of the turn (resp/connection.py writes them
together). Its timeout is the longest its callers asked for. When Redis lacks the script (restarted, SCRIPT
FLUSH), it is loaded and the turn sent again."""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Sequence

from apps.gateway.adapters.resp import Reply, RespClient, RespError, Script, bulk_strings

# KEYS: the cache keys to write, those to read, then each admission's counters. ARGV[1], ARGV[2]: how many keys to
# write and to read. Then 2 arguments per write: the value and its time to live in seconds. Then 4 per admission:
# how many counters it has; for each, its limit and its window's end in unix ms, space-separated (one argument
# instead of two per counter: encoding them costs the gateway more than parsing them costs Redis; and the same for
# a minute's calls: encoded once, see PreparedAdmission); the call's clock in unix ms; the amounts, space-separated.
# Returns {admissions, failed writes, the value of each key read (nil when absent)}. `admissions`: "refused used…"
# of each, comma-separated, where refused is the index of the first counter that did not fit (1-based; 0: all were
# added, nothing is added otherwise) and used each counter's value after (one bulk string: parsing it costs the
# gateway a fifth of what an array of integers does). `failed writes`: their indices (1-based), space-separated.
# Amounts stay strings for INCRBY: micro-dollar sums beyond 2^53 would lose digits as Lua numbers. A counter's time
# to live runs from the call's clock to its window's end, so neither a skew with Redis's clock nor a call admitted
# just after its window's end (it arrived before) can drop a counter while its window is still being counted.
TURN = Script("""
local writes, reads = tonumber(ARGV[1]), tonumber(ARGV[2])
local failed = {}
for i = 1, writes do
  local done = redis.pcall('SET', KEYS[i], ARGV[1 + 2 * i], 'EX', ARGV[2 + 2 * i])
  if type(done) == 'table' and done.err then failed[#failed + 1] = i end
end
local reply = {'', table.concat(failed, ' ')}
for i = 1, reads do
  reply[i + 2] = redis.call('GET', KEYS[writes + i])
end
local admitted = {}
local k, a = writes + reads, 3 + 2 * writes
while a <= #ARGV do
  local n, spec, amounts = tonumber(ARGV[a]), {}, {}
  for part in string.gmatch(ARGV[a + 1], '%S+') do spec[#spec + 1] = tonumber(part) end
  local now = tonumber(ARGV[a + 2])
  for part in string.gmatch(ARGV[a + 3], '%S+') do amounts[#amounts + 1] = part end
  local used = redis.call('MGET', unpack(KEYS, k + 1, k + n))
  for i = 1, n do
    used[i] = tonumber(used[i] or '0')
  end
  local refused = 0
  for i = 1, n do
    if used[i] + tonumber(amounts[i]) > spec[2 * i - 1] then
      refused = i
      break
    end
  end
  if refused == 0 then
    for i = 1, n do
      used[i] = redis.call('INCRBY', KEYS[k + i], amounts[i])
      redis.call('PEXPIRE', KEYS[k + i], math.max(1, spec[2 * i] - now))
    end
  end
  for i = 1, n do
    used[i] = string.format('%d', used[i])
  end
  admitted[#admitted + 1] = refused .. ' ' .. table.concat(used, ' ')
  k, a = k + n, a + 4
end
reply[1] = table.concat(admitted, ',')
return reply
""")
_HEAD = bulk_strings(["EVALSHA", TURN.sha])
MAX_PARTS = 512  # writes, reads and admissions in one script: a turn with more sends several
LAZY_WRITE = 0.002  # seconds a turn of writes alone waits for a read or an admission to go with


class PreparedAdmission:
    """A set of counters' part of the TURN script, encoded once: its keys and limits stay the same for a minute's
    calls, whose amounts change."""

    __slots__ = ("count", "keys", "spec")

    def __init__(self, keys: Sequence[str], limits: Sequence[int], resets: Sequence[int]) -> None:
        self.count = len(keys)
        self.keys = bulk_strings(keys)
        spec = " ".join(f"{limit} {end * 1000}" for limit, end in zip(limits, resets, strict=True))
        self.spec = bulk_strings([self.count, spec])


class _Turn:
    """What the calls of one turn of one event loop write and read: their parts of the script, each read's and
    each admission's future, and what to tell of a write that failed."""

    __slots__ = (
        "admissions",
        "counted",
        "counters",
        "finished",
        "in_flight",
        "later",
        "loop",
        "parts",
        "read_keys",
        "reads",
        "sent",
        "spec",
        "within",
        "write_args",
        "write_failed",
        "write_keys",
    )

    def __init__(self, loop: asyncio.AbstractEventLoop) -> None:
        self.loop = loop
        self.within = 0.0
        self.parts = 0
        self.sent = False
        self.later: asyncio.TimerHandle | None = None  # the send of a turn of writes alone
        self.in_flight: set[_Turn] | None = None  # its script's turns sent and not yet answered, once sent
        self.finished: asyncio.Future[None] | None = None  # made by `drain` only, to wait for the answer
        self.write_keys: list[bytes] = []
        self.write_args: list[bytes] = []
        self.write_failed: list[Callable[[BaseException], None]] = []
        self.read_keys: list[bytes] = []
        self.reads: list[asyncio.Future[Reply]] = []
        self.counters: list[bytes] = []  # each admission's keys, encoded
        self.counted = 0  # how many keys those are
        self.spec: list[bytes] = []  # each admission's arguments, encoded
        self.admissions: list[asyncio.Future[Reply]] = []

    def encode(self) -> bytes:
        keys = len(self.write_keys) + len(self.read_keys) + self.counted
        count = 3 + keys + 2 + 2 * len(self.write_keys) + 4 * len(self.admissions)
        return b"".join(
            [
                b"*%d\r\n" % count,
                _HEAD,
                bulk_strings([keys]),
                *self.write_keys,
                *self.read_keys,
                *self.counters,
                bulk_strings([len(self.write_keys), len(self.read_keys)]),
                *self.write_args,
                *self.spec,
            ]
        )

    def answer(self, reply: Reply) -> None:
        if (
            not isinstance(reply, list)
            or len(reply) != 2 + len(self.reads)
            or not isinstance(reply[0], bytes)
            or not isinstance(reply[1], bytes)
        ):
            self.fail(RespError(f"unexpected reply to the turn's script: {reply!r}"[:200]))
            return
        self._finish()
        for index in reply[1].split():
            self.write_failed[int(index) - 1](RespError("Redis refused the write"))
        for future, value in zip(self.reads, reply[2:], strict=True):
            if not future.done():
                future.set_result(value)
        if self.admissions:
            for future, admission in zip(self.admissions, reply[0].split(b","), strict=True):
                if not future.done():
                    future.set_result(admission)

    def fail(self, error: BaseException) -> None:
        self._finish()
        for failed in self.write_failed:
            failed(error)
        for future in (*self.reads, *self.admissions):
            if not future.done():
                future.set_exception(error)

    def _finish(self) -> None:
        if self.in_flight is not None:
            self.in_flight.discard(self)
        if self.finished is not None and not self.finished.done():
            self.finished.set_result(None)


_SHARED: dict[str, TurnScript] = {}


class TurnScript:
    """The commands of a turn on one Redis (`shared`: one per URL, for the counters and the cache alike)."""

    def __init__(self, client: RespClient) -> None:
        self._client = client
        self._gathering: dict[int, _Turn] = {}  # per event loop (tests run several; threads may run their own)
        self._in_flight: set[_Turn] = set()  # sent, not yet answered
        self._reloading: set[asyncio.Task[None]] = set()

    @classmethod
    def shared(cls, url: str) -> TurnScript:
        client = RespClient.shared(url)
        found = _SHARED.get(url)
        if found is None or found._client is not client:
            found = _SHARED[url] = cls(client)
        return found

    def get(self, key: str, *, within: float) -> asyncio.Future[Reply]:
        """The value of `key` (None when absent), read with this turn's other parts."""
        turn = self._turn(within)
        future: asyncio.Future[Reply] = turn.loop.create_future()
        turn.read_keys.append(bulk_strings([key]))
        turn.reads.append(future)
        return future

    def put(self, key: str, value: bytes, ttl: int, *, within: float, failed: Callable[[BaseException], None]) -> None:
        """Store `value` for `ttl` seconds, with the next turn that reads or admits (or alone within LAZY_WRITE):
        any read sent after it sees it. `failed` hears why, if Redis or the connection refused it."""
        turn = self._turn(within, lazy=True)
        turn.write_keys.append(bulk_strings([key]))
        turn.write_args.append(bulk_strings([value, ttl]))
        turn.write_failed.append(failed)

    def admit(self, prepared: PreparedAdmission, now_ms: int, amounts: str, *, within: float) -> asyncio.Future[Reply]:
        """The TURN script's "refused used…" of admitting `amounts` (space-separated) to the counters."""
        turn = self._turn(within)
        future: asyncio.Future[Reply] = turn.loop.create_future()
        turn.counters.append(prepared.keys)
        turn.counted += prepared.count
        turn.spec.append(prepared.spec + bulk_strings([now_ms, amounts]))
        turn.admissions.append(future)
        return future

    async def drain(self) -> None:
        """Send this loop's turn now and wait until every turn sent on it is answered (or failed): before the
        loop's connection closes, so that no write is lost."""
        loop = asyncio.get_running_loop()
        turn = self._gathering.get(id(loop))
        if turn is not None and turn.loop is loop:
            self._send(turn)
        waits = []
        for sent in list(self._in_flight):  # copied at once: another thread's loop may add to it meanwhile
            if sent.loop is loop:
                sent.finished = sent.finished or loop.create_future()
                waits.append(sent.finished)
        if waits:
            await asyncio.gather(*waits)

    def _turn(self, within: float, *, lazy: bool = False) -> _Turn:
        loop = asyncio.get_running_loop()
        turn = self._gathering.get(id(loop))
        if turn is None or turn.loop is not loop or turn.parts >= MAX_PARTS:
            turn = self._gathering[id(loop)] = _Turn(loop)
            if lazy:
                turn.later = loop.call_later(LAZY_WRITE, self._send, turn)
            else:
                loop.call_soon(self._send, turn)
        elif not lazy and turn.later is not None:  # writes waiting alone: they go with this now
            turn.later.cancel()
            turn.later = None
            loop.call_soon(self._send, turn)
        turn.parts += 1
        if within > turn.within:
            turn.within = within
        return turn

    def _send(self, turn: _Turn) -> None:
        if turn.sent:
            return
        turn.sent = True
        if turn.later is not None:
            turn.later.cancel()
            turn.later = None
        if self._gathering.get(id(turn.loop)) is turn:
            del self._gathering[id(turn.loop)]
        turn.in_flight = self._in_flight
        self._in_flight.add(turn)
        payload = turn.encode()
        # The end of the turn: written at once rather than at the end of the next one.
        reply = self._client.submit_encoded(payload, at_once=True, within=turn.within)
        reply.add_done_callback(lambda done: self._replied(turn, payload, done))

    def _replied(self, turn: _Turn, payload: bytes, reply: asyncio.Future[Reply]) -> None:
        if reply.cancelled():
            turn.fail(asyncio.CancelledError())
            return
        error = reply.exception()
        if error is None:
            turn.answer(reply.result())
        elif isinstance(error, RespError) and str(error).startswith("NOSCRIPT"):
            # Not in this Redis yet (a restart or SCRIPT FLUSH empties its cache): load it, then send the turn again.
            task = turn.loop.create_task(self._reload(turn, payload))
            self._reloading.add(task)
            task.add_done_callback(self._reloading.discard)
        else:
            turn.fail(error)

    async def _reload(self, turn: _Turn, payload: bytes) -> None:
        try:
            await self._client.execute("SCRIPT", "LOAD", TURN.source, within=turn.within)
            reply = await self._client.execute_encoded(payload, within=turn.within)
        except Exception as exc:
            turn.fail(exc)
        else:
            turn.answer(reply)
