"""The ELF container of a core: identification, program headers (incl. PN_XNUM) and notes.

Produces :class:`~coresnap.corefile.model.Segment` for every ``PT_LOAD`` (with ``available``:
the bytes the file really holds, less than ``p_filesz`` for a truncated core) and
:class:`~coresnap.corefile.model.Note` for every note of every ``PT_NOTE``. What the notes
mean is for the OS modules (:mod:`.linux`, ``.freebsd``, ``.netbsd``).
"""

from __future__ import annotations

from dataclasses import dataclass, field

from coresnap.corefile import structs as S
from coresnap.corefile.model import ElfIdent, Note, Segment
from coresnap.corefile.reader import MAX_NOTE_SEGMENT, CoreReader
from coresnap.errors import CoreFormatError

_ARCH_BY_MACHINE = {
    S.EM_386: "i386",
    S.EM_68K: "m68k",
    S.EM_ARM: "arm",
    S.EM_AARCH64: "aarch64",
    S.EM_ALPHA: "alpha",
    S.EM_PARISC: "hppa",
    S.EM_LOONGARCH: "loongarch64",
    S.EM_SPARC: "sparc",
    S.EM_SPARC32PLUS: "sparc",
    S.EM_SPARCV9: "sparc64",
}


def arch_name(machine: int, elfclass: int, order: str, flags: int = 0) -> str:
    """The architecture name coresnap uses ("x86_64", "ppc64le", "mipsel-o32" ...)."""
    le = order == "<"
    if machine == S.EM_X86_64:
        return "x86_64" if elfclass == 64 else "x32"
    if machine == S.EM_PPC64:
        return "ppc64le" if le else "ppc64"
    if machine == S.EM_PPC:
        return "ppcle" if le else "ppc"
    if machine == S.EM_S390:
        return "s390x" if elfclass == 64 else "s390"
    if machine == S.EM_RISCV:
        return f"riscv{elfclass}"
    if machine == S.EM_MIPS:
        abi = "n64" if elfclass == 64 else ("n32" if flags & S.EF_MIPS_ABI2 else "o32")
        return f"mips{'' if abi == 'o32' else '64'}{'el' if le else ''}-{abi}"
    return _ARCH_BY_MACHINE.get(machine, f"em{machine}")


@dataclass
class ElfCore:
    """The parsed container: header fields, every program header, PT_LOADs and notes."""

    ident: ElfIdent
    header: dict[str, int]
    phnum: int  # the real count (after PN_XNUM)
    phdrs: list[dict[str, int]]  # the PT_NOTE headers (PT_LOADs are ``segments``)
    segments: list[Segment]
    notes: list[Note]
    warnings: list[str] = field(default_factory=list)


def read_ident(reader: CoreReader) -> tuple[ElfIdent, dict[str, int]]:
    """Parse ``e_ident`` and the ELF header; raises CoreFormatError when they are not ELF."""
    magic = reader.pread(0, 4)
    if magic != S.ELFMAG:
        raise reader.error(0, f"not an ELF file (magic {magic!r})")
    e_ident = reader.read(0, S.EI_NIDENT, "e_ident")
    ei_class, ei_data = e_ident[S.EI_CLASS], e_ident[S.EI_DATA]
    if ei_class not in (S.ELFCLASS32, S.ELFCLASS64):
        raise reader.error(S.EI_CLASS, f"bad EI_CLASS {ei_class}")
    if ei_data not in (S.ELFDATA2LSB, S.ELFDATA2MSB):
        raise reader.error(S.EI_DATA, f"bad EI_DATA {ei_data}")
    order: S.ByteOrder = "<" if ei_data == S.ELFDATA2LSB else ">"
    elfclass = 32 if ei_class == S.ELFCLASS32 else 64
    ehdr = S.layout(order, f"Ehdr{elfclass}")
    header = dict(zip(S.EHDR_FIELDS, reader.unpack(ehdr, S.EI_NIDENT, "ELF header"), strict=True))
    machine = header["e_machine"]
    arch = arch_name(machine, elfclass, order, header["e_flags"])
    ident = ElfIdent(elfclass, order, machine, arch, e_ident[S.EI_OSABI], header["e_flags"])
    return ident, header


def _real_phnum(reader: CoreReader, ident: ElfIdent, header: dict[str, int]) -> int:
    """e_phnum, or section header 0's sh_info when e_phnum is PN_XNUM."""
    if header["e_phnum"] != S.PN_XNUM:
        return header["e_phnum"]
    shdr = S.layout(ident.byteorder, f"Shdr{ident.elfclass}")
    e_shoff = header["e_shoff"]
    if e_shoff == 0:
        raise reader.error(0x20, "e_phnum is PN_XNUM but there is no section header (e_shoff 0)")
    if header["e_shentsize"] < shdr.size:
        raise reader.error(e_shoff, f"e_shentsize {header['e_shentsize']} < {shdr.size}")
    sh0 = dict(zip(S.SHDR_FIELDS, reader.unpack(shdr, e_shoff, "section header 0"), strict=True))
    return sh0["sh_info"]


