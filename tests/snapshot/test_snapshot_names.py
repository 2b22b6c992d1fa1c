"""Frame names from demangled symbols keep the function's name whatever follows the parameters:
a clone mark (`[clone .cold]`, `[clone .isra.0]`) once cut a name at its last space (`.cold]`)."""

from __future__ import annotations

import pytest

from coresnap.analysis.demangle import strip_signature


@pytest.mark.parametrize(
    ("demangled", "name"),
    [
        ("int ns::f<int>(char*) const", "ns::f<int>"),
        ("sched::Config::load(std::istream&) [clone .cold]", "sched::Config::load [clone .cold]"),
        ("foo(int) [clone .isra.0]", "foo [clone .isra.0]"),
        ("a::b(int) [clone .isra.0] [clone .cold]", "a::b [clone .isra.0] [clone .cold]"),
        ("std::vector<int>::operator[](unsigned long)", "std::vector<int>::operator[]"),
    ],
)
def test_strip_signature(demangled: str, name: str) -> None:
    assert strip_signature(demangled) == name
