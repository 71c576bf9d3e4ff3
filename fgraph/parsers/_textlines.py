"""Shared machinery of the two text readers (kernel function_graph text, ``trace-cmd report``).

Both readers work the same way, without a per-line Python loop:

1. :func:`read_lines` finds the newlines (C, else numpy) and wraps the whole input, zero-copy,
   as an Arrow string array of lines (each line keeps its ``\\n``; the regexes never cross it).
2. A reader-specific RE2 regex (Arrow's ``extract_regex``) cuts every line into its
   prefix columns and the graph text, chunk by chunk on a small thread pool (Arrow releases the
   GIL).
3. :func:`parse_graph_text` classifies the graph text (leaf ``f();``, entry ``f() {``, return
   ``}`` with optional ``/* tail */``, comment ``/* … */``, IRQ arrows, banners, lost lines) and
   :func:`build_event_table` expands the per-line results into event rows (a leaf line gives an
   entry and an exit row; :func:`expand_rows`, C), infers the function of a bare ``}`` by
   sorting and forward filling, and parses the fields of other events printed as comments.

The kernel text reader first lets its C scanner read the lines it can (see
:mod:`.ftrace_text`); steps 2-3 then run on the rest only.

Strings become codes of one :class:`~fgraph.table.StringPool` through Arrow's
``dictionary_encode`` (the Python work is per distinct string, not per line).
"""

from __future__ import annotations

import os
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pyarrow as pa
from pyarrow import _compute as _pcx

from .. import schema
from .._numpy import positions, unique
from ..errors import TraceFormatError
from ..schema import EventFlag, EventKind, LostSource
from ..source import Source
from ..table import EventTable, FieldTable, LostTable, StringPool, TraceMeta

_split: Any
_tsc: Any
try:
    from .._ext import textscan as _tsc
    from .._ext.textscan import split as _split
except ImportError:  # pragma: no cover - extension not built: numpy
    _split = _tsc = None

# Per-line classification (``LineKind``): what a line turned into.
L_UNPARSED = 0
L_ENTRY = 1  # "f() {"
L_EXIT = 2  # "}" / "} /* f */"
L_LEAF = 3  # "f();"
L_EVENT = 4  # another event: a "/* name: … */" comment, trace_printk text, or a report record
L_ARROW_IN = 5
L_ARROW_OUT = 6
L_LOST = 7
L_BANNER = 8  # " 1)  <idle>-0  =>  sh-107 " (context switch banner, middle line)
L_IGNORED = 9  # blank, '#' header, banner dashes
L_OVERRUN = 10  # " (Overruns: 0)" after a return
L_GRAPH = 11  # set by a reader: the line's text is graph text, to be classified here

CHUNK_LINES = 1 << 17
# The kernel prints function_graph times in microseconds (trace_functions_graph.c
# print_graph_abs_time: "%5lu.%06lu"): a kernel text's timestamp resolution
KERNEL_TS_NS = 1000
MAX_EXAMPLES = 20


@dataclass
class TextCarry:
    """What one piece of a text leaves to the next when the text is read piece by piece
    (:mod:`fgraph.parsers.text_windows`), and the counts its warnings and meta are made of at
    the end.  A piece's table then names rows and lines by their place in the whole text.

    ``restart`` is set when a piece meets what only the whole text can answer (a kernel text's
    first bare ``}`` after its first piece, bytes that are not UTF-8): the reader starts again
    whole.  Rows before a CPU's first banner take the task that banner switched from: a piece
    with such rows leaves their CPU in ``unresolved``, and the piece that has the banner puts
    the task in ``resolved``, for the reader to give the rows of the pieces it held."""

    line_base: int = 0  # lines before this piece
    # bare "}": per (group, depth) the last candidate: (is an entry, nested, func, module)
    bare: dict[tuple[int, int], tuple[bool, bool, int, int]] = field(default_factory=dict)
    banner: dict[int, tuple[int, int]] = field(default_factory=dict)  # cpu -> to (pid, comm)
    unresolved: set[int] = field(default_factory=set)  # CPUs with rows no banner named yet
    # unresolved CPUs whose first banner this piece has: cpu -> the task it switched from
    resolved: dict[int, tuple[int, int]] = field(default_factory=dict)
    bannerless: set[int] = field(default_factory=set)  # CPUs with no banner in the rest
    # lost-event lines with no record after them on their CPU yet: (cpu, count, line)
    pending_lost: list[tuple[int, int, int]] = field(default_factory=list)
    last: bool = False  # this piece is the last: pending gaps stay gaps after every record
    bare_seen: bool = False  # a bare "}" was met: the last candidates are kept from then on
    restart: bool = False
    # the counts of the warnings and meta, over the pieces read
    lost_lines: int = 0
    lost_known: int = 0
    lost_uncounted: bool = False
    unparsed: int = 0
    examples: list[tuple[int, str]] = field(default_factory=list)
    dur_res: int = 0
    lines: int = 0  # lines read (line_base of the next piece)
    fast_lines: int = 0  # of which the fast path read
    facts: dict[str, Any] = field(default_factory=dict)  # the reader's (ftrace_text.text_facts)

    def add_piece(
        self, lines: int, fast: int, facts: dict[str, Any], merge: Callable[..., dict[str, Any]]
    ) -> None:
        """Count a piece read: its ``lines``, those the fast path read (-1: no fast path) and
        the reader's ``facts`` about it, joined to the earlier pieces' by ``merge``."""
        self.lines += lines
        self.fast_lines = self.fast_lines + fast if fast >= 0 <= self.fast_lines else -1
        self.facts = merge(self.facts, facts) if self.facts else facts


def not_utf8(meta: TraceMeta, replaced: int, path: str, carry: TextCarry | None) -> None:
    """The warning for a text with bytes that are not UTF-8 (``replaced`` of them, read as
    '?').  A piece of a text starts the read again whole: read whole, every byte >= 0x80 of the
    text is read as '?' when any is not UTF-8."""
    if not replaced:
        return
    if carry is not None:
        carry.restart = True
    meta.warn(f"input is not valid UTF-8: {replaced} non-ASCII bytes read as '?'", path)


# The graph text after the prologue columns and the indent.  Names are "everything before '('"
# (%ps output: symbol, symbol.isra.0, 0xffffffff81000000, "sym [mod]"); see
# kernel/trace/trace_functions_graph.c print_graph_entry_leaf()/print_graph_entry_nested()/
# print_graph_return(); retval/retaddr comments from print_graph_retval() (6.5+, 6.13+).
GRAPH_TEXT_RX = (
    r"^(?:"
    r"(?P<fn>[^\s(){}/][^\s(){}]*)(?: \[(?P<mod>[^\]\s]+)\])?\((?P<args>.*?)\)(?P<open>;| \{)"
    # trace-cmd report appends " (ret=…)" and, with -O fgraph:depth, " (<depth>)"
    r"(?: /\* (?P<fcmt>.*?) \*/)?(?: \(ret=(?P<rret>[^)\s]+)\))?(?: \(\d+\))?"
    r"|(?P<close>\})(?: /\* (?P<tail>.*?) \*/)?(?: \(ret=(?P<cret>[^)\s]+)\))?(?: \(\d+\))?"
    r"|/\* (?P<cmt>.*?) \*/"
    r"|(?P<arrow>==========>|<==========)(?: \|)?"
    r"|CPU:(?P<lcpu>\d+) \[(?:LOST(?: (?P<lcnt>\d+))? EVENTS|(?P<dcnt>\d+ )?EVENTS DROPPED)\]"
    r"|(?P<bfrom>\S[^=]*?)-(?P<bfpid>\d+) +=> +(?P<bto>\S[^=]*?)-(?P<btpid>\d+)"
    r"|\((?P<ovr>Overruns): (?P<novr>\d+)\)"
    r"|(?P<dash>-{20,})"
    r") *\r?$"
)

