"""Checkers for the corpus manifest's ``expect`` facts that concern what the reader decodes.

Each checker takes ``(core, value, ctx)`` and returns None when the fact holds, or a string
saying what differs. Facts about unwinding, symbols, source lines or variables belong to the
snapshot and unwinder, and are listed in NOT_FOR_THE_READER with the reason.
"""

from __future__ import annotations

import struct
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from coresnap.corefile import Core, Thread
from coresnap.corefile import structs as S
from coresnap.errors import MemoryUnavailable


@dataclass
class Ctx:
    core_path: Path
    executable: Path | None


Checker = Callable[[Core, Any, Ctx], str | None]

NOT_FOR_THE_READER = {
    "backtrace_selected_thread": "unwinding",
    "backtrace_selected_thread_prefix": "unwinding",
    "backtrace_source_lines": "unwinding + DWARF lines",
    "frame_local_F": "DWARF variables",
    "frame0_function": "unwinding",
    "frame0_source_line": "DWARF lines",
    "frame0_local_F_cstring": "DWARF variables",
    "unwind_some_thread_reaches": "unwinding",
    "unwind_contains_symbol": "unwinding",
    "unwind_must_not_contain_symbol": "unwinding",
    "first_thread_frames_in_order": "unwinding",
    "at_most_frames_per_thread": "unwinding",
    "stack_physical_frames": "unwinding",
    "stack_with_inlines": "unwinding + inline frames",
    "stack_debugnames_frame0": "DWARF names",
    "stack_more_than_frames": "unwinding",
    "stack_contains_word": "unwinding",
    "stack_contains_demangled": "unwinding + demangling",
    "stack_frames": "unwinding",
    "crashed_thread_stack_trace": "unwinding",
    "some_thread_pc_in_function": "symbolization",
    "addr2line": "symbolization",
    "lldb_memory_region_count": "LLDB's own region model (gaps become regions)",
    "fp_sse_registers": "FP registers are kept raw (NT_FPREGSET) by the reader",
}

# Register names other tools use -> the kernel's names the reader uses.
_ALIASES = {
    "rflags": "eflags",
    "fs.base": "fs_base",
    "gs.base": "gs_base",
    "oeax": "orig_eax",
    "orax": "orig_rax",
    "sb": "r9",
    "sl": "r10",
    "fp": "r11",
    "ip": "r12",
    "sp": "r13",
    "lr": "r14",
    "pc": "r15",
    "spsr": "cpsr",
    "pswm": "psw_mask",
    "pswa": "psw_addr",
    "orig_r2": "orig_gpr2",
    "a7": "usp",
}
_AARCH64_ALIASES = {"fp": "x29", "lr": "x30", "sp": "sp", "pc": "pc"}


def _int(v: object) -> int:
    if isinstance(v, int):
        return v
    s = str(v)
    return int(s, 16) if s.startswith("0x") else int(s)


def _reg_name(core: Core, name: str) -> str:
    if core.ident.arch == "aarch64":
        return _AARCH64_ALIASES.get(name, name)
    if core.ident.arch in ("arm",):
        return _ALIASES.get(name, name)
    if name in ("sp", "pc", "lr", "fp", "ip", "sb", "sl"):
        return name
    if core.ident.arch.startswith("mips") and name.startswith("$"):
        return f"r{name[1:]}"
    return _ALIASES.get(name, name)


def compare_registers(core: Core, thread: Thread, expected: dict[str, str]) -> str | None:
    """Registers by name (aliases mapped); at least half must be ones the reader decodes."""
    width = 64 if core.ident.arch in ("x86_64", "x32", "aarch64") else core.ident.elfclass
    compared, bad = 0, []
    for name, value in expected.items():
        reg = _reg_name(core, name)
        if reg not in thread.registers:
            continue
        compared += 1
        if thread.registers[reg] != _int(value) % (1 << width):
            bad.append(f"{name}={thread.registers[reg]:#x}, expected {value}")
    if compared < len(expected) // 2:
        return f"only {compared} of {len(expected)} registers known: {sorted(thread.registers)}"
    return "; ".join(bad) or None


def _eq(what: str, got: object, want: object) -> str | None:
    return None if got == want else f"{what}: got {got!r}, expected {want!r}"


def _crashed(core: Core) -> Thread:
    t = core.crashed_thread
    assert t is not None, "no crashed thread"
    return t


def _tid_named(core: Core, tid: int) -> Thread | None:
    return next((t for t in core.threads if t.tid == tid), None)


