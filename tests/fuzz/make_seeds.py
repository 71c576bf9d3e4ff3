"""Build the small trace.dat and text seeds of the fuzz tests from the vm61 corpus.

Run once by hand (needs trace-cmd and ../shared/corpus); the outputs are committed under
tests/fuzz/seeds/ so the fuzz test never needs the corpus.

The corpus' trace.dat files are 1-5 MB, mostly kallsyms.  A fuzz case must parse in well under
a second, so: ``trace-cmd split -p 4 -c`` keeps 4 pages per CPU, then this script rewrites the
version 6 file with a kallsyms section cut down to the symbols the records use (the v6 layout is
sequential, see docs/formats.md §1.2, so only the per-CPU offsets need moving), and ``trace-cmd
convert`` makes the v7 zstd and v7 uncompressed twins.  ``trace-cmd report`` must read each seed.
"""

from __future__ import annotations

import re
import struct
import subprocess
import sys
import tempfile
from pathlib import Path

HERE = Path(__file__).resolve().parent
SEEDS = HERE / "seeds"
CORPUS = HERE.parent.parent.parent / "shared" / "corpus" / "vm61"


class _Reader:
    def __init__(self, data: bytes) -> None:
        self.d = data
        self.p = 0

    def take(self, n: int) -> bytes:
        b = self.d[self.p : self.p + n]
        self.p += n
        return b

    def u(self, fmt: str) -> int:
        (v,) = struct.unpack_from("<" + fmt, self.d, self.p)
        self.p += struct.calcsize(fmt)
        return int(v)

    def cstr(self) -> bytes:
        e = self.d.index(b"\0", self.p)
        s = self.d[self.p : e]
        self.p = e + 1
        return s


def _event_name(fmt: bytes) -> bytes:
    m = re.search(rb"^name: (\S+)", fmt, re.M)
    return m.group(1) if m else b""


def shrink_kallsyms_v6(data: bytes, keep_names: set[bytes], keep_events: set[bytes]) -> bytes:
    """The same little-endian v6 file with only the kallsyms lines of ``keep_names`` and the
    event formats (outside the ftrace system) of ``keep_events``."""
    r = _Reader(data)
    assert r.take(10) == b"\x17\x08\x44tracing" and r.cstr() == b"6"
    r.take(1 + 1 + 4)
    page_size = struct.unpack_from("<I", data, r.p - 4)[0]
    for tag in (b"header_page\0", b"header_event\0"):
        assert r.take(len(tag)) == tag
        r.take(r.u("Q"))
    for _ in range(r.u("I")):
        r.take(r.u("Q"))
    systems_at = r.p
    systems = []
    for _ in range(r.u("I")):
        sysname = r.cstr()
        fmts = [r.take(r.u("Q")) for _ in range(r.u("I"))]
        fmts = [f for f in fmts if _event_name(f) in keep_events]
        if fmts:
            systems.append((sysname, fmts))
    new_systems = struct.pack("<I", len(systems))
    for sysname, fmts in systems:
        new_systems += sysname + b"\0" + struct.pack("<I", len(fmts))
        new_systems += b"".join(struct.pack("<Q", len(f)) + f for f in fmts)
    ks = r.take(r.u("I"))
    ks_end = r.p
    lines = [ln for ln in ks.split(b"\n") if ln and ln.split()[2] in keep_names]
    new_ks = b"\n".join(lines) + b"\n"
    r.take(r.u("I"))  # printk
    r.take(r.u("Q"))  # cmdlines
    ncpus = r.u("I")
    tag = r.take(10)
    if tag == b"options  \0":  # u16 id, u32 size, payload … until a bare u16 0
        while (oid := r.u("H")) != 0:
            assert oid != 3, "BUFFER options hold file offsets: not supported here"
            r.take(r.u("I"))
        tag = r.take(10)
    assert tag == b"flyrecord\0", tag
    table_at = r.p
    cpus = [(r.u("Q"), r.u("Q")) for _ in range(ncpus)]
    rest_hdr = data[r.p : min(o for o, s in cpus if s)]  # clock text (if any) + padding
    rest_hdr = rest_hdr.rstrip(b"\0")
    head = (
        data[:systems_at]
        + new_systems
        + struct.pack("<I", len(new_ks))
        + new_ks
        + data[ks_end:table_at]
    )
    table_len = 16 * ncpus
    start = len(head) + table_len + len(rest_hdr)
    start = (start + page_size - 1) // page_size * page_size
    out_cpus, blobs, at = [], [], start
    for off, size in cpus:
        out_cpus.append((at, size))
        blobs.append(data[off : off + size])
        at += size
    table = b"".join(struct.pack("<QQ", o, s) for o, s in out_cpus)
    out = head + table + rest_hdr
    out += b"\0" * (start - len(out))
    return out + b"".join(blobs)


