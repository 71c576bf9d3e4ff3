"""Event format files (``events/<system>/<event>/format``) → field layouts.

Offsets, sizes and signedness are taken from each format, never hard-coded per kernel
(libtraceevent ``event_read_fields`` is the reference).  Handles fields listed out of offset
order, fixed arrays (``char comm[16]``), dynamic tails (``char buf[]`` with size 0),
``__data_loc`` / ``__rel_loc`` fields and the ``__print_flags`` table of ``sched_switch``'s
``prev_state``.  See docs/formats.md §3.1.
"""

from __future__ import annotations

import functools
import re
from dataclasses import dataclass, field

_FIELD = re.compile(
    r"field:(?P<decl>[^;]*);\s*offset:(?P<off>\d+);\s*size:(?P<size>\d+);(?:\s*signed:(?P<signed>\d+);)?"
)
_DECL = re.compile(r"^(?P<type>.*?)(?P<name>[A-Za-z_][\w.]*)\s*(?P<arr>\[[^\]]*\])?\s*$")


@dataclass
class Field:
    name: str
    type: str
    offset: int
    size: int
    signed: bool
    array: str | None = None  # the bracket text ("[16]", "[]") when the field is an array
    data_loc: bool = False  # __data_loc: u32 (len << 16 | offset from record start)
    rel_loc: bool = False  # __rel_loc: offset relative to the end of the field

    @property
    def dynamic(self) -> bool:
        """A ``type name[]`` tail running to the end of the record."""
        return self.array == "[]" and not (self.data_loc or self.rel_loc)

    @property
    def is_string(self) -> bool:
        base = self.type.replace("__data_loc", "").replace("__rel_loc", "").replace("[]", "")
        base = base.replace("const", "").replace("unsigned", "").replace("signed", "").strip()
        chararr = base in ("char", "u8", "s8", "__u8", "__s8") and "*" not in base
        return chararr and (self.array is not None or self.data_loc or self.rel_loc)

    @property
    def is_scalar(self) -> bool:
        return (
            self.array is None and not (self.data_loc or self.rel_loc) and self.size in (1, 2, 4, 8)
        )


@dataclass
class EventFormat:
    name: str
    id: int
    system: str
    fields: list[Field] = field(default_factory=list)  # event fields (not common_*)
    common: list[Field] = field(default_factory=list)
    print_fmt: str = ""

    def get(self, name: str) -> Field | None:
        for f in self.fields:
            if f.name == name:
                return f
        for f in self.common:
            if f.name == name:
                return f
        return None

    @property
    def min_size(self) -> int:
        """Bytes up to the end of the last fixed field (the smallest valid record)."""
        return max(
            (f.offset + f.size for f in self.common + self.fields if not f.dynamic), default=0
        )


class FormatError(ValueError):
    pass


def parse_format(text: str, system: str = "") -> EventFormat:
    """Parse one format file's text (raises FormatError when it has no name/ID)."""
    name = ""
    eid = -1
    common: list[Field] = []
    fields: list[Field] = []
    print_fmt = ""
    for line in text.splitlines():
        s = line.strip()
        if s.startswith("name:"):
            name = s[5:].strip()
        elif s.startswith("ID:"):
            try:
                eid = int(s[3:].strip())
            except ValueError as exc:
                raise FormatError(f"bad ID line {s!r}") from exc
        elif s.startswith("print fmt:"):
            print_fmt = s[len("print fmt:") :].strip()
        elif s.startswith("field:") or s.startswith("field special:"):
            m = _FIELD.search(s)
            if not m:
                continue
            f = _make_field(m)
            if f is None:
                continue
            (common if f.name.startswith("common_") else fields).append(f)
    if not name or eid < 0:
        raise FormatError("format without name or ID")
    return EventFormat(name, eid, system, fields, common, print_fmt)


def _make_field(m: re.Match[str]) -> Field | None:
    decl = m.group("decl").strip()
    if decl.startswith("special "):  # very old kernels: "field special:…"
        decl = decl[len("special ") :]
    d = _DECL.match(decl)
    if not d:
        return None
    ftype = d.group("type").strip()
    signed = m.group("signed")
    f = Field(
        name=d.group("name"),
        type=ftype,
        offset=int(m.group("off")),
        size=int(m.group("size")),
        signed=bool(int(signed)) if signed is not None else not ftype.startswith("unsigned"),
        array=d.group("arr"),
    )
    if "__data_loc" in ftype:
        f.data_loc = True
        f.array = "[]"
    elif "__rel_loc" in ftype:
        f.rel_loc = True
        f.array = "[]"
    return f


def parse_header_page(text: str) -> tuple[int, int, int]:
    """(commit size = kernel long size, data offset, data size) from ``header_page``.

    The kernel's long size comes from the ``commit`` field, not from the initial header's
    long-size byte (that one is the writer's; trace-input.c overrides it the same way).
    """
    commit = data_off = data_size = None
    for m in _FIELD.finditer(text):
        decl = m.group("decl")
        nm = decl.split()[-1] if decl.split() else ""
        if nm == "commit":
            commit = int(m.group("size"))
        elif nm == "data":
            data_off, data_size = int(m.group("off")), int(m.group("size"))
    if commit is None or data_off is None or data_size is None:
        raise FormatError("header_page without commit/data fields")
    return commit, data_off, data_size