def _prpsinfo_note(core: Core) -> dict[str, object]:
    for note, decoded in core.view.decoded_notes:
        if note.type == S.NT_PRPSINFO and note.name == "CORE" and decoded:
            return decoded
    raise AssertionError("no NT_PRPSINFO")


def _prpsinfo(core: Core, value: dict[str, Any], ctx: Ctx) -> str | None:
    p = _prpsinfo_note(core)
    bad = []
    for key, want in value.items():
        if key.endswith("_hex"):  # pyelftools: the raw char arrays
            got = str(p[key[: -len("_hex")]]).encode("latin-1").hex()
            if bytes.fromhex(want).rstrip(b"\0").hex() != got:
                bad.append(f"{key}: {got} vs {want}")
            continue
        k = key if key.startswith("pr_") else f"pr_{key}"
        got = p[k]
        if str(got) != str(want) and not (isinstance(got, int) and got == _int(want)):
            bad.append(f"{k}: got {got!r}, expected {want!r}")
    return "; ".join(bad) or None


def _nt_file(core: Core, value: dict[str, Any], ctx: Ctx) -> str | None:
    files = core.view.files
    page = int(core.details.get("nt_file_page_size", 0))  # type: ignore[call-overload]
    if len(files) != value["count"] or page != value["page_size"]:
        return (
            f"count/page_size {len(files)}/{page}, expected {value['count']}/{value['page_size']}"
        )
    for f, e in zip(files, value["entries"], strict=True):
        ofs = (
            _int(e["file_offset_bytes"])
            if "file_offset_bytes" in e
            else _int(e["page_offset_pages"]) * page
        )
        want = (_int(e["start"]), _int(e["end"]), ofs, e["path"])
        if (f.start, f.end, f.file_offset, f.path) != want:
            return f"entry {f} != {want}"
    return None


_EU_TYPE = {"NT_PRXFPREG": "PRXFPREG"}


# Note types newer than eu-readelf 0.188, which prints them as "<unknown>: N".
_EU_0188_UNKNOWN = {S.NT_LOONGARCH_CPUCFG, S.NT_LOONGARCH_CSR, S.NT_LOONGARCH_LSX,
                    S.NT_LOONGARCH_LASX}  # fmt: skip


def _eu_type(note_type: int, name: str) -> str:
    n = S.CORE_NOTE_NAMES.get(note_type) if name in ("CORE", "LINUX") else None
    if note_type in _EU_0188_UNKNOWN:
        n = None
    if n is None:
        return f"<unknown>: {note_type}"
    return _EU_TYPE.get(n, n[3:])


def _note_types(core: Core, value: list[str], ctx: Ctx) -> str | None:
    got = [f"{n.name}/{_eu_type(n.type, n.name)}" for n in core.notes]
    return _eq("note types", got, value)


def _readelf_n(core: Core, value: dict[str, Any], ctx: Ctx) -> str | None:
    notes = value["notes"]
    got = [(n.name, len(n.desc)) for n in core.notes]
    want = [(n["owner"], n["descsz"]) for n in notes]
    if got != want:
        return f"notes (owner, descsz) {got} != {want}"
    threads = iter(core.threads)
    for note in notes:
        fields = note["fields"]
        if note["type"] == "PRSTATUS":
            t = next(threads)
            regs = {k: v for k, v in fields.items() if k not in _PRSTATUS_FIELDS}
            problem = _eq("pid", t.tid, int(fields["pid"])) or _eq(
                "cursig", t.signal, int(fields["cursig"])
            )
            problem = problem or (compare_registers(core, t, regs) if regs else None)
        elif note["type"] == "PRPSINFO":
            keys = ("pid", "ppid", "uid", "gid", "fname", "psargs", "sname")
            problem = _prpsinfo(core, {k: fields[k] for k in keys if k in fields}, ctx)
        elif note["type"] == "SIGINFO":
            s = core.signal
            problem = _eq("si_signo", s and s.signo, int(fields["si_signo"]))
        elif note["type"] == "AUXV":
            aux = {e.name[3:]: e.a_val for e in core.auxv}
            want_aux = {k: _int(v) for k, v in fields.items() if v is not True and not k.isdigit()}
            problem = _eq("auxv", {k: aux.get(k) for k in want_aux}, want_aux)
        else:
            problem = None
        if problem:
            return f"{note['type']}: {problem}"
    return None


_PRSTATUS_FIELDS = {
    "info.si_signo", "info.si_code", "info.si_errno", "cursig", "sigpend", "sighold", "pid",
    "ppid", "pgrp", "sid", "utime", "stime", "cutime", "cstime", "fpvalid",
}  # fmt: skip


