"""Channel identity: an index per known channel name, the name hash only as a fallback.

Hashing channel names into a few buckets put distinct sensors on one embedding (C-MAPSS s_7/s_9,
s_8/s_20, s_13/s_15/s_21 at 64 buckets; s_13/s_15 still at 1,024), so the model could not tell
them apart. The training job now records every asset type's channel list in the model config
(``ModelConfig.channel_vocab``): known names get their own row of the channel embedding (ids
``0 .. V-1``), and only names never seen in training fall back to ``V + hash % channel_buckets``.
:meth:`ChannelIndex.ids` refuses a channel list in which two different names would share an
embedding, naming them.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence

import torch
from torch import Tensor

from plantpulse.data.core.errors import InputDataError


class ChannelCollisionError(InputDataError):
    """Two different channel names of one input would share a channel embedding."""


def canonical(name: str) -> str:
    """Case and spacing do not distinguish channels: ``'Drive End  Accel'`` -> ``'drive end accel'``."""
    return " ".join(name.lower().split())


def vocabulary(channel_lists: Iterable[Sequence[str]]) -> tuple[str, ...]:
    """The canonical names of several asset types' channel lists, in first-seen order, once each."""
    seen: dict[str, None] = {}
    for names in channel_lists:
        for name in names:
            seen.setdefault(canonical(name), None)
    return tuple(seen)


class ChannelIndex:
    """Maps channel names to rows of the channel embedding; see the module docstring.

    ``vocab``: known canonical names (their position is their id); ``buckets``: hash buckets for
    unknown names, placed after the known ones. The embedding needs ``size`` rows.
    """

    def __init__(self, vocab: Sequence[str], buckets: int) -> None:
        self.vocab = tuple(vocab)
        self.buckets = int(buckets)
        self.position = {name: i for i, name in enumerate(self.vocab)}

    @property
    def size(self) -> int:
        return len(self.vocab) + self.buckets

    def id_of(self, name: str) -> int:
        from plantpulse.model.moe.layers.embeddings import stable_hash

        key = canonical(name)
        if key in self.position:
            return self.position[key]
        return len(self.vocab) + stable_hash(key) % self.buckets

    def ids(self, names: Sequence[str]) -> Tensor:
        """(C,) int64 ids; raises :class:`ChannelCollisionError` when two names share one."""
        ids = [self.id_of(n) for n in names]
        check_collisions(names, ids, len(self.vocab))
        return torch.tensor(ids, dtype=torch.int64)


def check_collisions(names: Sequence[str], ids: Sequence[int], n_known: int = 0) -> None:
    """Raise when two different (canonical) names map to the same id."""
    owner: dict[int, list[str]] = {}
    for name, i in zip(names, ids, strict=True):
        group = owner.setdefault(i, [])
        if canonical(name) not in (canonical(g) for g in group):
            group.append(name)
    clashes = [group for group in owner.values() if len(group) > 1]
    if clashes:
        shown = "; ".join(" / ".join(group) for group in clashes)
        hint = ("they are not in the model's channel vocabulary, so they were hashed"
                if n_known == 0 or all(owner_id >= n_known for owner_id, g in owner.items() if len(g) > 1)
                else "check the channel vocabulary")
        msg = (f"Channel names share one channel embedding: {shown} ({hint}). Train with these "
               f"channels so they get their own index, raise channel_buckets, or rename them.")
        raise ChannelCollisionError(msg)
