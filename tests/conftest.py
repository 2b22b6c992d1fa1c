from __future__ import annotations

import os
import time

# This run's name, set once by the controller (or a plain run) before xdist starts its workers,
# which inherit it: results collected in files (the corpus report) are told apart from stale ones.
if "PYTEST_XDIST_WORKER" not in os.environ:
    os.environ["CORESNAP_TEST_RUN"] = f"{os.getpid()}-{time.time_ns()}"