def _modules_eu(core: Core, value: list[dict[str, Any]], ctx: Ctx) -> str | None:
    """eu-unstrip -n: every module with a build id is found at its start with that id."""
    ours = {m.start: m for m in core.modules}
    bad = []
    for e in value:
        m = ours.get(_int(e["start"]))
        if m is None:
            bad.append(f"no module at {e['start']} ({e['name']})")
        elif m.build_id != e["build_id"]:
            bad.append(f"{e['name']}: build id {m.build_id}, expected {e['build_id']}")
        elif e["name"] == "[exe]" and not m.is_executable:
            bad.append(f"{m.path} is not marked executable")
    return "; ".join(bad) or None


def _drgn_module(core: Core, kind: str, name: str) -> Any:
    """drgn names libraries by link_map l_name (/lib64/libc.so.6), the kernel's NT_FILE by
    the resolved path (/usr/lib64/libc.so.6, usrmerge): the same file, compared by basename."""
    for m in core.modules:
        if (kind == "main" and m.is_executable) or (kind == "vdso" and m.path == "[vdso]"):
            return m
        if kind == "shared_library" and Path(m.path).name == Path(name).name:
            return m
    return None


def _core_build_id(m: Any) -> str | None:
    """drgn reads build ids from the core alone; a file on disk does not count."""
    return m.build_id if m.build_id_source == "core" else None


def _loaded_modules(core: Core, value: list[dict[str, Any]], ctx: Ctx) -> str | None:
    bad = []
    for e in value:
        m = _drgn_module(core, e["kind"], e["name"])
        if m is None:
            bad.append(f"missing {e['kind']} {e['name']}")
            continue
        if e["address_range"] is not None:
            want = tuple(_int(a) for a in e["address_range"])
            if (m.start, m.end) != want:
                bad.append(f"{e['name']}: range {m.start:#x}-{m.end:#x}")
        if _core_build_id(m) != e["build_id"]:
            bad.append(f"{e['name']}: build id {m.build_id}, expected {e['build_id']}")
    return "; ".join(bad) or None


def _load_bias(core: Core, value: dict[str, str], ctx: Ctx) -> str | None:
    bad = []
    for name, want in value.items():
        kind = name if name in ("main", "vdso") else "shared_library"
        m = _drgn_module(core, kind, name)
        if m is None or m.load_bias != _int(want):
            bad.append(f"{name}: {m and m.load_bias}, expected {want}")
    return "; ".join(bad) or None


def _memory_maps(core: Core, value: list[dict[str, Any]], ctx: Ctx) -> str | None:
    """rizin's map list: same ranges, perms, names; "core_file" iff the core holds the bytes."""
    bad = []
    for e in value:
        start, last = _int(e["start"]), _int(e["end_inclusive"])
        m = core.memory.find_mapping(start)
        if m is None or last >= m.end:
            bad.append(f"{e['start']}: no mapping covers it")
            continue
        # rizin maps core memory read-only (its perms never show w, and --- shows as r--):
        # only the x bit is comparable.
        if ("x" in m.perms) != ("x" in e["perm"]):
            bad.append(f"{e['start']}: perms {m.perms}, expected {e['perm']}")
        # rizin-testbins' x86_64/arm64 cores name the executable bins/elf/core/... in NT_FILE
        # (eu-readelf -n prints the same) while rizin shows the original directory.
        if (
            not e["name"].startswith("LOAD")
            and Path(m.path or m.label or "").name != Path(e["name"]).name
        ):
            bad.append(f"{e['start']}: path {m.path}, expected {e['name']}")
        try:
            core.memory.read(start, 1, files=False)
            in_core = True
        except MemoryUnavailable:
            in_core = False
        if in_core != (e["backing"] == "core_file"):
            bad.append(f"{e['start']}: in core {in_core}, rizin says {e['backing']}")
    return "; ".join(bad[:5]) or None


def _unreadable(core: Core, value: dict[str, str], ctx: Ctx) -> str | None:
    try:
        data = core.memory.read(_int(value["address"]), value["length"])
    except MemoryUnavailable:
        return None
    return f"read {data!r} from an address that is not in the core"


def _pid_offsets(core: Core, value: dict[str, int], ctx: Ctx) -> str | None:
    raw = ctx.core_path.read_bytes()
    for offset, pid in value.items():
        (at,) = struct.unpack_from("<I", raw, _int(offset))
        if at != pid or core.process.pid != pid or core.threads[0].tid != pid:
            return f"pid at {offset}: file {at}, reader {core.process.pid}, expected {pid}"
    return None