# ---------------------------------------------------------------------------------------------
# __print_flags tables (sched_switch prev_state)

_FLAGS_CALL = re.compile(
    r"__print_flags\(\s*REC->(?P<field>\w+)\s*(?:&\s*(?P<mask>[^,]+?))?\s*,\s*\"(?P<delim>[^\"]*)\"\s*,(?P<pairs>(?:\s*\{[^}]*\}\s*,?)+)\)"
    r"(?:\s*:\s*\"(?P<zero>[^\"]*)\")?"
)
_PAIR = re.compile(r"\{\s*([^,]+?)\s*,\s*\"([^\"]*)\"\s*\}")
_PLUS = re.compile(r"REC->(?P<field>\w+)\s*&\s*(?P<mask>.+?)\s*\?\s*\"\+\"\s*:\s*\"\"")
_SAFE_EXPR = re.compile(r"^[0-9a-fA-FxX\s|&+\-<>()~]*$")


def _eval_int(expr: str) -> int | None:
    """Evaluate a constant C integer expression made of literals and | & + - << >> ~ ( )."""
    e = expr.strip().rstrip("UuLl")
    e = re.sub(r"(0[xX][0-9a-fA-F]+|\d+)[uUlL]+", r"\1", e)
    if not e or not _SAFE_EXPR.match(e):
        return None
    try:
        v = eval(e, {"__builtins__": {}}, {})  # noqa: S307 - characters restricted above
    except Exception:
        return None
    return int(v) if isinstance(v, int) else None


@dataclass
class FlagsTable:
    """How the kernel prints a flags field: ``__print_flags(REC->f & mask, delim, {v, "S"}, …)``."""

    field: str
    mask: int | None
    delim: str
    pairs: list[tuple[int, str]]
    zero: str  # printed when (value & mask) == 0 ("R" for prev_state)
    plus_mask: int | None  # value & plus_mask → "+" suffix (preempted)

    def render(self, value: int) -> str:
        """The kernel's trace_print_flags_seq() for one value (plus the zero/"+" parts)."""
        v = value & self.mask if self.mask is not None else value
        if v == 0:
            out = self.zero
        else:
            parts = []
            for fv, name in self.pairs:
                if fv and (v & fv) == fv:
                    parts.append(name)
                    v &= ~fv
            if v:
                parts.append(f"0x{v:x}")
            out = self.delim.join(parts)
        if self.plus_mask is not None and value & self.plus_mask:
            out += "+"
        return out


@functools.lru_cache(maxsize=256)
def flags_table(print_fmt: str, field_name: str) -> FlagsTable | None:
    """Find the ``__print_flags`` table of ``field_name`` in a print fmt (None if absent).
    Parsed once per format: a windowed read renders sched_switch's prev_state every window
    (the table is only read)."""
    for m in _FLAGS_CALL.finditer(print_fmt):
        if m.group("field") != field_name:
            continue
        pairs = []
        for pv, ps in _PAIR.findall(m.group("pairs")):
            v = _eval_int(pv)
            if v is None:
                return None
            pairs.append((v, ps))
        mask = _eval_int(m.group("mask")) if m.group("mask") else None
        plus = None
        for pm in _PLUS.finditer(print_fmt[m.end() :]):
            if pm.group("field") == field_name:
                plus = _eval_int(pm.group("mask"))
                break
        return FlagsTable(field_name, mask, m.group("delim"), pairs, m.group("zero") or "", plus)
    return None


_ID_LINE = re.compile(r"^ID:\s*(\d+)", re.M)


class FormatIndex:
    """All format texts of a file, parsed on first use (a kernel has ~1500 events; a trace
    uses a handful).  Ids come from a cheap scan of each text's ``ID:`` line."""

    def __init__(self, texts: list[tuple[str, str]]) -> None:
        self._texts: dict[int, tuple[str, str]] = {}
        self._parsed: dict[int, EventFormat | None] = {}
        self.unreadable = 0
        for system, text in texts:
            m = _ID_LINE.search(text)
            if m is None:
                self.unreadable += 1
                continue
            self._texts.setdefault(int(m.group(1)), (system, text))

    def __contains__(self, eid: int) -> bool:
        return eid in self._texts

    def ids(self) -> list[int]:
        return list(self._texts)

    def get(self, eid: int) -> EventFormat | None:
        if eid not in self._parsed:
            entry = self._texts.get(eid)
            fmt = None
            if entry is not None:
                try:
                    fmt = parse_format(entry[1], entry[0])
                except FormatError:
                    self.unreadable += 1
            self._parsed[eid] = fmt
        return self._parsed[eid]

    def common(self) -> dict[str, Field]:
        """The common_* fields (identical in every format of a file); from the first parseable."""
        for eid in self._texts:
            fmt = self.get(eid)
            if fmt is not None and fmt.common:
                return {f.name: f for f in fmt.common}
        return {}