# Fields of the events the later stages read, as the kernel prints them (TP_printk of
# include/trace/events/sched.h, irq.h) and as trace-cmd's plugins print them
# (trace-cmd lib/trace-cmd/plugins / libtraceevent plugins/plugin_sched_switch.c).
_INT = "int"
_STR = "str"
EVENT_FIELD_RX: dict[str, list[str]] = {
    "sched_switch": [
        r"^prev_comm=(?P<prev_comm>.*?) prev_pid=(?P<prev_pid>-?\d+) prev_prio=(?P<prev_prio>-?\d+)"
        r" prev_state=(?P<prev_state>\S+) ==> next_comm=(?P<next_comm>.*?) next_pid=(?P<next_pid>-?\d+)"
        r" next_prio=(?P<next_prio>-?\d+)",
        # trace-cmd plugin_sched_switch.c: "prev:pid [prio] S ==> next:pid [prio]"
        r"^(?P<prev_comm>.*?):(?P<prev_pid>-?\d+) \[(?P<prev_prio>-?\d+)\] (?P<prev_state>\S+) ==>"
        r" (?P<next_comm>.*?):(?P<next_pid>-?\d+) \[(?P<next_prio>-?\d+)\]",
    ],
    "sched_wakeup": [
        r"^comm=(?P<comm>.*?) pid=(?P<pid>-?\d+) prio=(?P<prio>-?\d+)(?: success=\d+)?"
        r"(?: target_cpu=(?P<target_cpu>\d+))?",
        r"^(?P<comm>.*?):(?P<pid>-?\d+) \[(?P<prio>-?\d+)\](?: success=\d+)?(?: CPU:(?P<target_cpu>\d+))?",
    ],
    "sched_migrate_task": [
        r"^comm=(?P<comm>.*?) pid=(?P<pid>-?\d+) prio=(?P<prio>-?\d+) orig_cpu=(?P<orig_cpu>\d+)"
        r" dest_cpu=(?P<dest_cpu>\d+)",
    ],
    "irq_handler_entry": [r"^irq=(?P<irq>-?\d+) name=(?P<name>.*?) *$"],
    "irq_handler_exit": [r"^irq=(?P<irq>-?\d+) ret=(?P<ret>\w+)"],
    "softirq_entry": [r"^vec=(?P<vec>\d+)"],
}
for _alias in ("sched_wakeup_new", "sched_waking"):
    EVENT_FIELD_RX[_alias] = EVENT_FIELD_RX["sched_wakeup"]
for _alias in ("softirq_exit", "softirq_raise"):
    EVENT_FIELD_RX[_alias] = EVENT_FIELD_RX["softirq_entry"]
STRING_FIELDS = {"prev_comm", "prev_state", "next_comm", "comm", "name"}

# An event name at the start of a comment: "sched_switch: …".  trace_printk messages are printed
# without a name (kernel/trace/trace_output.c trace_print_print/bprint), so a comment whose text
# does not start like this is a PRINT event.  A trace_printk text that happens to look like
# "word_word: …" cannot be told apart from an event; we require an underscore in the name.
EVENT_NAME_RX = r"^(?P<ename>[a-z][a-z0-9]*_[a-z0-9_]*): (?P<etext>.*)$"


class _Compute:
    """The Arrow compute functions the text readers use, called through ``pyarrow._compute``.

    ``import pyarrow.compute`` generates a Python wrapper with a docstring for each of the
    ~300 kernels: 30-50 ms of every text run (measured with ``python -X importtime``), more
    than parsing 3 MB.  These are the same kernels with the options pyarrow.compute would pass
    (pyarrow/compute.py: ``cast`` safe, ``take`` bounds-checked, ``fill_null`` = coalesce with
    a scalar of the values' type).  Array methods that go through pyarrow.compute
    (``Array.take``, ``Array.cast``, …) are avoided for the same reason.
    """

    @staticmethod
    def _call(name: str, args: list[Any], options: Any = None) -> Any:
        return _pcx.call_function(name, args, options)

    def extract_regex(self, a: Any, pattern: str) -> Any:
        return self._call("extract_regex", [a], _pcx.ExtractRegexOptions(pattern))

    def match_substring_regex(self, a: Any, pattern: str) -> Any:
        return self._call("match_substring_regex", [a], _pcx.MatchSubstringOptions(pattern))

    def starts_with(self, a: Any, pattern: str) -> Any:
        return self._call("starts_with", [a], _pcx.MatchSubstringOptions(pattern))

    def utf8_trim_whitespace(self, a: Any) -> Any:
        return self._call("utf8_trim_whitespace", [a])

    def utf8_rtrim(self, a: Any, characters: str) -> Any:
        return self._call("utf8_rtrim", [a], _pcx.TrimOptions(characters))

    def utf8_rpad(self, a: Any, width: int, padding: str) -> Any:
        return self._call("utf8_rpad", [a], _pcx.PadOptions(width, padding))

    def binary_length(self, a: Any) -> Any:
        return self._call("binary_length", [a])

    def binary_join_element_wise(self, *strings: Any) -> Any:
        return self._call("binary_join_element_wise", list(strings), _pcx.JoinOptions())

    def equal(self, a: Any, b: Any) -> Any:
        return self._call("equal", [a, b])

    def greater(self, a: Any, b: Any) -> Any:
        return self._call("greater", [a, b])

    def or_(self, a: Any, b: Any) -> Any:
        return self._call("or", [a, b])

    def if_else(self, cond: Any, a: Any, b: Any) -> Any:
        return self._call("if_else", [cond, a, b])

    def is_valid(self, a: Any) -> Any:
        return self._call("is_valid", [a])

    def fill_null(self, a: Any, value: pa.Scalar) -> Any:
        # callers pass a scalar of a's type (see str_scalar / int_scalar below)
        return self._call("coalesce", [a, value])

    def cast(self, a: Any, typ: Any) -> Any:
        return self._call("cast", [a], _pcx.CastOptions.safe(typ))

    def dictionary_encode(self, a: Any) -> Any:
        return self._call("dictionary_encode", [a], _pcx.DictionaryEncodeOptions())

    def take(self, a: Any, indices: Any) -> Any:
        return self._call("take", [a, indices], _pcx.TakeOptions(boundscheck=True))

    def filter(self, a: Any, mask: Any) -> Any:
        return self._call("filter", [a, mask], _pcx.FilterOptions())


pc = _Compute()


# ---- Arrow <-> numpy without pandas ----------------------------------------------------------
# pyarrow loads pandas (about 0.2 s, more than reading 30 MB of text) the first time it converts
# values between Python/numpy and Arrow: Array.to_numpy(), pa.array(), pa.scalar() and compute
# calls given plain Python values all do (measured with pyarrow 26; its pandas-shim.pxi imports
# pandas on first use).  The text readers only need fixed-width columns and a few scalars, so
# they go through the buffers instead and a text run never imports pandas.

_NP_OF_PA = {
    "int8": np.int8,
    "int16": np.int16,
    "int32": np.int32,
    "int64": np.int64,
    "uint8": np.uint8,
    "uint16": np.uint16,
    "uint32": np.uint32,
    "uint64": np.uint64,
    "float": np.float32,
    "double": np.float64,
}
_PA_OF_NP = {
    np.dtype(np.int8): pa.int8(),
    np.dtype(np.int16): pa.int16(),
    np.dtype(np.int32): pa.int32(),
    np.dtype(np.int64): pa.int64(),
    np.dtype(np.uint8): pa.uint8(),
    np.dtype(np.uint64): pa.uint64(),
    np.dtype(np.float64): pa.float64(),
}


def np_of(a: Any) -> np.ndarray:
    """numpy values of an Arrow boolean or numeric array (what ``to_numpy(zero_copy_only=False)``
    gives, without pandas: numbers zero-copy and read-only, booleans a new array)."""
    if isinstance(a, pa.ChunkedArray):
        a = a.combine_chunks()
    n, off = len(a), a.offset
    if a.null_count:  # pragma: no cover - callers fill nulls first; keep pyarrow's result
        return np.asarray(a.to_numpy(zero_copy_only=False))
    if pa.types.is_boolean(a.type):
        if n == 0:
            return np.zeros(0, dtype=bool)
        bits = np.frombuffer(a.buffers()[1], dtype=np.uint8)
        return np.unpackbits(bits, bitorder="little")[off : off + n].astype(bool)
    dt = np.dtype(_NP_OF_PA[str(a.type)])
    if n == 0:
        return np.zeros(0, dtype=dt)
    return np.frombuffer(a.buffers()[1], dtype=dt, count=n, offset=off * dt.itemsize)


