"""Channel identity: a vocabulary index per known name, the hash only as a fallback, no collisions."""

from __future__ import annotations

import pytest
import torch

from plantpulse.data.core.errors import ConfigError
from plantpulse.model import PlantPulseModel, preset
from plantpulse.model.moe.channels import ChannelCollisionError, ChannelIndex, vocabulary
from plantpulse.model.moe.layers.embeddings import channel_ids

CMAPSS = tuple(f"s_{i}" for i in range(1, 22))


def test_hashing_alone_collides_on_cmapss_names():
    """Why the vocabulary exists: 64 hash buckets put distinct C-MAPSS sensors on one row."""
    ids = channel_ids(CMAPSS, 64).tolist()
    assert len(set(ids)) < len(ids)


def test_vocabulary_gives_every_known_channel_its_own_row():
    vocab = vocabulary([CMAPSS, ("drive_end_accel", "fan_end_accel"), ("S_2", "volt")])
    assert vocab[:21] == CMAPSS and vocab[-1] == "volt" and len(vocab) == 24  # s_2 / S_2: one channel
    index = ChannelIndex(vocab, 64)
    assert index.ids(CMAPSS).tolist() == list(range(21))
    assert index.size == 24 + 64


def test_unknown_names_fall_back_to_hash_buckets_after_the_vocabulary():
    index = ChannelIndex(("a", "b"), 16)
    unknown = index.id_of("vibration_x")
    assert 2 <= unknown < 18 and index.id_of("A") == 0


def test_collision_raises_with_the_colliding_names():
    index = ChannelIndex(("temp",), 1)  # one bucket: any two unknown names share it
    with pytest.raises(ChannelCollisionError, match=r"pressure / flow .*share one channel embedding|"
                                                    r"share one channel embedding: pressure / flow"):
        index.ids(["temp", "pressure", "flow"])
    assert index.ids(["temp", "pressure"]).tolist() == [0, 1]


def test_model_with_vocabulary_refuses_colliding_names_and_sizes_its_embedding():
    cfg = preset("tiny", channel_vocab=("s_2", "s_3"), channel_buckets=1)
    model = PlantPulseModel(cfg)
    assert model.embedding.paths["sensor"].channel.num_embeddings == 3
    assert model.channel_ids(["s_3", "s_2"]).tolist() == [1, 0]
    with pytest.raises(ChannelCollisionError, match="x1 / x2"):
        model.channel_ids(["x1", "x2"])


def test_config_rejects_a_vocabulary_that_is_not_canonical():
    with pytest.raises(ConfigError, match="channel_vocab"):
        preset("tiny", channel_vocab=("S_2", "s_2"))


def test_models_without_a_vocabulary_hash_as_they_were_trained():
    model = PlantPulseModel(preset("tiny"))
    assert torch.equal(model.channel_ids(list(CMAPSS)), channel_ids(CMAPSS, 64))
