"""Entry point of the helper process that parses a large manifest (see :mod:`.parallel`)."""

from __future__ import annotations

import sys

from labelloop.services.ingest.parallel import run_helper

if __name__ == "__main__":
    run_helper(sys.stdin.buffer, sys.stdout.buffer)