def arr_of(x: np.ndarray) -> pa.Array:
    """An Arrow array of a numpy boolean or numeric array (``pa.array(x)`` without pandas)."""
    x = np.ascontiguousarray(x)
    if x.dtype == np.bool_:
        return pa.Array.from_buffers(
            pa.bool_(), len(x), [None, pa.py_buffer(np.packbits(x, bitorder="little"))]
        )
    return pa.Array.from_buffers(_PA_OF_NP[x.dtype], len(x), [None, pa.py_buffer(x)])


def idx_of(x: np.ndarray) -> pa.Array:
    """Row indices for ``take`` as an Arrow int64 array."""
    return arr_of(np.asarray(x, dtype=np.int64))


def str_array(values: list[str]) -> pa.Array:
    """``pa.array(values, type=pa.large_string())`` without pandas (no nulls)."""
    enc = [v.encode("utf-8") for v in values]
    offs = np.zeros(len(enc) + 1, dtype=np.int64)
    np.cumsum([len(v) for v in enc], out=offs[1:])
    return pa.LargeStringArray.from_buffers(
        len(enc), pa.py_buffer(offs), pa.py_buffer(b"".join(enc))
    )


def str_scalar(v: str, typ: Any = None) -> pa.Scalar:
    """``pa.scalar(v, typ)`` for a string type without pandas."""
    a = str_array([v])
    return (a if typ is None or typ == a.type else pc.cast(a, typ))[0]


def int_scalar(v: int, typ: Any) -> pa.Scalar:
    """``pa.scalar(v, typ)`` for an integer type without pandas."""
    return arr_of(np.array([v], dtype=_NP_OF_PA[str(typ)]))[0]


def null_scalar(typ: Any) -> pa.Scalar:
    return pa.nulls(1, typ)[0]


def fill_false(a: Any) -> np.ndarray:
    """A boolean Arrow array as numpy, nulls as False."""
    return np_of(pc.fill_null(a, arr_of(np.zeros(1, dtype=bool))[0]))


def clean_utf8(data: Any) -> tuple[Any, int]:
    """``data`` itself when it is valid UTF-8, else a copy with every byte >= 0x80 turned into
    '?' (Arrow's string kernels need valid UTF-8) and the number of bytes replaced.

    Traces are ASCII apart from odd task names, so the common case costs one comparison pass.
    """
    buf = np.frombuffer(data, dtype=np.uint8)
    high = buf >= 0x80
    if not high.any():
        return data, 0
    probe = pa.LargeStringArray.from_buffers(
        1, pa.py_buffer(np.array([0, len(buf)], dtype=np.int64)), pa.py_buffer(data)
    )
    try:
        probe.validate(full=True)
        return data, 0
    except pa.ArrowInvalid:
        out = buf.copy()
        out[high] = ord("?")
        return out.tobytes(), int(high.sum())


def spans_array(data: Any, starts: np.ndarray, ends: np.ndarray) -> pa.Array:
    """The byte spans [starts, ends) of ``data`` (sorted, not overlapping) as a
    ``large_string`` array: one Arrow array whose elements are the spans and the gaps between
    them (offsets start0, end0, start1, …, no per-span Python), then the spans taken out."""
    k = len(starts)
    offs = np.empty(2 * k + 1, dtype=np.int64)
    offs[0 : 2 * k : 2] = starts
    offs[1 : 2 * k : 2] = ends
    offs[2 * k] = max(len(data), int(ends[-1])) if k else 0
    both = pa.LargeStringArray.from_buffers(2 * k, pa.py_buffer(offs), pa.py_buffer(data))
    return pc.take(both, idx_of(np.arange(0, 2 * k, 2)))


def split_lines(data: Any) -> tuple[pa.Array, np.ndarray]:
    """The input as an Arrow ``large_string`` array of lines (zero-copy) and each line's start.

    ``data`` must be valid UTF-8 (see :func:`clean_utf8`).
    """
    buf = np.frombuffer(data, dtype=np.uint8)
    n = len(buf)
    nl = np.flatnonzero(buf == 10)
    ends = nl + 1
    if n and (len(nl) == 0 or nl[-1] != n - 1):
        ends = np.append(ends, n)
    offsets = np.empty(len(ends) + 1, dtype=np.int64)
    offsets[0] = 0
    offsets[1:] = ends
    arr = pa.LargeStringArray.from_buffers(len(ends), pa.py_buffer(offsets), pa.py_buffer(data))
    return arr, offsets[:-1]


def read_lines(data: Any) -> tuple[Any, int, pa.Array, np.ndarray]:
    """:func:`clean_utf8` then :func:`split_lines`: (data, bytes replaced, lines, line starts).

    With the C helper (fgraph/_ext/textscan.c ``split``) one pass finds the newlines and
    whether any byte is >= 0x80; only then is the UTF-8 check needed.
    """
    if _split is not None:
        offsets, nhigh = _split(data)
        if nhigh == 0:
            arr = pa.LargeStringArray.from_buffers(
                len(offsets) - 1, pa.py_buffer(offsets), pa.py_buffer(data)
            )
            return data, 0, arr, offsets[:-1]
    data, replaced = clean_utf8(data)
    arr, starts = split_lines(data)
    return data, replaced, arr, starts


def open_text(source: Any) -> tuple[str, Any, Any, int, pa.Array, np.ndarray]:
    """A text reader's start: (name, the input as mapped, :func:`read_lines`' data, bytes
    replaced, lines, line starts); an empty input is a TraceFormatError."""
    name = getattr(source, "name", "<input>")
    mapped = source.data if isinstance(source, Source) else source
    data, replaced, arr, starts = read_lines(mapped)
    if len(arr) == 0:
        raise TraceFormatError("empty input", path=name)
    return name, mapped, data, replaced, arr, starts


def map_chunks(
    arr: pa.Array, fn: Callable[[pa.Array], dict[str, np.ndarray]]
) -> dict[str, np.ndarray]:
    """Apply ``fn`` to slices of ``arr`` on a thread pool and concatenate the column dicts."""
    n = len(arr)
    bounds = list(range(0, n, CHUNK_LINES)) or [0]
    slices = [arr.slice(b, min(CHUNK_LINES, n - b)) for b in bounds]
    workers = min(len(slices), os.cpu_count() or 1, 4)
    if workers > 1:
        with ThreadPoolExecutor(workers) as ex:
            parts = list(ex.map(fn, slices))
    else:
        parts = [fn(s) for s in slices]
    return {k: np.concatenate([p[k] for p in parts]) for k in parts[0]}


def group(st: Any, name: str) -> pa.Array:
    return st.field(name)


def nonempty(a: pa.Array) -> np.ndarray:
    n = pc.binary_length(a)
    return fill_false(pc.greater(n, int_scalar(0, n.type)))


def to_int(a: pa.Array, null: int = -1) -> np.ndarray:
    """Decimal strings → int64 (empty / missing / wider than 18 digits → ``null``)."""
    n = pc.binary_length(a)
    bad = pc.or_(pc.equal(n, int_scalar(0, n.type)), pc.greater(n, int_scalar(18, n.type)))
    a = pc.if_else(bad, null_scalar(a.type), a)
    return np_of(pc.fill_null(pc.cast(a, pa.int64()), int_scalar(null, pa.int64())))


def frac_to_ns(ints: pa.Array, fracs: pa.Array, unit_ns: int) -> np.ndarray:
    """``<int>.<frac>`` in units of ``unit_ns`` → int64 ns, exact (no float); -1 when empty."""
    i = to_int(ints)
    f = to_int(fracs, 0)
    flen = np.asarray(np_of(pc.binary_length(fracs)), dtype=np.int64)
    scale = np.array([10**k for k in range(19)], dtype=np.int64)
    digits = len(str(unit_ns)) - 1  # unit_ns is a power of ten
    shift = digits - flen
    out = i * unit_ns
    pos = shift >= 0
    out[pos] += f[pos] * scale[np.clip(shift[pos], 0, 18)]
    neg = ~pos
    out[neg] += f[neg] // scale[np.clip(-shift[neg], 0, 18)]
    out[i < 0] = -1
    return out


