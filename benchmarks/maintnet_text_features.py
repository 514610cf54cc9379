"""Is the MoE's MaintNet gap in its text features or in its learner? Logistic regression on the
features the MoE's tokenizer gives each word, against the evaluation's TF-IDF regression.

Each variant is a TF-IDF vectorizer (min_df 2, sublinear tf) feeding the evaluation's balanced
logistic regression, C chosen on the early-stopping half of the validation groups and scored on
the held-out half (the dataset option ``holdout``, the rows `recipe_search.py` scores a MoE recipe
on for the same seed). Test rows are not built.

- ``evaluation``: the evaluation's features (word 1–2-grams and character 2–5-grams within words);
- ``words``: the MoE tokenizer's words alone;
- ``moe tokens``: what the MoE's text embedding sees of each word, its word and the first
  ``MAX_SUBWORDS`` of its 3–5-character n-grams (no word pairs);
- ``moe tokens, all n-grams``: the same without the truncation to ``MAX_SUBWORDS``;
- ``moe tokens hashed into …``: the MoE's tokens as the bucket ids its embeddings see (the
  recipe's 4,096 word + 4,096 sub-word buckets, or four times as many), so that tokens sharing a
  bucket are one feature: do hash collisions cost anything?

    python benchmarks/maintnet_text_features.py --seeds 0 1 2 3 4 5
"""

from __future__ import annotations

import os

os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")
os.environ.setdefault("OMP_NUM_THREADS", "1")

import argparse
import json
from collections.abc import Callable
from pathlib import Path

import numpy as np
from sklearn.feature_extraction.text import TfidfVectorizer
from sklearn.linear_model import LogisticRegression
from sklearn.pipeline import FeatureUnion

from plantpulse.model.metrics import macro_f1
from plantpulse.model.moe.layers.embeddings import MAX_SUBWORDS, HashingTokenizer
from plantpulse.pipelines.evaluate.maintnet import C_GRID
from plantpulse.pipelines.train.tasks import build_bundle

TOKENIZER = HashingTokenizer(vocab_size=4096, max_len=48, subword_buckets=4096)


def moe_tokens(text: str, keep: int | None = MAX_SUBWORDS) -> list[str]:
    """The MoE's view of a text: each word and (up to ``keep`` of) its character n-grams, as the
    tokenizer takes them."""
    return [token for word in TOKENIZER.words(text)
            for token in ("w=" + word, *TOKENIZER.subword_grams(word, keep))]


def hashed_tokens(tokenizer: HashingTokenizer) -> Callable[[str], list[str]]:
    """The MoE's tokens as the ids its embeddings see: words and n-grams hashed into the
    tokenizer's buckets, so tokens that share a bucket become one feature."""
    def tokens(text: str) -> list[str]:
        return [f"w{tokenizer.word_id(word)}" if index == 0 else f"s{sub}"
                for word in tokenizer.words(text)
                for index, sub in enumerate((0, *tokenizer.subwords(word)))]
    return tokens


def _tfidf(**kwargs) -> TfidfVectorizer:
    return TfidfVectorizer(min_df=2, sublinear_tf=True, **kwargs)


VARIANTS: dict[str, Callable[[], object]] = {
    "evaluation": lambda: FeatureUnion([("words", _tfidf(ngram_range=(1, 2))),
                                        ("chars", _tfidf(analyzer="char_wb", ngram_range=(2, 5)))]),
    "words": lambda: _tfidf(analyzer=TOKENIZER.words),
    "moe tokens": lambda: _tfidf(analyzer=moe_tokens),
    "moe tokens, all n-grams": lambda: _tfidf(analyzer=lambda text: moe_tokens(text, None)),
    "moe tokens hashed into 4,096 + 4,096 buckets (the recipe)": lambda: _tfidf(analyzer=hashed_tokens(TOKENIZER)),
    "moe tokens hashed into 16,384 + 16,384 buckets": lambda: _tfidf(
        analyzer=hashed_tokens(HashingTokenizer(vocab_size=16384, max_len=48, subword_buckets=16384))),
}


def held_out_f1(splits, make, seed: int) -> float:
    vectorizer = make()
    train = vectorizer.fit_transform(splits.train.texts)
    val, held = vectorizer.transform(splits.val.texts), vectorizer.transform(splits.test.texts)
    best, best_f1 = None, -1.0
    for c in C_GRID:
        model = LogisticRegression(C=c, class_weight="balanced", max_iter=2000, random_state=seed)
        model.fit(train, splits.train.targets)
        f1 = macro_f1(model.predict(val), splits.val.targets)
        if f1 > best_f1:
            best, best_f1 = model, f1
    return macro_f1(best.predict(held), splits.test.targets)


def bucket_counts(texts: list[str]) -> str:
    """Distinct words and sub-word n-grams of ``texts``, and the recipe's bucket ids they fold onto."""
    words = {word for text in texts for word in TOKENIZER.words(text)}
    grams = {gram for word in words for gram in TOKENIZER.subword_grams(word)}
    word_ids = {TOKENIZER.word_id(word) for word in words}
    gram_ids = {sub for word in words for sub in TOKENIZER.subwords(word)}
    return (f"{len(texts)} training texts: {len(words):,} distinct words on {len(word_ids):,} word ids, "
            f"{len(grams):,} distinct sub-word n-grams on {len(gram_ids):,} sub-word ids")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2, 3, 4, 5])
    parser.add_argument("--share", type=float, default=0.5, help="share of validation groups held out")
    parser.add_argument("--datasets", default=os.environ.get("PLANTPULSE_DATASETS", "../shared/datasets"))
    parser.add_argument("--json", type=Path, default=None)
    opts = parser.parse_args()
    scores: dict[str, list[float]] = {name: [] for name in VARIANTS}
    for seed in opts.seeds:
        splits = build_bundle("maintnet", opts.datasets, seed=seed, holdout=opts.share).splits["system:aircraft"]
        if seed == opts.seeds[0]:
            print(f"seed {seed}: {bucket_counts(list(splits.train.texts))}")
        for name, make in VARIANTS.items():
            scores[name].append(round(held_out_f1(splits, make, seed), 4))
    print(f"| features | held-out macro-F1, seeds {' / '.join(map(str, opts.seeds))} | mean |")
    print("|---|---|---:|")
    for name, values in scores.items():
        print(f"| {name} | {' / '.join(f'{v:.3f}' for v in values)} | {np.mean(values):.3f} |")
    if opts.json:
        opts.json.parent.mkdir(parents=True, exist_ok=True)
        opts.json.write_text(json.dumps({"seeds": opts.seeds, "held_out_macro_f1": scores}, indent=1) + "\n",
                             encoding="utf-8")


if __name__ == "__main__":
    main()
