"""Back from Go's system stack to the goroutine that switched to it (x86-64).

``runtime.systemstack(fn)`` (runtime/asm_amd64.s) saves the goroutine's state, moves SP to the
thread's g0 stack and calls ``fn`` there: past ``systemstack`` the stack holds whatever g0 last
left (gdb shows ``runtime.newproc``, a data symbol, then 0x0). Fatal errors take this path
(``runtime.throw`` → ``systemstack(fatalthrow.func1)`` → ``crash``), so without the switch back
a crash loses every frame of the program.

systemstack does not touch BP, and every Go function keeps a frame pointer (amd64, since Go
1.7): following the BP chain from the first frame of the registers in force, the frame whose
return address is inside ``systemstack`` (``fn``'s) saved the goroutine's BP, the frame base
of the function that called systemstack. That call's return address is the word nearest below
that base that follows a ``call rel32`` to ``systemstack``: the goroutine resumes there (its
sp just above, its BP that base), to be unwound with CFI. Both engines use this.
"""

from __future__ import annotations

from collections.abc import Callable

SWITCH = "runtime.systemstack"
MAX_CHAIN = 64  # frame-pointer links followed from the top to find fn's frame
MAX_FRAME = 8192  # bytes searched below the goroutine's frame base for the return address
_CALL_REL32 = 0xE8
_WORD = 8

Read = Callable[[int, int], bytes]  # (address, size) -> bytes; raises on unreadable memory


def goroutine_resume(
    read: Read, bp: int, switch: tuple[int, int], errors: tuple[type[Exception], ...]
) -> tuple[int, int, int] | None:
    """(pc, sp, bp) where the goroutine called ``systemstack`` (``switch``: its [start, end)),
    from ``bp``, the frame pointer of the first frame of the registers in force; None when
    the chain or the call cannot be found (``errors``: what ``read`` raises)."""
    try:
        base = _goroutine_base(read, bp, switch)
        slot = _return_slot(read, base, switch[0]) if base is not None else None
        if base is None or slot is None:
            return None
        return _word(read, slot), slot + _WORD, base
    except errors:
        return None


def _word(read: Read, address: int) -> int:
    return int.from_bytes(read(address, _WORD), "little")


def _goroutine_base(read: Read, bp: int, switch: tuple[int, int]) -> int | None:
    for _ in range(MAX_CHAIN):
        if bp == 0 or bp % _WORD:
            return None
        if switch[0] <= _word(read, bp + _WORD) < switch[1]:
            return _word(read, bp)  # fn's saved BP: the goroutine's
        bp = _word(read, bp)
    return None


def _return_slot(read: Read, base: int, target: int) -> int | None:
    """The highest slot below ``base`` holding a return address from a call to ``target``."""
    block_size = 512
    for block in range(base - block_size, base - MAX_FRAME - 1, -block_size):
        try:
            words = read(block, block_size)
        except Exception:  # noqa: BLE001 - past the goroutine stack's low end: stop looking
            return None
        for offset in range(block_size - _WORD, -_WORD, -_WORD):
            value = int.from_bytes(words[offset : offset + _WORD], "little")
            if value > 5 and _calls(read, value, target):
                return block + offset
    return None


def _calls(read: Read, return_address: int, target: int) -> bool:
    try:
        code = read(return_address - 5, 5)
    except Exception:  # noqa: BLE001 - not readable: not code
        return False
    rel = int.from_bytes(code[1:], "little", signed=True)
    return code[0] == _CALL_REL32 and (return_address + rel) % (1 << 64) == target