def duration_ns(s: pa.Array) -> tuple[np.ndarray, np.ndarray]:
    """Printed µs durations ("12.345", "123456.7", "1234567") → (ns, resolution ns); -1 when empty.

    The kernel prints at most 7 significant digits and truncates (trace_functions_graph.c
    print_graph_duration()), so "12345.67" means 12345670..12345679 ns: resolution 10 ns.
    """
    parts = pc.extract_regex(s, r"^(?P<i>\d*)(?:\.(?P<f>\d*))?")
    ints, fracs = group(parts, "i"), group(parts, "f")
    ns = frac_to_ns(ints, fracs, 1000)
    fl = pc.binary_length(fracs)
    flen = np.asarray(np_of(pc.fill_null(fl, int_scalar(0, fl.type))), dtype=np.int64)
    res = 10 ** np.clip(3 - flen, 0, 3)
    res[ns < 0] = -1
    return ns, res


def encode(a: pa.Array, pool: StringPool, strip: bool = False) -> np.ndarray:
    """Strings → int32 pool codes ('' and null → -1); Python work per distinct string only."""
    if strip:
        a = pc.utf8_trim_whitespace(a)
    n = pc.binary_length(a)
    a = pc.if_else(pc.equal(n, int_scalar(0, n.type)), null_scalar(a.type), a)
    d = pc.dictionary_encode(a)
    if isinstance(d, pa.ChunkedArray):
        d = d.combine_chunks()
    values = pc.cast(d.dictionary, pa.large_binary()).to_pylist()
    mapping = np.array(
        [pool.code(v.decode("utf-8", "replace")) for v in values] + [-1], dtype=np.int32
    )
    idx = np_of(pc.fill_null(d.indices, int_scalar(len(values), d.indices.type)))
    return mapping[idx]


def parse_retval(a: pa.Array) -> tuple[np.ndarray, np.ndarray]:
    """Return-value text ("-22", "0x0", "0xffffffea", "true") → (int64, valid).

    Parsed per distinct value; hex is read as unsigned 64-bit and stored two's complement.
    Anything else (the 6.18-era ``ret=true``) is kept as not-a-number (valid False).
    """
    d = pc.dictionary_encode(a)
    values = d.dictionary.to_pylist()
    val = np.zeros(len(values) + 1, dtype=np.int64)
    ok = np.zeros(len(values) + 1, dtype=bool)
    for k, v in enumerate(values):
        try:
            x = int(v, 16) if v.lower().startswith(("0x", "-0x")) else int(v, 10)
        except (ValueError, AttributeError):
            continue
        val[k] = np.int64(np.uint64(x & 0xFFFFFFFFFFFFFFFF).astype(np.int64)) if x >= 0 else x
        ok[k] = True
    idx = np_of(pc.fill_null(d.indices, int_scalar(len(values), d.indices.type)))
    return val[idx], ok[idx]


# Latency-format letters → common_flags bits (kernel/trace/trace_output.c trace_print_lat_fmt()).
_IRQ_LETTER = {
    ord("d"): schema.TRACE_FLAG_IRQS_OFF,
    ord("D"): schema.TRACE_FLAG_IRQS_OFF | schema.TRACE_FLAG_BH_OFF,
    ord("b"): schema.TRACE_FLAG_BH_OFF,
    ord("X"): schema.TRACE_FLAG_IRQS_NOSUPPORT,
}
_RESCHED_LETTER = {
    ord("N"): schema.TRACE_FLAG_NEED_RESCHED | schema.TRACE_FLAG_PREEMPT_RESCHED,
    ord("n"): schema.TRACE_FLAG_NEED_RESCHED,
    ord("p"): schema.TRACE_FLAG_PREEMPT_RESCHED,
}
_CTX_LETTER = {
    ord("Z"): schema.TRACE_FLAG_NMI | schema.TRACE_FLAG_HARDIRQ,
    ord("z"): schema.TRACE_FLAG_NMI,
    ord("H"): schema.TRACE_FLAG_HARDIRQ | schema.TRACE_FLAG_SOFTIRQ,
    ord("h"): schema.TRACE_FLAG_HARDIRQ,
    ord("s"): schema.TRACE_FLAG_SOFTIRQ,
}


def _lut(d: dict[int, int]) -> np.ndarray:
    t = np.zeros(256, dtype=np.int16)
    for k, v in d.items():
        t[k] = v
    return t


_LUTS = (_lut(_IRQ_LETTER), _lut(_RESCHED_LETTER), _lut(_CTX_LETTER))


def _hexval(c: np.ndarray) -> np.ndarray:
    out = np.full(c.shape, -1, dtype=np.int16)
    d = (c >= 48) & (c <= 57)
    out[d] = c[d] - 48
    h = (c >= 97) & (c <= 102)
    out[h] = c[h] - 87
    return out


