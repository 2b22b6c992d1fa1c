"""One real crashing program per class: the labels and the evidence a human would check."""

from __future__ import annotations

import pytest

from tests.analysis.analysis_support import Factory

SMASH = ("-g", "-O0", "-fstack-protector-strong", "-U_FORTIFY_SOURCE")


def test_seed_simple_is_use_after_free_write(analyzed: Factory) -> None:
    a = analyzed("demo/programs/simple.c")
    assert a.labels == ["use-after-free", "memory.write"]
    facts = a.facts("use-after-free")
    pointer, loaded = int(facts["pointer"], 16), int(facts["loaded_value"], 16)
    # The bad address is the safe-linked tcache `next` of the freed block `r` points to.
    assert int(facts["address"], 16) == loaded == pointer >> 12
    assert facts["chunk_state"] == "tcache bin 0"
    assert facts["tcache_key_matches"] is True
    assert facts["instruction"] == "mov byte ptr [rax], 0x30"
    assert facts["base_register"] == "rax"
    notes = [an["text"] for an in a.snapshot["annotations"]]
    assert "`r` points into a freed chunk (tcache bin 0)" in notes


def test_use_after_free_virtual_call(analyzed: Factory) -> None:
    a = analyzed("cls_uaf_virtual.cc")
    assert a.labels == ["use-after-free", "memory.read"]
    facts = a.facts("use-after-free")
    # The vtable pointer read from the freed object is its tcache `next`; the call adds the
    # slot offset (the third slot: 0x10) before loading the target.
    assert facts["pointer_held_in"] == "variable h (frame 0)"
    assert facts["offset_added"] == 0x10 and facts["chunk_state"] == "tcache bin 0"
    assert int(facts["loaded_value"], 16) == int(facts["pointer"], 16) >> 12


@pytest.mark.parametrize(
    ("args", "access", "instruction"),
    [
        ((), "memory.read", "mov eax, dword ptr [rax]"),
        (("write",), "memory.write", "mov dword ptr [rax], edx"),
    ],
)
def test_null_deref(
    analyzed: Factory, args: tuple[str, ...], access: str, instruction: str
) -> None:
    a = analyzed("cls_null.c", *args)
    assert a.labels == ["null-deref", access]
    facts = a.facts("null-deref")
    assert facts["code"] == "SEGV_MAPERR"
    assert facts["base_register"] == "rax" and facts["base_value"] == "0x0"
    assert facts["instruction"] == instruction
    notes = [an["text"] for an in a.snapshot["annotations"]]
    assert "`n->next` is NULL: the faulting address" in notes


def test_invalid_pointer_unmapped(analyzed: Factory) -> None:
    a = analyzed("cls_invalid_pointer.c")
    assert a.labels == ["invalid-pointer", "memory.read"]
    facts = a.facts("invalid-pointer")
    assert facts["address"] == "0x100dead0000" and facts["mapping"] is None
    assert facts["base_value"] == "0x100dead0000"


def test_invalid_pointer_non_canonical(analyzed: Factory) -> None:
    a = analyzed("cls_invalid_pointer.c", "gp")
    assert a.labels == ["invalid-pointer", "memory.read"]
    facts = a.facts("invalid-pointer")
    assert facts["code"] == "SI_KERNEL"
    assert facts["computed_address"] == "0xdead0000beef0000"


@pytest.mark.parametrize(
    ("source", "label", "message"),
    [
        ("cls_double_free.c", "double-free", "free(): double free detected in tcache 2"),
        ("cls_invalid_free.c", "invalid-free", "free(): invalid pointer"),
        ("cls_heap_corruption.c", "heap-corruption", "malloc(): corrupted top size"),
    ],
)
def test_heap_verdicts_from_malloc_messages(
    analyzed: Factory, source: str, label: str, message: str
) -> None:
    a = analyzed(source)
    assert a.labels == [label]
    assert a.facts(label)["message"] == message


def test_double_free_allocator_state(analyzed: Factory) -> None:
    a = analyzed("cls_double_free.c")
    allocator = a.facts("double-free")["allocator"]  # from _int_free's `p` (libc debug info)
    assert allocator["already_free_in"] == "tcache bin 1"  # a 32-byte block: 0x30 chunk
    release = next(f for f in a.snapshot["threads"][0]["frames"] if f["function"] == "release")
    assert int(allocator["block"], 16) == release["variables"][0]["value"]
    notes = {(an["frame"], an.get("name"), an["text"]) for an in a.snapshot["annotations"]}
    assert (release["index"], "p", "`p` points into a freed chunk (tcache bin 1)") in notes


def test_stack_overflow(analyzed: Factory) -> None:
    a = analyzed("cls_stack_overflow.c")
    assert a.labels[0] == "stack-overflow"
    facts = a.facts("stack-overflow")
    sp, fault = int(facts["sp"], 16), int(facts["address"], 16)
    assert fault < int(facts["stack_mapping"]["start"], 16) and abs(sp - fault) < 4096
    assert facts["most_repeated_frame"]["function"] == "recurse"


