"""Every MaintNet action holding a given word, with the label the current rule gives it: how the
labelling rule's keywords were audited (docs/benchmarks.md, "Held-out validation groups"). Reading
the printed actions shows what the word names in this logbook (e.g. "gear": starter ring gears and
crankshaft gears, not landing gear).

    python benchmarks/maintnet_keyword_audit.py gear wire
"""

from __future__ import annotations

import argparse
import os
import re
from collections import Counter

from plantpulse.data.datasets import load_dataset
from plantpulse.pipelines.train.tasks.maintnet import system_label

_WORD = re.compile(r"[a-z0-9]+")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("words", nargs="+", help="whole words to look for (case-insensitive)")
    parser.add_argument("--datasets", default=os.environ.get("PLANTPULSE_DATASETS", "../shared/datasets"))
    opts = parser.parse_args()
    data = load_dataset("maintnet", opts.datasets, verify="sizes")
    for word in opts.words:
        hits = [a for a in data.action if word.lower() in _WORD.findall(a.lower())]
        labels = Counter(system_label(a) for a in hits)
        print(f"## '{word}': {len(hits)} actions; labels now: {dict(labels.most_common())}")
        for action in hits:
            print(f"- [{system_label(action)}] {action}")


if __name__ == "__main__":
    main()