def latency_flags(lat: pa.Array) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Latency columns ("dNs1.") → (flags, preempt, irqctx); -1 where there are none.

    Positions: irqs-off, need-resched, hardirq/softirq, preempt depth (hex or '.'), then on
    ≥5.11 kernels the migrate-disable depth (stored in the high nibble like common_preempt_count).
    """
    n = len(lat)
    has = nonempty(lat)
    padded = pc.utf8_rpad(pc.fill_null(lat, str_scalar("", lat.type)), 5, ".")
    if isinstance(padded, pa.ChunkedArray):
        padded = padded.combine_chunks()
    flags = np.full(n, -1, dtype=np.int16)
    preempt = np.full(n, -1, dtype=np.int16)
    if n and has.any():
        bufs = padded.buffers()
        offs = np.frombuffer(bufs[1], dtype=np.int64)[padded.offset : padded.offset + n + 1]
        b = np.frombuffer(bufs[2], dtype=np.uint8)
        starts = offs[:-1]
        c = np.stack([b[starts + k] for k in range(5)], axis=1)
        f = _LUTS[0][c[:, 0]] | _LUTS[1][c[:, 1]] | _LUTS[2][c[:, 2]]
        p0 = np.clip(_hexval(c[:, 3]), 0, 15)
        p1 = np.clip(_hexval(c[:, 4]), 0, 15)
        flags[has] = f[has]
        preempt[has] = (p0 | (p1 << 4))[has]
    irq = schema.irqctx_from_flags(flags)
    return flags, preempt, irq


def parse_graph_text(text: pa.Array) -> dict[str, Any]:
    """Classify graph texts (everything after the prologue and the indent); arrow + numpy out."""
    m = pc.extract_regex(text, GRAPH_TEXT_RX)
    ok = np_of(pc.is_valid(m))
    kind = np.full(len(text), L_UNPARSED, dtype=np.int8)
    fn = nonempty(group(m, "fn")) & ok
    opn = fill_false(pc.equal(group(m, "open"), str_scalar(";", group(m, "open").type)))
    kind[fn & ~opn] = L_ENTRY
    kind[fn & opn] = L_LEAF
    kind[nonempty(group(m, "close")) & ok] = L_EXIT
    cmt = nonempty(group(m, "cmt")) & ok
    kind[cmt] = L_EVENT
    arrow = group(m, "arrow")
    kind[fill_false(pc.equal(arrow, str_scalar("==========>", arrow.type)))] = L_ARROW_IN
    kind[fill_false(pc.equal(arrow, str_scalar("<==========", arrow.type)))] = L_ARROW_OUT
    kind[nonempty(group(m, "lcpu")) & ok] = L_LOST
    kind[nonempty(group(m, "bfpid")) & ok] = L_BANNER
    kind[nonempty(group(m, "ovr")) & ok] = L_OVERRUN
    kind[nonempty(group(m, "dash")) & ok] = L_IGNORED
    return {"m": m, "kind": kind}


@dataclass
class Lines:
    """Per-line results of a reader, before expansion into event rows (all arrays per line)."""

    n: int
    kind: np.ndarray  # L_* per line
    ts: np.ndarray  # ns, -1 unknown
    cpu: np.ndarray
    pid: np.ndarray
    comm: np.ndarray  # pool codes
    flags: np.ndarray
    preempt: np.ndarray
    irqctx: np.ndarray
    depth: np.ndarray
    duration: np.ndarray
    dur_res: np.ndarray
    text: pa.Array  # graph text / event text per line (for the second-stage regexes)
    event: np.ndarray | None = None  # report: pool code of the record's event name
    extra: dict[str, Any] = field(default_factory=dict)
    # Lines already classified by a fast path (kind L_ENTRY/L_EXIT/L_LEAF set, with their
    # function/module/tail in ``pre``): then ``text`` holds only the lines ``sub`` (global line
    # indices) that still need the regexes.  build_event_table fills ``pre``'s arrays in place.
    sub: np.ndarray | None = None
    pre: dict[str, np.ndarray] | None = None
    # Comment lines read by a fast path (kind L_EVENT, not in ``sub``): their line indices
    # (sorted) and the text between "/* " and " */"
    cmt_lines: np.ndarray | None = None
    cmt_text: pa.Array | None = None

    @classmethod
    def of(cls, n: int, cols: dict[str, np.ndarray], text: pa.Array, **rest: Any) -> Lines:
        """A reader's ``n`` lines from its per-line columns, named as the scanners and the
        regexes name them (``kind``, ``ts``, ``cpu``, ``pid``, ``comm``, ``flags``,
        ``preempt``, ``irqctx``, ``depth``, ``dur``, ``res``)."""
        names = ("kind", "ts", "cpu", "pid", "comm", "flags", "preempt", "irqctx", "depth")
        same: dict[str, Any] = {k: cols[k] for k in names}
        return cls(
            n=n,
            **same,
            duration=cols["dur"],
            dur_res=cols["res"],
            text=text,
            **rest,
        )


def _concat_arrays(parts: list[pa.Array]) -> pa.Array:
    return pa.concat_arrays(parts) if len(parts) > 1 else parts[0]


# line kinds that give event rows, as a lookup table over L_* (np.isin on int8 was 40 ms)
_GIVES_ROWS = np.zeros(128, dtype=bool)
_GIVES_ROWS[[L_ENTRY, L_EXIT, L_LEAF, L_EVENT, L_ARROW_IN, L_ARROW_OUT]] = True

# per-line inputs of expand_rows and their dtypes (None allowed for the last three)
_EXPAND_IN = (
    ("kind", np.int8),
    ("ts", np.int64),
    ("cpu", np.int16),
    ("pid", np.int32),
    ("comm", np.int32),
    ("flags", np.int16),
    ("preempt", np.int16),
    ("irqctx", np.int8),
    ("depth", np.int32),
    ("dur", np.int64),
    ("func", np.int32),
    ("module", np.int32),
    ("has_tail", np.bool_),
    ("overrun", np.int64),
    ("retval", np.int64),
    ("retok", np.bool_),
)
# per-row outputs (the event-table columns the lines fill, plus kind / event / eflags)
_EXPAND_OUT = (
    "ts",
    "cpu",
    "pid",
    "comm",
    "flags",
    "preempt",
    "irqctx",
    "pos",
    "func",
    "module",
    "depth",
    "duration",
    "overrun",
    "retval",
    "eflags",
    "kind",
    "event",
)
EXPAND_C = True  # tests switch it off to compare the C expansion with the numpy one
EXPAND_SPLIT_LINES = 1 << 20  # below this many lines one thread expands them all


def _constant(value: int, n: int, dtype: Any) -> np.ndarray:
    """A read-only column of ``n`` times ``value`` that takes no memory (a zero-stride view).

    Text never fills addr, calltime, rettime or buf, and most captures have no overruns or
    return values: about 120 MB of a 200 MB text's event table.  Allocating and filling them
    cost more than the rest of the expansion, because on the benchmark VM first-touched memory
    costs about 1 ms per MB in page faults.  Nothing writes into an event table's columns
    after its reader returns (later stages take, gather and copy).
    """
    return np.broadcast_to(np.array(value, dtype=dtype), (n,))


def expand_rows(
    per_line: dict[str, np.ndarray | None], event_codes: tuple[int, int, int, int]
) -> dict[str, np.ndarray]:
    """Event rows of the lines: an entry, a return, an event comment and an IRQ arrow give one
    row, a leaf ``f();`` two (its entry, then its exit: duration, and ts + duration when the
    line has a ts), any other line none.

    Returns the row columns of ``_EXPAND_OUT`` (schema dtypes; event rows get kind 0 and event
    -1, named by the caller; ``pos`` is the line number from 1, so rows are sorted by it).
    ``event_codes``: pool codes of funcgraph_entry, funcgraph_exit, irq_arrow_in,
    irq_arrow_out.
    """
    ins = tuple(
        None if per_line[k] is None else np.ascontiguousarray(per_line[k], dtype=dt)
        for k, dt in _EXPAND_IN
    )
    kind = ins[0]
    assert kind is not None
    if _tsc is None or not EXPAND_C:
        return _expand_numpy(ins, event_codes)
    n = len(kind)
    # the C loop releases the GIL: two halves of the lines on two threads (rows do not overlap)
    parts = 2 if n >= EXPAND_SPLIT_LINES and (os.cpu_count() or 1) > 1 else 1
    bounds = [n * k // parts for k in range(parts + 1)]
    jobs = list(zip(bounds[:-1], bounds[1:]))
    counts = [int(_tsc.rowcount(kind, i0, i1)) for i0, i1 in jobs]
    r0s = np.concatenate([[0], np.cumsum(counts)]).tolist()
    nrows = int(r0s[-1])
    dtypes = {c.name: c.dtype for c in schema.EVENT_COLUMNS}
    # without overruns / return values those columns are constants (see _constant)
    const: dict[str, int] = {}
    if ins[13] is None:
        const["overrun"] = -1
    if ins[14] is None:
        const["retval"] = 0
    cols = {
        k: _constant(const[k], nrows, dtypes[k]) if k in const else np.empty(nrows, dtype=dtypes[k])
        for k in _EXPAND_OUT
    }
    codes = (
        int(EventKind.FG_ENTRY),
        int(EventKind.FG_EXIT),
        int(EventKind.IRQ_ARROW_IN),
        int(EventKind.IRQ_ARROW_OUT),
        *event_codes,
        int(EventFlag.HAS_RETVAL),
        int(EventFlag.TEXT_LEAF),
        int(EventFlag.TEXT_TAIL),
        int(EventFlag.TS_DERIVED),
    )
    outs = tuple(None if k in const else cols[k] for k in _EXPAND_OUT)

    def run(j: int) -> None:
        _tsc.expand(ins, r0s[j], jobs[j][0], jobs[j][1], outs, codes)

    if parts > 1:
        with ThreadPoolExecutor(parts) as ex:
            list(ex.map(run, range(parts)))
    else:
        run(0)
    return cols


def _expand_numpy(
    ins: tuple[np.ndarray | None, ...], event_codes: tuple[int, int, int, int]
) -> dict[str, np.ndarray]:
    """:func:`expand_rows` with numpy (the extension not built, and the tests' reference)."""
    x = dict(zip([k for k, _ in _EXPAND_IN], ins))
    kind = x["kind"]
    assert kind is not None
    n = len(kind)
    rowkind = np.isin(kind, (L_ENTRY, L_EXIT, L_EVENT, L_ARROW_IN, L_ARROW_OUT))
    nrep = rowkind.astype(np.int64) + (kind == L_LEAF) * 2
    src = np.repeat(np.arange(n), nrep)
    # second row of a leaf = its exit
    first = np.ones(len(src), dtype=bool)
    if len(src):
        first[1:] = src[1:] != src[:-1]
    lk = kind[src]
    is_leaf = lk == L_LEAF
    is_entry = (lk == L_ENTRY) | (is_leaf & first)
    is_exit = (lk == L_EXIT) | (is_leaf & ~first)
    nrows = len(src)

    def line(k: str) -> np.ndarray:
        v = x[k]
        assert v is not None
        return v

    cols: dict[str, np.ndarray] = {}
    ts_line = line("ts")
    cols["ts"] = ts_line[src]
    for k in ("cpu", "pid", "comm", "flags", "preempt", "irqctx"):
        cols[k] = line(k)[src]
    cols["pos"] = src + 1  # line numbers from 1
    fg = is_entry | is_exit
    cols["func"] = np.where(fg, line("func")[src], -1).astype(np.int32, copy=False)
    cols["module"] = np.where(fg, line("module")[src], -1).astype(np.int32, copy=False)
    cols["depth"] = np.where(fg, line("depth")[src], -1).astype(np.int32, copy=False)
    dur = line("dur")[src]
    cols["duration"] = np.where(is_exit, dur, -1).astype(np.int64, copy=False)
    ovr = x["overrun"]
    cols["overrun"] = (
        np.where(is_exit, ovr[src], -1).astype(np.int64, copy=False)
        if ovr is not None
        else _constant(-1, nrows, np.int64)
    )
    ef = np.zeros(nrows, dtype=np.uint8)
    retval, retok = x["retval"], x["retok"]
    if retval is not None and retok is not None:
        exit_ret = is_exit & retok[src]
        cols["retval"] = np.where(exit_ret, retval[src], 0).astype(np.int64, copy=False)
        ef[exit_ret] |= np.uint8(EventFlag.HAS_RETVAL)
    else:
        cols["retval"] = _constant(0, nrows, np.int64)
    ef[is_leaf] |= np.uint8(EventFlag.TEXT_LEAF)
    ef[is_exit & line("has_tail")[src]] |= np.uint8(EventFlag.TEXT_TAIL)
    leaf_exit = is_leaf & ~first
    derive = leaf_exit & (cols["ts"] >= 0) & (dur >= 0)
    cols["ts"][leaf_exit] = -1
    cols["ts"][derive] = ts_line[src[derive]] + dur[derive]
    ef[derive] |= np.uint8(EventFlag.TS_DERIVED)
    cols["eflags"] = ef
    e_entry, e_exit, e_in, e_out = event_codes
    kcol = np.zeros(nrows, dtype=np.int8)
    ecol = np.full(nrows, -1, dtype=np.int32)
    kcol[is_entry] = EventKind.FG_ENTRY
    ecol[is_entry] = e_entry
    kcol[is_exit] = EventKind.FG_EXIT
    ecol[is_exit] = e_exit
    ain = lk == L_ARROW_IN
    aout = lk == L_ARROW_OUT
    kcol[ain] = EventKind.IRQ_ARROW_IN
    ecol[ain] = e_in
    kcol[aout] = EventKind.IRQ_ARROW_OUT
    ecol[aout] = e_out
    cols["kind"] = kcol
    cols["event"] = ecol
    return cols


def _comment_texts(
    lines: Lines, evlines: np.ndarray, sub: np.ndarray, cmt_sub: pa.Array
) -> pa.Array:
    """Comment text of each event line ``evlines`` (sorted): from the regexes' ``cmt`` group
    for the lines of ``sub``, from ``lines.cmt_text`` for the comment lines a fast path read."""
    if lines.cmt_lines is None or lines.cmt_text is None or not len(lines.cmt_lines):
        return pc.take(cmt_sub, idx_of(np.searchsorted(sub, evlines)))
    pos = positions(sub, evlines)
    in_sub = pos >= 0
    a = pc.take(cmt_sub, idx_of(pos[in_sub]))
    b = pc.take(lines.cmt_text, idx_of(np.searchsorted(lines.cmt_lines, evlines[~in_sub])))
    b = pc.cast(b, a.type) if b.type != a.type else b
    order = np.empty(len(evlines), dtype=np.int64)
    order[in_sub] = np.arange(len(a))
    order[~in_sub] = len(a) + np.arange(len(b))
    return pc.take(pa.concat_arrays([a, b]), idx_of(order))


def lost_warning(gaps: int, known: int, uncounted: bool) -> str:
    return f"{gaps} lost-event gap(s) in the text ({known} events counted" + (
        ", some without a count)" if uncounted else ")"
    )


def unparsed(meta: TraceMeta, bad: int, examples: list[tuple[int, str]], path: str) -> None:
    """The count of the lines not understood, their first examples and their warning."""
    meta.lines_unparsed = bad
    if bad:
        meta.unparsed_examples = examples
        meta.warn(
            f"{bad} line(s) not understood (first at line {examples[0][0]}: "
            f"{examples[0][1][:80]!r})",
            path,
            bad,
        )


def build_event_table(
    lines: Lines,
    pool: StringPool,
    meta: TraceMeta,
    *,
    path: str,
    banners_fill: bool = True,
    kernel_rule: bool = True,
    carry: TextCarry | None = None,
) -> EventTable:
    """Expand per-line results into the event table (see the module docstring).  With
    ``carry``, the lines are one piece of a longer text (:class:`TextCarry`)."""
    n = lines.n
    kind = lines.kind.copy()
    sub = lines.sub if lines.sub is not None else np.arange(n)
    g = parse_graph_text(lines.text)
    m = g["m"]
    # Lines the reader marked L_GRAPH take the text classification; event records of a report
    # (kind L_EVENT already, with their own text) keep theirs.
    ks = kind[sub]
    kind[sub] = np.where(ks == L_GRAPH, g["kind"], ks).astype(np.int8)
    ksub = kind[sub]

    def take_sub(a: pa.Array, rows: np.ndarray) -> pa.Array:
        # rows are lines of ``sub`` (sorted): their places in it
        return pc.take(a, idx_of(np.searchsorted(sub, rows)))

    # ---- function names, modules, return values, tails -------------------------------------
    fn = group(m, "fn")
    tail = group(m, "tail")
    # "} /* f = -22 */", "} /* f ret=-22 */", "} /* f [mod] */"
    tparts = pc.extract_regex(
        tail,
        r"^(?P<tfn>[^\s\[=]+)(?: \[(?P<tmod>[^\]\s]+)\])?(?: = (?P<tr1>\S+)| ret=(?P<tr2>\S+))?",
    )
    has_tail_s = nonempty(group(tparts, "tfn")) & (ksub == L_EXIT)
    fname = pc.if_else(arr_of(has_tail_s), group(tparts, "tfn"), fn)
    mname = pc.if_else(arr_of(has_tail_s), group(tparts, "tmod"), group(m, "mod"))
    pre = lines.pre or {}
    # the reader's ``pre`` arrays are its own and used once: filled in place
    func = pre["func"] if "func" in pre else np.full(n, -1, dtype=np.int32)
    module = pre["module"] if "module" in pre else np.full(n, -1, dtype=np.int32)
    has_tail = pre["has_tail"] if "has_tail" in pre else np.zeros(n, dtype=bool)
    func[sub] = encode(fname, pool)
    module[sub] = encode(mname, pool)
    has_tail[sub] = has_tail_s
    # leaf/entry comment: "= -22", "ret=0x0", "<-caller+0x6c/0xb0 ret=0x0", "<-caller+0x6c/0xb0"
    fparts = pc.extract_regex(group(m, "fcmt"), r"(?:^= (?P<r1>\S+)|(?:^| )ret=(?P<r2>\S+))")

    def blank_null(a: pa.Array) -> pa.Array:
        return pc.fill_null(a, str_scalar("", a.type))

    rtext = pc.binary_join_element_wise(
        blank_null(group(tparts, "tr1")),
        blank_null(group(tparts, "tr2")),
        blank_null(group(fparts, "r1")),
        blank_null(group(fparts, "r2")),
        blank_null(group(m, "rret")),
        blank_null(group(m, "cret")),
        str_scalar("", pa.large_string()),
    )
    rhas = nonempty(rtext)
    retval: np.ndarray | None = None  # per line, only when some line has a return value
    retok: np.ndarray | None = None
    if rhas.any():
        sel = np.flatnonzero(rhas)
        v, ok = parse_retval(pc.take(rtext, idx_of(sel)))
        if ok.any():
            retval = np.zeros(n, dtype=np.int64)
            retok = np.zeros(n, dtype=bool)
            retval[sub[sel]] = v
            retok[sub[sel]] = ok

    # ---- banners: which task runs on a CPU when the lines have no proc column ---------------
    pid = lines.pid
    comm = lines.comm
    cpu = lines.cpu
    bsel = np.flatnonzero(kind == L_BANNER)
    carried = carry.banner if carry is not None else {}
    if banners_fill and (len(bsel) or carry is not None):
        bfrom_pid = to_int(take_sub(group(m, "bfpid"), bsel)).astype(np.int32)
        bto_pid = to_int(take_sub(group(m, "btpid"), bsel)).astype(np.int32)
        bfrom_comm = encode(take_sub(group(m, "bfrom"), bsel), pool, strip=True)
        bto_comm = encode(take_sub(group(m, "bto"), bsel), pool, strip=True)
        # lines that give rows and have no task (with a proc column: none; blank and banner
        # lines give no row)
        need = pid < 0
        if need.any():
            need &= _GIVES_ROWS[kind]
        if need.any():
            pid = pid.copy()
            comm = comm.copy()
        bcpus = set(unique(cpu[bsel]).tolist())
        for c in sorted(bcpus | set(carried)) if need.any() else []:  # loop over CPUs
            bl = bsel[cpu[bsel] == c]
            bi = np.flatnonzero(cpu[bsel] == c)
            rows = np.flatnonzero((cpu == c) & need)
            k = np.searchsorted(bl, rows, side="right") - 1
            before = k < 0
            kk = np.clip(k, 0, None)
            if c in carried:  # (a piece: rows before its first banner take the last one's)
                first_pid, first_comm = np.int32(carried[c][0]), np.int32(carried[c][1])
            else:
                first_pid, first_comm = bfrom_pid[bi[0]], bfrom_comm[bi[0]]
            if len(bl):
                pid[rows] = np.where(before, first_pid, bto_pid[bi[kk]])
                comm[rows] = np.where(before, first_comm, bto_comm[bi[kk]])
            else:
                pid[rows], comm[rows] = first_pid, first_comm
        if carry is not None:
            for c in sorted(bcpus & carry.unresolved):
                # earlier pieces' rows wanted this CPU's first banner: the task it switched
                # from, for the reader to give them (text_windows holds those pieces)
                first = int(np.flatnonzero(cpu[bsel] == c)[0])
                carry.resolved[c] = (int(bfrom_pid[first]), int(bfrom_comm[first]))
            carry.unresolved -= bcpus
            if need.any():
                carry.unresolved |= (
                    set(unique(cpu[need]).tolist()) - bcpus - set(carried) - carry.bannerless
                )
            for c in bcpus:
                last = int(np.flatnonzero(cpu[bsel] == c)[-1])
                carried[c] = (int(bto_pid[last]), int(bto_comm[last]))

    # ---- overruns: " (Overruns: N)" belongs to the return just above -------------------------
    overrun_line: np.ndarray | None = None
    osel = np.flatnonzero(kind == L_OVERRUN)
    if len(osel):
        overrun_line = np.full(n, -1, dtype=np.int64)
        vals = to_int(take_sub(group(m, "novr"), osel))
        prev = osel - 1
        okp = (prev >= 0) & (kind[np.clip(prev, 0, None)] == L_EXIT)
        overrun_line[prev[okp]] = vals[okp]

    # ---- expand lines into rows ------------------------------------------------------------
    e_codes = (
        pool.code("funcgraph_entry"),
        pool.code("funcgraph_exit"),
        pool.code("irq_arrow_in"),
        pool.code("irq_arrow_out"),
    )
    per_line = {
        "kind": kind,
        "ts": lines.ts,
        "cpu": cpu,
        "pid": pid,
        "comm": comm,
        "flags": lines.flags,
        "preempt": lines.preempt,
        "irqctx": lines.irqctx,
        "depth": lines.depth,
        "dur": lines.duration,
        "func": func,
        "module": module,
        "has_tail": has_tail,
        "overrun": overrun_line,
        "retval": retval,
        "retok": retok,
    }
    cols = expand_rows(per_line, e_codes)
    nrows = len(cols["ts"])
    # the columns the text never fills: constants
    for c in schema.EVENT_COLUMNS:
        if c.name in ("buf", "addr", "calltime", "rettime"):
            cols[c.name] = _constant(c.null if c.null is not None else 0, nrows, c.dtype)
    kcol = cols.pop("kind")
    ecol = cols.pop("event")
    ef = cols.pop("eflags")
    is_leaf = (ef & np.uint8(EventFlag.TEXT_LEAF)) != 0

    # ---- a bare "}": which function it closes -------------------------------------------------
    # Kernel text: the printer keeps, per CPU, the function of the last nested entry at each
    # depth (cpu_data->enter_funcs[], set by print_graph_entry_nested(), cleared by a leaf in
    # print_graph_entry_leaf()) and prints "} /* f */" whenever the return does not match it
    # (print_graph_return()).  So a bare "}" closes the newest nested entry at its depth on its
    # CPU, whatever happened in between.  trace-cmd report never prints tails: there a bare "}"
    # is matched to the newest "{" at its depth in its task (pid; pid 0 is per CPU), and only
    # if no other return at that depth came in between.
    # Both: sort the candidates by (group, depth, row) and forward fill the entry's row.
    is_entry = kcol == EventKind.FG_ENTRY
    bare = (kcol == EventKind.FG_EXIT) & ~is_leaf & (cols["func"] < 0)
    nested = is_entry & ~is_leaf
    leaf_entry = is_entry & is_leaf
    has_bare = bool(bare.any())
    # (a report's returns are all bare: its pieces keep their candidates from the first on)
    keep = carry is not None and (carry.bare_seen or not kernel_rule)
    if carry is not None and has_bare and not carry.bare_seen:
        # the first bare "}" of the text: the earlier pieces' entries were not kept for it
        # (a text with tails has none: it costs nothing there)
        carry.bare_seen = True
        carry.restart |= carry.line_base > 0 and kernel_rule
    want = has_bare or keep
    cand = np.zeros(0, dtype=np.int64)
    if want:
        cand = np.flatnonzero(bare | nested | (leaf_entry if kernel_rule else False))
    # (a piece of a text: the previous pieces' last candidates, as rows before its first)
    virt = list(carry.bare.items()) if carry is not None else []
    if want and len(cand) + len(virt):
        nv = len(virt)
        cpu_k = cols["cpu"][cand].astype(np.int64)
        pid_k = cols["pid"][cand].astype(np.int64)
        if kernel_rule:
            # without a CPU column the per-CPU state is not visible: fall back to the task
            grp = np.where(cpu_k >= 0, cpu_k, np.where(pid_k > 0, pid_k + (1 << 20), -1))
        else:
            grp = np.where(pid_k > 0, pid_k, -2 - cpu_k)
        a_grp = np.concatenate([np.array([k[0] for k, _ in virt], np.int64), grp])
        a_dep = np.concatenate(
            [np.array([k[1] for k, _ in virt], np.int64), cols["depth"][cand].astype(np.int64)]
        )
        a_row = np.concatenate([np.arange(-nv, 0, dtype=np.int64), cand])
        a_ent = np.concatenate([np.array([v[0] for _, v in virt], bool), is_entry[cand]])
        a_nest = np.concatenate([np.array([v[1] for _, v in virt], bool), nested[cand]])
        a_func = np.concatenate([np.array([v[2] for _, v in virt], np.int32), cols["func"][cand]])
        a_mod = np.concatenate([np.array([v[3] for _, v in virt], np.int32), cols["module"][cand]])
        order = np.lexsort((a_row, a_dep, a_grp))
        c = a_row[order]
        gkey_c = a_grp[order]
        gkey_d = a_dep[order]
        newgrp = np.ones(len(c), dtype=bool)
        newgrp[1:] = (gkey_c[1:] != gkey_c[:-1]) | (gkey_d[1:] != gkey_d[:-1])
        isent = a_ent[order]
        nest = a_nest[order]
        pos_c = np.arange(len(c))
        grpstart = np.maximum.accumulate(np.where(newgrp, pos_c, 0))
        last_ent = np.maximum.accumulate(np.where(isent, pos_c, -1))
        valid = last_ent >= grpstart
        if kernel_rule:
            take = ~isent & valid
            take[take] = nest[last_ent[take]]  # the newest entry there was a leaf: no match
        else:
            prev_is_ent = np.zeros(len(c), dtype=bool)
            prev_is_ent[1:] = isent[:-1] & ~newgrp[1:]
            take = ~isent & valid & prev_is_ent
        take &= c >= 0  # (a carried candidate is no exit of this piece)
        rows_exit = c[take]
        src = order[last_ent[take]]
        cols["func"][rows_exit] = a_func[src]
        cols["module"][rows_exit] = a_mod[src]
        ef[rows_exit] |= np.uint8(EventFlag.FUNC_FROM_DEPTH)
        if carry is not None:
            # what the next piece's bare "}" may close: per group and depth, the kernel's
            # newest entry (leaf or nested), trace-cmd's newest candidate (an exit between
            # blocks the match)
            end = np.append(np.flatnonzero(newgrp)[1:], len(c)) - 1
            pick = (
                np.where(last_ent[end] >= grpstart[end], last_ent[end], -1) if kernel_rule else end
            )
            for e, j in zip(end.tolist(), pick.tolist()):
                if j < 0:
                    continue
                o = order[j]
                carry.bare[(int(gkey_c[e]), int(gkey_d[e]))] = (
                    bool(isent[j]),
                    bool(nest[j]),
                    int(a_func[o]),
                    int(a_mod[o]),
                )
    cols["eflags"] = ef

    # ---- other events: comments "/* name: text */", trace_printk, report records --------------
    evlines = np.flatnonzero(kind == L_EVENT)
    fields: dict[str, FieldTable] = {}
    if len(evlines):
        # an event line gives one row: the rows whose line is one of them (rows sorted by pos)
        evrows = np.searchsorted(cols["pos"], evlines + 1)
        if lines.event is not None:
            # report records carry their name; their text is the whole rest of the line
            names = lines.event[evlines]
            etext = take_sub(lines.text, evlines)
        else:
            ctext = _comment_texts(lines, evlines, sub, group(m, "cmt"))
            em = pc.extract_regex(ctext, EVENT_NAME_RX)
            has_name = nonempty(group(em, "ename"))
            names = np.where(has_name, encode(group(em, "ename"), pool), pool.code("print"))
            etext = pc.if_else(arr_of(has_name), group(em, "etext"), ctext)
        ecol[evrows] = names
        for code in unique(names):
            name = pool[int(code)] or ""
            sel = names == code
            kcol[evrows[sel]] = int(schema.kind_of(name))
            rxs = EVENT_FIELD_RX.get(name)
            if rxs:
                ft = _parse_fields(pc.filter(etext, arr_of(sel)), evrows[sel], rxs, pool)
                if ft is not None:
                    fields[name] = ft
        if lines.event is None:
            # print events keep their message as a field (string code)
            sel = names == pool.code("print")
            if sel.any():
                fields["print"] = FieldTable(
                    evrows[sel], {"buf": encode(pc.filter(etext, arr_of(sel)), pool)}, {"buf"}
                )
    cols["kind"] = kcol
    cols["event"] = ecol
    # irqctx stays unknown without latency flags

    # ---- lost events -----------------------------------------------------------------------
    lsel = np.flatnonzero(kind == L_LOST)
    lost = LostTable({}, pool)
    base = carry.line_base if carry is not None else 0
    pending = carry.pending_lost if carry is not None else []
    if len(lsel) or pending:
        lcpu = to_int(take_sub(group(m, "lcpu"), lsel)).astype(np.int16)
        cnt_l = to_int(take_sub(group(m, "lcnt"), lsel))
        dcnt = pc.utf8_trim_whitespace(take_sub(group(m, "dcnt"), lsel))
        cnt_d = to_int(dcnt)
        count = np.where(cnt_l >= 0, cnt_l, cnt_d)
        # this text's (or piece's) own gaps, for the warning: a piece's are said at the end
        known, uncounted = int(count[count >= 0].sum()), bool((count < 0).any())
        if carry is not None:
            carry.lost_lines += len(lsel)
            carry.lost_known += known
            carry.lost_uncounted |= uncounted
        line = lsel + 1 + base  # line numbers from 1
        start_at = lsel + 1
        if pending:
            # (a piece: the earlier pieces' gaps that no record followed yet come first, as
            # lines before this piece's first)
            lcpu = np.concatenate([np.array([p[0] for p in pending], np.int16), lcpu])
            count = np.concatenate([np.array([p[1] for p in pending], np.int64), count])
            line = np.concatenate([np.array([p[2] for p in pending], np.int64), line])
            start_at = np.concatenate([np.zeros(len(pending), np.int64), start_at])
            pending.clear()
        # first row after the gap on that CPU
        lrow = np.full(len(lcpu), -1, dtype=np.int64)
        for c in unique(lcpu):  # loop over CPUs
            rows_c = np.flatnonzero(cols["cpu"] == c)
            ii = np.flatnonzero(lcpu == c)
            start = np.searchsorted(cols["pos"], start_at[ii])  # first row after the line
            k = np.searchsorted(rows_c, start)
            has = k < len(rows_c)
            lrow[ii[has]] = rows_c[k[has]]
        if carry is not None and not carry.last:
            # no record after them in this piece: the next pieces' records may follow them
            wait = lrow < 0
            pending.extend(zip(lcpu[wait].tolist(), count[wait].tolist(), line[wait].tolist()))
            lcpu, count, line, lrow = lcpu[~wait], count[~wait], line[~wait], lrow[~wait]
        lts = (
            np.where(lrow >= 0, cols["ts"][np.clip(lrow, 0, None)], -1)
            if nrows
            else np.full(len(lcpu), -1)
        )
        lost = LostTable(
            {
                "cpu": lcpu,
                "row": lrow,
                "ts": lts,
                "count": count,
                "pos": line,
                "source": np.full(len(lcpu), LostSource.TEXT, dtype=np.int8),
            },
            pool,
        )
        if carry is None:
            meta.warn(lost_warning(len(lsel), known, uncounted), path, -1 if uncounted else known)

    # ---- what was not understood ---------------------------------------------------------------
    bad = np.flatnonzero(kind == L_UNPARSED)
    examples: list[tuple[int, str]] = []
    if len(bad):
        ex = bad[: MAX_EXAMPLES - (len(carry.examples) if carry is not None else 0)]
        raw = pc.cast(pc.take(lines.extra["raw"], idx_of(ex)), pa.large_binary()).to_pylist()
        examples = [
            (int(i) + 1 + base, r.decode("utf-8", "replace").rstrip("\r\n"))
            for i, r in zip(ex, raw)
        ]
    res = int(np.max(lines.dur_res, where=(kind == L_EXIT) | (kind == L_LEAF), initial=0))
    if carry is not None:
        carry.unparsed += len(bad)
        carry.examples.extend(examples)
        carry.dur_res = max(carry.dur_res, res)
        cols["pos"] = cols["pos"] + base
    else:
        meta.lines_total = n
        unparsed(meta, len(bad), examples, path)
        meta.duration_resolution_ns = res if res > 0 else 1
    meta.options["duration_precision"] = (
        "printed durations have at most 7 significant digits and are truncated: "
        "per row resolution 1 ns (<10 ms), 10 ns, 100 ns or 1000 ns (>= 1 s)"
    )
    return EventTable(cols, pool, fields=fields, lost=lost, meta=meta)


def _parse_fields(
    etext: pa.Array, rows: np.ndarray, rxs: list[str], pool: StringPool
) -> FieldTable | None:
    """Fields of one event type from its printed text (first regex that matches wins)."""
    n = len(rows)
    if n == 0:
        return None
    cols: dict[str, np.ndarray] = {}
    done = np.zeros(n, dtype=bool)
    for rx in rxs:
        mm = pc.extract_regex(etext, rx)
        ok = np_of(pc.is_valid(mm)) & ~done
        if not ok.any():
            continue
        for name in [f.name for f in mm.type]:
            a = group(mm, name)
            if name in STRING_FIELDS:
                v = encode(a, pool)
                dflt = -1
                dt: Any = np.int32
            elif name == "ret":
                # irq_handler_exit prints ret=handled/unhandled (include/trace/events/irq.h)
                handled = fill_false(pc.equal(a, str_scalar("handled", a.type)))
                unhandled = fill_false(pc.equal(a, str_scalar("unhandled", a.type)))
                v = np.where(handled, 1, np.where(unhandled, 0, -1)).astype(np.int64)
                num = to_int(
                    pc.if_else(pc.match_substring_regex(a, r"^-?\d+$"), a, str_scalar("", a.type))
                )
                v = np.where(v >= 0, v, num)
                dflt, dt = -1, np.int64
            else:
                v = to_int(a)
                dflt, dt = -1, np.int64
            col = cols.setdefault(name, np.full(n, dflt, dtype=dt))
            col[ok] = v[ok]
        done |= ok
    return FieldTable(rows.astype(np.int64), cols, {k for k in cols if k in STRING_FIELDS})
