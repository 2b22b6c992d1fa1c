"""A DWARF expression evaluator for the operations call frame information uses.

CFA expressions (``DW_CFA_def_cfa_expression``) and register expressions
(``DW_CFA_expression`` / ``DW_CFA_val_expression``) appear in PLT stubs, signal trampolines
(glibc's ``__restore_rt`` describes the whole ``ucontext`` this way) and hand-written
assembly. They use a small stack machine (DWARF 5, section 2.5): register-relative
addresses, constants, arithmetic and memory loads. Anything else is refused with
:class:`~coresnap.errors.DwarfExpressionError` rather than guessed.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

from coresnap.errors import DwarfExpressionError

# DWARF 5, section 7.7.1, table 7.9 (only the operations evaluated here).
DW_OP_addr = 0x03
DW_OP_deref = 0x06
DW_OP_const1u, DW_OP_const1s = 0x08, 0x09
DW_OP_const2u, DW_OP_const2s = 0x0A, 0x0B
DW_OP_const4u, DW_OP_const4s = 0x0C, 0x0D
DW_OP_const8u, DW_OP_const8s = 0x0E, 0x0F
DW_OP_constu, DW_OP_consts = 0x10, 0x11
DW_OP_dup, DW_OP_drop, DW_OP_over, DW_OP_pick, DW_OP_swap = 0x12, 0x13, 0x14, 0x15, 0x16
DW_OP_and, DW_OP_minus, DW_OP_mul, DW_OP_neg, DW_OP_not = 0x1A, 0x1C, 0x1E, 0x1F, 0x20
DW_OP_or, DW_OP_plus, DW_OP_plus_uconst = 0x21, 0x22, 0x23
DW_OP_shl, DW_OP_shr, DW_OP_shra, DW_OP_xor = 0x24, 0x25, 0x26, 0x27
DW_OP_eq, DW_OP_ge, DW_OP_gt, DW_OP_le, DW_OP_lt, DW_OP_ne = 0x29, 0x2A, 0x2B, 0x2C, 0x2D, 0x2E
DW_OP_lit0, DW_OP_lit31 = 0x30, 0x4F
DW_OP_reg0, DW_OP_reg31 = 0x50, 0x6F
DW_OP_breg0, DW_OP_breg31 = 0x70, 0x8F
DW_OP_bregx = 0x92
DW_OP_deref_size = 0x94
DW_OP_nop = 0x96

_FIXED = {
    DW_OP_const1u: (1, False),
    DW_OP_const1s: (1, True),
    DW_OP_const2u: (2, False),
    DW_OP_const2s: (2, True),
    DW_OP_const4u: (4, False),
    DW_OP_const4s: (4, True),
    DW_OP_const8u: (8, False),
    DW_OP_const8s: (8, True),
}

_BINARY: dict[int, Callable[[int, int], int]] = {
    DW_OP_and: lambda a, b: a & b,
    DW_OP_minus: lambda a, b: a - b,
    DW_OP_mul: lambda a, b: a * b,
    DW_OP_or: lambda a, b: a | b,
    DW_OP_plus: lambda a, b: a + b,
    DW_OP_shl: lambda a, b: a << b,
    DW_OP_shr: lambda a, b: a >> b,
    DW_OP_xor: lambda a, b: a ^ b,
    DW_OP_eq: lambda a, b: int(a == b),
    DW_OP_ne: lambda a, b: int(a != b),
}
_SIGNED_COMPARE: dict[int, Callable[[int, int], int]] = {
    DW_OP_ge: lambda a, b: int(a >= b),
    DW_OP_gt: lambda a, b: int(a > b),
    DW_OP_le: lambda a, b: int(a <= b),
    DW_OP_lt: lambda a, b: int(a < b),
    DW_OP_shra: lambda a, b: a >> b,
}

MAX_STEPS = 1000  # CFI expressions are a handful of ops; a longer run is a hostile input


def read_uleb128(data: Sequence[int], pos: int) -> tuple[int, int]:
    """Decode an unsigned LEB128 at ``pos``; return (value, next position)."""
    result = shift = 0
    while True:
        if pos >= len(data):
            raise DwarfExpressionError(pos, "LEB128 runs past the end")
        byte = data[pos]
        pos += 1
        result |= (byte & 0x7F) << shift
        shift += 7
        if not byte & 0x80:
            return result, pos


def read_sleb128(data: Sequence[int], pos: int) -> tuple[int, int]:
    """Decode a signed LEB128 at ``pos``; return (value, next position)."""
    start = pos
    value, pos = read_uleb128(data, pos)
    bits = 7 * (pos - start)
    if value & (1 << (bits - 1)):
        value -= 1 << bits
    return value, pos


def evaluate(
    expr: Sequence[int],
    *,
    address_size: int,
    register: Callable[[int], int],
    read_memory: Callable[[int, int], int],
    initial: Sequence[int] = (),
) -> int:
    """Run ``expr`` and return the value on top of the stack.

    ``register(n)`` returns DWARF register ``n`` (raising if unknown); ``read_memory(addr,
    size)`` returns an unsigned integer read from the target. ``initial`` is pushed first
    (the CFA, for ``DW_CFA_expression``). Raises :class:`DwarfExpressionError` on an
    unsupported operation or a malformed expression, and lets memory errors through.
    """
    mask = (1 << (8 * address_size)) - 1
    stack = [v & mask for v in initial]
    pos = 0
    for _ in range(MAX_STEPS):
        if pos >= len(expr):
            break
        op = expr[pos]
        pos = _step(op, expr, pos + 1, stack, mask, address_size, register, read_memory)
    else:
        raise DwarfExpressionError(pos, f"more than {MAX_STEPS} operations")
    if not stack:
        raise DwarfExpressionError(pos, "empty stack at the end")
    return stack[-1] & mask


def _signed(value: int, mask: int) -> int:
    top = (mask >> 1) + 1
    return value - (mask + 1) if value & top else value


def _take(expr: Sequence[int], pos: int, size: int) -> bytes:
    """``size`` operand bytes at ``pos``; an operand cut short by the end is malformed."""
    if pos + size > len(expr):
        raise DwarfExpressionError(pos, f"operand of {size} bytes runs past the end")
    return bytes(expr[pos : pos + size])


def _pop(stack: list[int], pos: int) -> int:
    if not stack:
        raise DwarfExpressionError(pos, "stack underflow")
    return stack.pop()


def _step(
    op: int,
    expr: Sequence[int],
    pos: int,
    stack: list[int],
    mask: int,
    address_size: int,
    register: Callable[[int], int],
    read_memory: Callable[[int, int], int],
) -> int:
    """Execute one operation whose opcode byte was just before ``pos``; return the next pos."""
    if DW_OP_lit0 <= op <= DW_OP_lit31:
        stack.append(op - DW_OP_lit0)
    elif DW_OP_breg0 <= op <= DW_OP_breg31:
        offset, pos = read_sleb128(expr, pos)
        stack.append((register(op - DW_OP_breg0) + offset) & mask)
    elif op == DW_OP_bregx:
        regno, pos = read_uleb128(expr, pos)
        offset, pos = read_sleb128(expr, pos)
        stack.append((register(regno) + offset) & mask)
    elif op in _FIXED:
        size, signed = _FIXED[op]
        raw = _take(expr, pos, size)
        stack.append(int.from_bytes(raw, "little", signed=signed) & mask)
        pos += size
    elif op == DW_OP_addr:
        stack.append(int.from_bytes(_take(expr, pos, address_size), "little"))
        pos += address_size
    elif op in (DW_OP_constu, DW_OP_plus_uconst):
        value, pos = read_uleb128(expr, pos)
        stack.append((value if op == DW_OP_constu else _pop(stack, pos) + value) & mask)
    elif op == DW_OP_consts:
        value, pos = read_sleb128(expr, pos)
        stack.append(value & mask)
    elif op == DW_OP_deref:
        stack.append(read_memory(_pop(stack, pos), address_size))
    elif op == DW_OP_deref_size:
        size = _take(expr, pos, 1)[0]
        if not 0 < size <= address_size:
            raise DwarfExpressionError(pos, f"DW_OP_deref_size {size}")
        stack.append(read_memory(_pop(stack, pos), size))
        pos += 1
    else:
        _stack_op(op, pos, stack, mask)
    return pos


def _stack_op(op: int, pos: int, stack: list[int], mask: int) -> None:
    if op in _BINARY or op in _SIGNED_COMPARE:
        b, a = _pop(stack, pos), _pop(stack, pos)
        if op in _SIGNED_COMPARE:
            a = _signed(a, mask)
            b = b if op == DW_OP_shra else _signed(b, mask)
            stack.append(_SIGNED_COMPARE[op](a, b) & mask)
        else:
            stack.append(_BINARY[op](a, b) & mask)
    elif op == DW_OP_dup:
        stack.append(stack[-1] if stack else _pop(stack, pos))
    elif op == DW_OP_drop:
        _pop(stack, pos)
    elif op == DW_OP_over:
        if len(stack) < 2:
            raise DwarfExpressionError(pos, "stack underflow")
        stack.append(stack[-2])
    elif op == DW_OP_swap:
        b, a = _pop(stack, pos), _pop(stack, pos)
        stack += [b, a]
    elif op == DW_OP_neg:
        stack.append(-_pop(stack, pos) & mask)
    elif op == DW_OP_not:
        stack.append(~_pop(stack, pos) & mask)
    elif op != DW_OP_nop:
        raise DwarfExpressionError(pos - 1, f"unsupported operation {op:#04x}")