def _symbol(ctx: Ctx, name: str) -> int:
    from elftools.elf.elffile import ELFFile

    assert ctx.executable is not None
    with open(ctx.executable, "rb") as f:
        symtab = ELFFile(f).get_section_by_name(".symtab")
        (sym,) = symtab.get_symbol_by_name(name)  # type: ignore[union-attr]
        return int(sym["st_value"])


def _go_first_byte(core: Core, value: dict[str, str], ctx: Ctx) -> str | None:
    addr = _symbol(ctx, "main.main")
    m = core.memory.find_mapping(addr)
    got = (core.memory.read(addr, 1)[0], m and m.perms)
    return _eq("main.main byte", got, (_int(value["value"]), value["mapping_perm"]))


def _go_class_to_size(core: Core, value: dict[str, Any], ctx: Ctx) -> str | None:
    addr = _symbol(ctx, "runtime.class_to_size")
    m = core.memory.find_mapping(addr)
    (u16,) = struct.unpack("<H", core.memory.read(addr + 2, 2))
    return _eq(
        "class_to_size[1]",
        (u16, m and m.perms),
        (value["u16_at_symbol_plus_2"], value["mapping_perm"]),
    )


def _signal_of(t: Thread) -> int:
    return t.signal


_GO_ARCH = {"x86_64": "amd64", "i386": "386", "aarch64": "arm64"}
_LLDB_ARCH = {"x86_64": "x86_64", "aarch64": "aarch64"}

