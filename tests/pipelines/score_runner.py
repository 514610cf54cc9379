"""Run the ``plantpulse`` CLI with the test predictor kind registered (used as a subprocess)."""

from __future__ import annotations

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

import scoring_support  # noqa: F401 - registers the 'test-fixed' predictor kind

from plantpulse.pipelines.cli.main import main

if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