def _phdr_table(reader: CoreReader, ident: ElfIdent, header: dict[str, int]) -> tuple[int, bytes]:
    phnum = _real_phnum(reader, ident, header)
    if phnum == 0:
        return 0, b""
    phdr = S.layout(ident.byteorder, f"Phdr{ident.elfclass}")
    e_phoff, e_phentsize = header["e_phoff"], header["e_phentsize"]
    if e_phentsize != phdr.size:
        raise reader.error(0, f"e_phentsize {e_phentsize}, expected {phdr.size}")
    # Checked against the file size before the read allocates anything.
    if e_phoff + phnum * e_phentsize > reader.size:
        raise reader.error(
            e_phoff, f"{phnum} program headers at {e_phoff:#x} run past the end of the file"
        )
    return phnum, reader.read(e_phoff, phnum * e_phentsize, "program headers")


def read_core(reader: CoreReader, *, require_core: bool = True) -> ElfCore:
    """Parse the ELF header, program headers and notes of ``reader``'s file.

    Raises CoreFormatError on anything malformed (not ELF, not ET_CORE, a table or note that
    runs past its bounds). A core whose PT_LOAD data stops early (truncated) is not an error:
    its segments say so through ``available``.
    """
    ident, header = read_ident(reader)
    if require_core and header["e_type"] != S.ET_CORE:
        raise reader.error(0x10, f"e_type is {header['e_type']}, not ET_CORE ({S.ET_CORE})")
    phnum, table = _phdr_table(reader, ident, header)
    phdr = S.layout(ident.byteorder, f"Phdr{ident.elfclass}")
    names = S.PHDR64_FIELDS if ident.elfclass == 64 else S.PHDR32_FIELDS
    core = ElfCore(ident, header, phnum, [], [], [])
    # Tuple indexes, not a dict per header: synthetic cores carry 100,000+ program headers.
    t_i, o_i, v_i, fs_i, ms_i, fl_i = (
        names.index(n) for n in ("p_type", "p_offset", "p_vaddr", "p_filesz", "p_memsz", "p_flags")
    )
    size = reader.size
    for values in phdr.iter_unpack(table):
        p_type = values[t_i]
        if p_type == S.PT_LOAD:
            p_offset, p_filesz = values[o_i], values[fs_i]
            available = p_filesz if p_offset + p_filesz <= size else max(0, size - p_offset)
            core.segments.append(
                Segment(values[v_i], values[ms_i], p_offset, p_filesz, values[fl_i], available)
            )
        elif p_type == S.PT_NOTE:
            p = dict(zip(names, values, strict=True))
            core.phdrs.append(p)
            core.notes.extend(_read_notes(reader, ident, p, core.warnings))
    return core


def _read_notes(
    reader: CoreReader, ident: ElfIdent, p: dict[str, int], warnings: list[str]
) -> list[Note]:
    p_offset, p_filesz = p["p_offset"], p["p_filesz"]
    if p_filesz > MAX_NOTE_SEGMENT:
        raise reader.error(
            p_offset, f"PT_NOTE of {p_filesz} bytes is over the {MAX_NOTE_SEGMENT} limit"
        )
    data = reader.read(p_offset, p_filesz, "PT_NOTE segment")
    # Core notes are 4-byte aligned on every Linux/BSD arch, 64-bit included (the kernel's
    # elf_note layout); only p_align 8 segments (GNU property notes) use 8, as elfutils does.
    align = 8 if p["p_align"] == 8 else 4
    return parse_notes(data, p_offset, ident, align, reader, warnings)


def _pad(n: int, align: int) -> int:
    return (n + align - 1) & ~(align - 1)


def parse_notes(
    data: bytes,
    base: int,
    ident: ElfIdent,
    align: int,
    reader: CoreReader | None = None,
    warnings: list[str] | None = None,
) -> list[Note]:
    """Split the notes of one note segment (``data`` at file offset ``base``).

    Raises CoreFormatError when a note's name or desc runs past the segment. Zero-filled
    headers (some cores pad between notes) are skipped; a nameless note with content ends the
    segment (what follows is garbage); both, and trailing bytes, are reported in ``warnings``.
    """
    nhdr = S.layout(ident.byteorder, "Nhdr")
    notes: list[Note] = []
    pos, end, skipped = 0, len(data), 0
    while end - pos >= nhdr.size:
        n_namesz, n_descsz, n_type = nhdr.unpack_from(data, pos)
        name_at = pos + nhdr.size
        desc_at = pos + _pad(nhdr.size + n_namesz, align)
        desc_end = desc_at + n_descsz
        if desc_at > end or desc_end > end:
            what = "n_namesz" if desc_at > end else "n_descsz"
            msg = (
                f"note {len(notes)}: {what} ({n_namesz if what == 'n_namesz' else n_descsz}) "
                f"runs past the end of the PT_NOTE segment"
            )
            raise CoreFormatError(base + pos, msg, reader.path if reader else None)
        if n_namesz == 0 and (n_descsz or n_type):
            # Every core note has an owner; a nameless one after padding is garbage, and
            # eu-readelf stops there too.
            break
        if n_namesz == 0:
            skipped += 1  # a zero-filled header: padding some writers leave between notes
        else:
            name = data[name_at : name_at + n_namesz].rstrip(b"\0").decode("latin-1")
            desc = data[desc_at:desc_end]
            notes.append(Note(name, n_type, desc, base + pos, base + desc_at))
        pos = _pad(desc_end, align)
    if warnings is not None:
        if skipped:
            warnings.append(f"PT_NOTE at {base:#x}: {skipped} zero-filled note headers skipped")
        if pos < end and any(data[pos:end]):
            warnings.append(f"PT_NOTE at {base:#x}: {end - pos} bytes of garbage ignored")
    return notes
