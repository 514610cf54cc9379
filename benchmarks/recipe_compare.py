"""Paired comparison of two recipes from `recipe_search.py` results: per seed, the difference of a
metric between a candidate and a reference run on the same seed (so on the same split and, with
the ``holdout`` option, the same held-out groups), then its mean, standard deviation, standard
error, paired t and the seeds the candidate is ahead on.

    python benchmarks/recipe_compare.py \\
        benchmarks/results/recipes/maintnet-fixed-holdout-a.json:fix-wd025+benchmarks/results/recipes/maintnet-fixed-holdout-b.json:fix-wd025 \\
        benchmarks/results/recipes/maintnet-holdout-ls02.json:ls02 --split holdout

Each argument is ``FILE.json[:TAG-PREFIX][+MORE.json[:TAG-PREFIX]]`` (the runs of one or more files
whose tag starts with that file's prefix); the first is the reference, every further one a
candidate. A run's seed is read
from its ``--seed N`` option (seed 0 without one). Reads only validation figures (``val`` or
``holdout``): nothing here touches test data.
"""

from __future__ import annotations

import argparse
import json
import math
import re
import sys
from pathlib import Path

_SEED = re.compile(r"--seed (\d+)")


def load(spec: str, split: str, metric: str) -> dict[int, float]:
    """seed -> metric of the runs in ``FILE[:PREFIX]``, ``FILE[:PREFIX]+FILE[:PREFIX]`` for several files."""
    out: dict[int, float] = {}
    for part in spec.split("+"):
        name, _, prefix = part.partition(":")
        for run in json.loads(Path(name).read_text(encoding="utf-8")):
            if prefix and not run["tag"].startswith(prefix):
                continue
            found = _SEED.search(run["options"])
            seed = int(found.group(1)) if found else 0
            if split not in run:
                raise SystemExit(f"{name}: run {run['tag']} has no '{split}' figures (was it run with "
                                 f"the holdout option?); use --split val for validation figures.")
            (task,) = run[split].values()
            if seed in out:
                raise SystemExit(f"{spec}: two runs on seed {seed}; narrow the tag prefix.")
            out[seed] = float(task[metric])
    if not out:
        raise SystemExit(f"{spec}: no run matches.")
    return out


def compare(reference: dict[int, float], candidate: dict[int, float]) -> dict[str, float]:
    seeds = sorted(set(reference) & set(candidate))
    diffs = [candidate[s] - reference[s] for s in seeds]
    n = len(diffs)
    mean = sum(diffs) / n
    sd = math.sqrt(sum((d - mean) ** 2 for d in diffs) / (n - 1)) if n > 1 else float("nan")
    se = sd / math.sqrt(n) if n > 1 else float("nan")
    return {"seeds": n, "reference": sum(reference[s] for s in seeds) / n,
            "candidate": sum(candidate[s] for s in seeds) / n, "mean_diff": mean, "sd": sd, "se": se,
            "t": mean / se if se and se == se else float("nan"), "ahead": sum(d > 0 for d in diffs),
            "min_diff": min(diffs), "max_diff": max(diffs)}


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("reference", help="RESULTS.json[:TAG-PREFIX][+MORE.json[:TAG-PREFIX]] of the reference recipe")
    parser.add_argument("candidates", nargs="+", help="the same for each candidate recipe")
    parser.add_argument("--split", choices=["val", "holdout"], default="val")
    parser.add_argument("--metric", default="macro_f1")
    opts = parser.parse_args(argv)
    reference = load(opts.reference, opts.split, opts.metric)
    print("| candidate | seeds | reference mean | candidate mean | mean difference | sd | se | paired t "
          "| ahead | per-seed range |")
    print("|---|---:|---:|---:|---:|---:|---:|---:|---:|---|")
    for spec in opts.candidates:
        r = compare(reference, load(spec, opts.split, opts.metric))
        label = " + ".join(part.rpartition("/")[2] for part in spec.split("+"))
        print(f"| {label} | {r['seeds']} | {r['reference']:.4f} | {r['candidate']:.4f} "
              f"| {r['mean_diff']:+.4f} | {r['sd']:.4f} | {r['se']:.4f} | {r['t']:.2f} | {r['ahead']} of {r['seeds']} "
              f"| {r['min_diff']:+.3f} to {r['max_diff']:+.3f} |")
    sys.stdout.flush()


if __name__ == "__main__":
    main()