def test_stack_smash(analyzed: Factory) -> None:
    a = analyzed("cls_stack_smash.c", "A" * 40, flags=SMASH)
    assert a.labels == ["stack-smash"]
    assert "stack smashing detected" in a.facts("stack-smash")["message"]
    assert a.snapshot["fingerprint"]["frames"] == ["cls_stack_smash!copy_name"]


def test_assert_message(analyzed: Factory) -> None:
    a = analyzed("cls_assert.c")
    assert a.labels == ["assert"]
    facts = a.facts("assert")
    assert facts["expression"] == 'count > 1 && "need two arguments"'
    assert facts["function"] == "check_count" and facts["line"] == "7"


def test_abort(analyzed: Factory) -> None:
    a = analyzed("cls_abort.c")
    assert a.labels == ["abort"]
    assert a.facts("abort")["sender_pid"] == a.crash.pid and a.facts("abort")["abort_frame"]


def test_div_by_zero(analyzed: Factory) -> None:
    a = analyzed("cls_div_by_zero.c")
    assert a.labels == ["div-by-zero"]
    assert a.facts("div-by-zero")["code"] == "FPE_INTDIV"
    assert a.facts("div-by-zero")["instruction"].startswith("idiv")


def test_illegal_instruction(analyzed: Factory) -> None:
    a = analyzed("cls_illegal_instruction.c")
    assert a.labels == ["illegal-instruction"]
    assert a.facts("illegal-instruction")["code"] == "ILL_ILLOPN"
    assert a.facts("illegal-instruction")["instruction"] == "ud2"


def test_bus_error(analyzed: Factory) -> None:
    a = analyzed("cls_bus_error.c")
    assert a.labels == ["bus-error", "memory.write"]
    facts = a.facts("bus-error")
    assert facts["code"] == "BUS_ADRERR" and facts["mapping"]["path"].endswith("/bus.dat")
    assert facts["file_offset"] == "0x1008"


def test_machine_check_self_queued(analyzed: Factory) -> None:
    # A real BUS_MCEERR_AR needs failing RAM: the program queues itself that exact siginfo.
    a = analyzed("cls_machine_check.c")
    assert a.labels == ["machine-check"]
    assert a.facts("machine-check") == {
        "signal": "SIGBUS",
        "code": "BUS_MCEERR_AR",
        "address": "0x7f00deadb000",
    }


def test_bad_jump(analyzed: Factory) -> None:
    a = analyzed("cls_bad_jump.c")
    assert a.labels == ["bad-jump", "memory.exec"]
    facts = a.facts("bad-jump")
    assert facts["pc"] == facts["address"] == "0x41414141000" and facts["pc_mapping"] is None
    assert facts["caller"]["function"] == "dispatch"
    assert a.snapshot["fingerprint"]["frames"][0] == "cls_bad_jump!dispatch"


def test_exec_nonexec(analyzed: Factory) -> None:
    a = analyzed("cls_exec_nonexec.c")
    assert a.labels == ["exec-nonexec", "security", "memory.exec"]
    facts = a.facts("exec-nonexec")
    assert facts["code"] == "SEGV_ACCERR" and facts["pc_mapping"]["perms"] == "rw-"


def test_cxx_uncaught_exception(analyzed: Factory) -> None:
    a = analyzed("cls_uncaught_exception.cc")
    assert a.labels == ["cxx-uncaught-exception"]
    facts = a.facts("cxx-uncaught-exception")
    assert facts["type"] == "std::runtime_error" and facts["throw_frame"] == "__cxa_throw"
    assert facts["what"] == "empty port"  # the message the program gave the exception
    assert a.snapshot["fingerprint"]["frames"][0] == "cls_uncaught_exception!parse_port"


def test_cxx_pure_virtual(analyzed: Factory) -> None:
    a = analyzed("cls_pure_virtual.cc")
    assert a.labels == ["cxx-pure-virtual"]
    assert a.facts("cxx-pure-virtual")["frame"] == "__cxa_pure_virtual"


@pytest.mark.parametrize(("args", "signal"), [((), "SIGSEGV"), (("abrt",), "SIGABRT")])
def test_killed_by_another_process(analyzed: Factory, args: tuple[str, ...], signal: str) -> None:
    a = analyzed("cls_killed.c", *args)
    assert a.labels == ["killed"]  # not a NULL dereference, not abort(): somebody sent it
    facts = a.facts("killed")
    assert facts["code"] == "SI_USER" and facts["signal"] == signal
    assert facts["sender_pid"] == int(a.crash.stdout.strip()) != a.crash.pid


def test_breakpoint(analyzed: Factory) -> None:
    a = analyzed("cls_breakpoint.c")
    assert a.labels == ["breakpoint"]
    facts = a.facts("breakpoint")
    assert facts["signal"] == "SIGTRAP" and facts["instruction"] == "int3"
    frame0 = a.snapshot["threads"][0]["frames"][0]
    assert int(facts["instruction_address"], 16) == frame0["pc"] - 1


def test_raised_by_the_process_itself(analyzed: Factory) -> None:
    a = analyzed("cls_raised.c")
    assert a.labels == ["raised"]  # a SIGSEGV, but from raise(): no memory fault to look for
    facts = a.facts("raised")
    assert facts["signal"] == "SIGSEGV" and facts["code"] == "SI_TKILL"
    assert facts["sender_pid"] == a.crash.pid
