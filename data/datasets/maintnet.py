"""MaintNet aviation maintenance logbook (Akhbardeh, Desell, Zampieri, COLING 2020).

Real, de-identified technician text: a PROBLEM and the corrective ACTION per row, upper case,
often cut at 60/55 characters in the source. Plus the project's abbreviation list and term bank.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from plantpulse.data.datasets.manifest import (
    FileSpec,
    Manifest,
    Verify,
    check_counts,
    dataset_folder,
    verify_files,
)

MANIFEST = Manifest(
    dataset="MaintNet",
    folder="maintnet_aviation",
    files=(
        FileSpec("Aircraft_Annotation_DataFile.csv", 504992, "a70daa27ba9c44a68617d69be1352be7fde003145ca142cbe0b7b51e197c6c3a"),
        FileSpec("Aviation_Abbreviation_Dataset.csv", 1518, "d2f525f483b7aa7a325b854e49537d72763e16c5cedc4c1952920bbc87ec742a"),
        FileSpec("Aviation_TermBanks_Dataset.csv", 5241, "ecf22ba17d45cb7f3310b8d78c667e45d789cdc3dcebf954b132b5f9cf1b897c"),
        FileSpec("Aviation_grammar_Dataset.csv", 2987, "78e66c81e3cf515d71feae8e07e445f35817726b87ed3c358cda444d318d269f"),
    ),
)
ROWS = 6169
FIRST_IDENT = 100001


@dataclass(frozen=True, slots=True)
class MaintNetData:
    """ident (N,) int32; problem/action verbatim text; abbreviation -> meaning; term-bank words."""

    ident: np.ndarray
    problem: tuple[str, ...]
    action: tuple[str, ...]
    abbreviations: dict[str, str]
    term_bank: tuple[str, ...]

    def __len__(self) -> int:
        return int(self.ident.shape[0])


def read_logbook(path: Path) -> pd.DataFrame:
    """The logbook as a frame with columns IDENT, PROBLEM, ACTION (text kept verbatim)."""
    return pd.read_csv(path, encoding="utf-8-sig", dtype={"PROBLEM": str, "ACTION": str},
                       keep_default_na=False)


def load(root: Path | str, verify: Verify = "full") -> MaintNetData:
    """Load the logbook and its language resources from ``root/maintnet_aviation``."""
    verify_files(root, MANIFEST, verify)
    folder = dataset_folder(root, MANIFEST)
    log = read_logbook(folder / "Aircraft_Annotation_DataFile.csv")
    abbr = pd.read_csv(folder / "Aviation_Abbreviation_Dataset.csv", encoding="utf-8-sig")
    terms = pd.read_csv(folder / "Aviation_TermBanks_Dataset.csv", encoding="utf-8-sig")
    grammar = pd.read_csv(folder / "Aviation_grammar_Dataset.csv", encoding="utf-8-sig")
    idents = log["IDENT"].to_numpy(np.int32)
    contiguous = bool((idents == np.arange(FIRST_IDENT, FIRST_IDENT + len(idents))).all())
    check_counts(
        "MaintNet",
        {"logbook rows": len(log), "IDENT contiguous from 100001": contiguous,
         "abbreviation rows": len(abbr), "term bank rows": len(terms), "grammar rows": len(grammar)},
        {"logbook rows": ROWS, "IDENT contiguous from 100001": True, "abbreviation rows": 65,
         "term bank rows": 100, "grammar rows": 57},
    )
    return MaintNetData(
        ident=idents,
        problem=tuple(log["PROBLEM"]),
        action=tuple(log["ACTION"]),
        abbreviations=dict(zip(abbr["Abbreviated"].str.lower(), abbr["Standard_Description"], strict=True)),
        term_bank=tuple(terms["Word"].str.lower()),
    )