CHECKERS: dict[str, Checker] = {
    "thread_count": lambda c, v, x: _eq("threads", len(c.threads), v),
    "prstatus_count": lambda c, v, x: _eq("NT_PRSTATUS", len(c.threads), v),
    "pid": lambda c, v, x: _eq("pid", c.process.pid, v),
    "prstatus_pids": lambda c, v, x: _eq("pr_pid", [t.tid for t in c.threads], v),
    "tids": lambda c, v, x: _eq("tids", [t.tid for t in c.threads], v),
    "thread_tids_sorted": lambda c, v, x: _eq("tids", sorted(t.tid for t in c.threads), v),
    "main_thread_tid": lambda c, v, x: (
        _eq("main", _tid_named(c, v) is not None, True) or _eq("main tid == pid", c.process.pid, v)
    ),
    "main_thread_name": lambda c, v, x: _eq(
        "name", next(t.name for t in c.threads if t.tid == c.process.pid), v
    ),
    "selected_thread_tid": lambda c, v, x: _eq("crashed tid", _crashed(c).tid, v),
    "crashed_thread_tid": lambda c, v, x: _eq("crashed tid", _crashed(c).tid, v),
    "selected_thread_lwpid": lambda c, v, x: _eq("crashed lwp", _crashed(c).tid, v),
    "selected_thread_name": lambda c, v, x: _eq("name", _crashed(c).name, v),
    "selected_thread_signal": lambda c, v, x: _eq("signal", _signal_of(_crashed(c)), v),
    "crashed_thread_signal": lambda c, v, x: _eq("signal", _signal_of(_crashed(c)), v),
    "first_prstatus_cursig": lambda c, v, x: _eq(
        "pr_cursig", c.threads[0].pr_info.get("pr_cursig"), v
    ),
    "first_prstatus_si_signo": lambda c, v, x: _eq(
        "si_signo", c.threads[0].pr_info.get("si_signo"), v
    ),
    "other_threads_signal": lambda c, v, x: _eq(
        "others", {t.signal for t in c.threads if t is not c.crashed_thread}, {v}
    ),
    "every_thread_signal": lambda c, v, x: _eq("all", {t.signal for t in c.threads}, {v}),
    "lwp1_signal": lambda c, v, x: _eq("lwp 1", (_tid_named(c, 1) or _crashed(c)).signal, v),
    "gp_registers": lambda c, v, x: compare_registers(c, _crashed(c), v),
    "registers_crashed_thread": lambda c, v, x: compare_registers(c, _crashed(c), v),
    "prpsinfo": _prpsinfo,
    "nt_file": _nt_file,
    "nt_file_count": lambda c, v, x: _eq("NT_FILE count", len(c.view.files), v),
    "note_types_in_order": _note_types,
    "readelf_n_notes": _readelf_n,
    "modules": _modules_eu,
    "modules_excluding_libc_sorted": _modules_eu,
    "loaded_modules": _loaded_modules,
    "loaded_modules_without_executable": _loaded_modules,
    "load_bias": _load_bias,
    "memory_maps": _memory_maps,
    "unreadable_address": _unreadable,
    "pid_field_file_offsets": _pid_offsets,
    "e_type": lambda c, v, x: _eq("e_type", c.elf.header["e_type"], getattr(S, v)),
    "e_phnum": lambda c, v, x: _eq("e_phnum", c.elf.header["e_phnum"], v),
    "section0_sh_info_phnum": lambda c, v, x: _eq("phnum", c.elf.phnum, v),
    "real_program_header_count": lambda c, v, x: _eq("phnum", c.elf.phnum, v),
    "e_phoff": lambda c, v, x: _eq("e_phoff", c.elf.header["e_phoff"], v),
    "e_shoff": lambda c, v, x: _eq("e_shoff", c.elf.header["e_shoff"], v),
    "e_shnum": lambda c, v, x: _eq("e_shnum", c.elf.header["e_shnum"], v),
    # rizin lists every program header plus 3 pseudo-entries of its own (ehdr, phdr table,
    # and the notes' "segment"): the program header count is what the reader can vouch for.
    "rizin_segment_count": lambda c, v, x: _eq("phnum + 3", c.elf.phnum + 3, v),
    "segment_at_0x7ffe70f68000": lambda c, v, x: _eq(
        "segment",
        next((s.perms, s.p_memsz) for s in c.segments if s.p_vaddr == 0x7FFE70F68000),
        (v["perm"], v["size"]),
    ),
    "arch": lambda c, v, x: _eq("arch", _GO_ARCH.get(c.ident.arch), v),
    "ptr_size": lambda c, v, x: _eq("pointer size", c.ident.elfclass // 8, v),
    "byte_order": lambda c, v, x: _eq("order", {"<": "little", ">": "big"}[c.ident.byteorder], v),
    "args": lambda c, v, x: _eq("psargs", c.process.psargs, v),
    "main.main_first_byte": _go_first_byte,
    "runtime.class_to_size[1]": _go_class_to_size,
    "lldb_architecture": lambda c, v, x: _eq("arch", f"{c.ident.arch}-unknown-{c.os}", v),
    "lldb_object_type": lambda c, v, x: _eq("type", c.elf.header["e_type"], S.ET_CORE),
}


def _observed_loads(core: Core, v: dict[str, int], x: Ctx) -> str | None:
    got = {
        "pt_load_count": len(core.segments),
        "pt_load_filesz0_count": sum(1 for s in core.segments if s.p_filesz == 0),
        "pt_note_count": len(core.elf.phdrs),
    }
    return _eq("program headers", got, v)


def _linux_only(checker: Checker) -> Checker:
    """eu-readelf's PRSTATUS/PRPSINFO views are Linux's; BSD cores are checked by their LWPs."""
    return lambda c, v, x: checker(c, v, x) if c.os == "linux" else None


# ``observed`` facts: what readelf / eu-readelf print for each core (the corpus builders ran
# them; not upstream assertions). They cover the architectures no upstream test asserts on.
OBSERVED: dict[str, Checker] = {
    "elf_header": lambda c, v, x: (
        _eq("phnum", c.elf.phnum, v["program_header_count"])
        or _eq("class", f"ELF{c.ident.elfclass}", v["class"])
    ),
    "program_headers": _observed_loads,
    # GNU readelf lists nameless headers (padding, garbage) as "(NONE)"; the reader drops them.
    "notes.all": lambda c, v, x: _eq(
        "notes",
        [(n.name, len(n.desc)) for n in c.notes],
        [(o, size) for o, size, _ in v if o != "(NONE)"],
    ),
    "notes.prstatus_count": _linux_only(CHECKERS["prstatus_count"]),
    "notes.prstatus_pids": _linux_only(CHECKERS["prstatus_pids"]),
    "notes.first_prstatus_cursig": _linux_only(CHECKERS["first_prstatus_cursig"]),
    "notes.first_prstatus_si_signo": _linux_only(CHECKERS["first_prstatus_si_signo"]),
    "notes.prpsinfo": _linux_only(_prpsinfo),
    "notes.nt_file_count": _linux_only(CHECKERS["nt_file_count"]),
    "notes.note_types_in_order": _linux_only(_note_types),
    "notes.per_lwp_register_note_lwpids": lambda c, v, x: (
        _eq("lwps", sorted(t.tid for t in c.threads), sorted(v)) if c.os == "netbsd" else None
    ),
    "uses_PN_XNUM": lambda c, v, x: _eq("PN_XNUM", c.elf.header["e_phnum"] == S.PN_XNUM, v),
}