def _run(*args: str) -> str:
    return subprocess.run(args, check=True, capture_output=True, text=True).stdout


def make_dat(src: Path, name: str, pages: int) -> None:
    with tempfile.TemporaryDirectory() as td:
        split = Path(td) / "s"
        _run("trace-cmd", "split", "-i", str(src), "-o", str(split), "-p", str(pages), "-c")
        first = Path(td) / "first.v6.dat"
        _run(
            "trace-cmd", "convert", "-i", str(split) + ".1", "-o", str(first), "--file-version", "6"
        )
        raw = _run("trace-cmd", "report", "-R", str(first))
        names = {a.encode() for a in re.findall(r"func=(\S+)", raw)}
        events = set(re.findall(r"^\s*\S.*?\[\d+\]\s+[\d.]+: (\w+):", raw, re.M))
        small = shrink_kallsyms_v6(first.read_bytes(), names, {e.encode() for e in events})
        v6 = SEEDS / f"{name}.v6.dat"
        v6.write_bytes(small)
        _run(
            "trace-cmd",
            "convert",
            "-i",
            str(v6),
            "-o",
            str(SEEDS / f"{name}.v7.dat"),
            "--file-version",
            "7",
            "--compression",
            "zstd",
        )
        _run(
            "trace-cmd",
            "convert",
            "-i",
            str(v6),
            "-o",
            str(SEEDS / f"{name}.v7none.dat"),
            "--file-version",
            "7",
            "--compression",
            "none",
        )
        for suffix in ("v6", "v7", "v7none"):
            p = SEEDS / f"{name}.{suffix}.dat"
            text = _run("trace-cmd", "report", str(p))
            n = text.count("funcgraph_")
            print(f"{p.name}: {p.stat().st_size} bytes, {n} funcgraph records", file=sys.stderr)
        (SEEDS / f"{name}.report.txt").write_text(_run("trace-cmd", "report", str(v6)))


def _text(path: Path) -> bytes:
    raw = path.read_bytes()
    if path.suffix == ".zst":
        import zstandard

        raw = zstandard.ZstdDecompressor().stream_reader(raw).read()
    return raw


def make_text(src: str, name: str, nlines: int, skip: int = 0) -> None:
    lines = _text(CORPUS / src).splitlines(keepends=True)
    header = [ln for ln in lines[:20] if ln.startswith(b"#")] if skip else []
    (SEEDS / name).write_bytes(b"".join(header + lines[skip : skip + nlines]))


def main() -> None:
    SEEDS.mkdir(exist_ok=True)
    make_dat(CORPUS / "btrfs_read.v6.dat", "btrfs", 4)
    make_dat(CORPUS / "lost.dat", "lost", 6)
    make_text("btrfs_read.txt", "btrfs.txt", 600)
    make_text("btrfs_read.abstime_proc_tail.txt", "btrfs.abstime_proc_tail.txt", 600, skip=3000)
    make_text("btrfs_read.latency.txt", "btrfs.latency.txt", 600, skip=2000)
    make_text("thresh.txt", "thresh.txt", 400)
    make_text("lost_pipe.txt.zst", "lost_pipe.txt", 600)
    make_text("system.txt.zst", "system.txt", 600)


if __name__ == "__main__":
    main()
