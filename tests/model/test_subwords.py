"""Sub-word text tokens: hashed character n-grams added to each word's embedding."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from plantpulse.data.core.errors import InputDataError
from plantpulse.model import ModelInput, PlantPulseModel, TaskSpec, preset
from plantpulse.model.moe.layers.embeddings import MAX_SUBWORDS, HashingTokenizer, TextEmbedding
from plantpulse.model.moe.training.data import Batcher, TaskData

pytestmark = pytest.mark.usefixtures("one_thread")

TASK = TaskSpec(name="system:aircraft", kind="classification", classes=("engine", "fuel"))


def test_abbreviations_share_sub_words_and_ids_stay_in_range():
    tok = HashingTokenizer(512, 8, subword_buckets=1000)
    thr, throttle, valve = (set(tok.subwords(w)) for w in ("thr", "throttle", "valve"))
    assert {tok.subwords("thr")[0]} <= thr & throttle  # "<th" is shared
    assert len(thr & throttle) >= 2 and not thr & valve
    fields = tok.inputs(["FULL THR", "full throttle on departure", ""])
    grams = fields["text_subwords"]
    assert grams.shape == (3, 8, MAX_SUBWORDS) and grams.dtype == torch.int64
    assert int(grams.max()) <= 1000 and int(grams[fields["text_mask"]].min(-1).values.max()) >= 0
    assert bool((grams[~fields["text_mask"]] == 0).all())  # padding words have no sub-words
    assert bool((grams[fields["text_mask"]][:, 0] > 0).all())  # every word has at least one
    assert "text_subwords" not in HashingTokenizer(512, 8).inputs(["full thr"])


def test_a_word_token_carries_its_sub_words():
    cfg = preset("tiny", text_subword_buckets=256)
    emb = TextEmbedding(cfg)
    tok = HashingTokenizer.for_config(cfg)
    a, b = tok.inputs(["throttle"]), tok.inputs(["throttles"])
    same_word = dict(a, text_subwords=b["text_subwords"])  # same word id, other sub-words
    first = emb(a["text_ids"], a["text_mask"], a["text_subwords"]).values[0, 0]
    other = emb(same_word["text_ids"], same_word["text_mask"], same_word["text_subwords"]).values[0, 0]
    assert not torch.allclose(first, other)
    old = TextEmbedding(preset("tiny"))
    assert old.subword is None and not any(k.startswith("subword") for k in old.state_dict())


def test_a_sub_word_model_refuses_word_ids_alone_and_scores_through_the_batcher():
    model = PlantPulseModel(preset("tiny", tasks=(TASK,), text_subword_buckets=256))
    ids, mask = HashingTokenizer.for_config(model.cfg).encode(["engine quit"])
    with pytest.raises(InputDataError, match="sub-word ids"):
        model(ModelInput(text_ids=ids, text_mask=mask))
    data = TaskData(name="logs", task=TASK, groups=np.arange(3), targets=np.array([0, 1, 0]),
                    texts=("ENG QUIT ON RUNUP", "FUEL CAP LOOSE", "ENGINE ROUGH"))
    batch = Batcher(HashingTokenizer.for_config(model.cfg), model.channel_index).inputs(data, np.arange(3))
    assert batch.text_subwords is not None
    assert model(batch).tasks[TASK.name].logits.shape == (3, 2)
    with pytest.raises(InputDataError, match="text_subwords must be"):
        model(ModelInput(text_ids=batch.text_ids, text_mask=batch.text_mask, text_subwords=batch.text_subwords[:, :2]))
