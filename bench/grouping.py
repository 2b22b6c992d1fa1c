"""Grouping on the labelled corpus (tests/grouping, docs/grouping-corpus.md): 202 real crashes of
59 bugs in C, C++, Go and Rust, with the variations that must not split a bug and the ones that
must.

Side by side: pairwise precision, recall and F1 (and groups vs bugs) of the current fingerprint
(recomputed by this checkout's code), of an ABRT-style hash of the top three program frames, and
of the groups a real coronerd forms when every snapshot is uploaded to it; then class accuracy
with its confusion table, blame accuracy, and every miss by bug and case id. Builds, cores and
snapshots are cached (CORESNAP_GROUPING_CACHE, /tmp/coresnap-grouping-corpus): a rerun after a
change to coresnap's code re-makes only the snapshots.
"""

from __future__ import annotations

import tempfile
import time
from pathlib import Path

from tests.grouping import corpus, truth
from tests.grouping.measure import measure, report


def main() -> None:
    cases = truth.load()
    started = time.monotonic()
    crashed = corpus.run(cases.cases, cases)
    print(f"   corpus built, crashed and snapshotted in {time.monotonic() - started:.1f} s")
    languages = {name: p.language for name, p in cases.programs.items()}
    with tempfile.TemporaryDirectory(prefix="coresnap-grouping-store-") as tmp:
        print(report(measure(crashed, Path(tmp), languages)), flush=True)


if __name__ == "__main__":
    main()
