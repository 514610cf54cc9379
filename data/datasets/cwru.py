"""Case Western Reserve University bearing data, 12 kHz drive-end faults plus the 0 hp baseline.

Each ``.mat.gz`` is a gzip of the original MATLAB file; variables carry the file number
(``X105_DE_time`` in file 105). Fault type, diameter and motor load come from the file name.
"""

from __future__ import annotations

import gzip
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Literal, overload

import numpy as np
import scipy.io

from plantpulse.data.core.errors import DatasetError
from plantpulse.data.datasets.manifest import (
    FileSpec,
    Manifest,
    Verify,
    check_count,
    dataset_folder,
    verify_files,
    with_raw,
)

FAULTS: tuple[str, ...] = ("normal", "inner_race", "ball", "outer_race")
FAULT_SAMPLE_RATE_HZ = 12_000.0
_NAME = re.compile(r"^(?:12k_Drive_End_(IR|B|OR)(\d{3})(?:@6)?|normal)_(\d)_(\d+)\.mat\.gz$")
_FAULT_CODES = {"IR": "inner_race", "B": "ball", "OR": "outer_race"}

RAW: dict[str, tuple[int, str]] = {
    "12k_Drive_End_B007_0_118.mat.gz": (2942112, "b00628f8dd8d1d930af77fa465d1e5cdb385fe259489053f91f3680bda7f640e"),
    "12k_Drive_End_B007_1_119.mat.gz": (2914248, "bc72d9df7668219e004a0f711232b23ec0aed393eb9bd8f9f5483426f6b51330"),
    "12k_Drive_End_B007_2_120.mat.gz": (2917752, "e0b7a584c49af52335ff0904a97d4afcf02d045625c582de63a7c85ce10b489c"),
    "12k_Drive_End_B007_3_121.mat.gz": (2917752, "52f686e984ba8e9b04a047a57416271cdb322cee57ee105dce58926a24b966cb"),
    "12k_Drive_End_B014_0_185.mat.gz": (2924712, "5bea2c60f177215ba3ec4ae287faf745d7e14aed1a12efe9e37b27c27044bafc"),
    "12k_Drive_End_B014_1_186.mat.gz": (2931672, "1b3b6f3ad38e891feaa8026fe957b34f62f9082785089cc74f6878acdfe88ec5"),
    "12k_Drive_End_B014_2_187.mat.gz": (2928192, "0f1338cce89beb5c8d8e5e154579bc576354e7c7d1617ebd1759662c6f3100b2"),
    "12k_Drive_End_B014_3_188.mat.gz": (2931672, "1981614324d653c2522bea68fd4fd87e337495b117d12596db67abd1e10e7443"),
    "12k_Drive_End_B021_0_222.mat.gz": (2928192, "fcc0ee740fa123b1f4683f555458891719efb2857afd9fdee63e8fde0ed14469"),
    "12k_Drive_End_B021_1_223.mat.gz": (2921232, "7287410fd2217e3b332c5ab4732a68963be046d7d17bd40efa41cabe6a0514e5"),
    "12k_Drive_End_B021_2_224.mat.gz": (2931672, "8a16894c2ff4d6bcdb9f4c345c0d5f13737b3bd6d15015d6b566c86e7a3ee7b7"),
    "12k_Drive_End_B021_3_225.mat.gz": (2931672, "ece92fa141af03473fdfca80d00d9112472a20340224514e79979c6ddc97a6cf"),
    "12k_Drive_End_IR007_0_105.mat.gz": (2910768, "f80b0ea04fd06b372a0eaec7c056543ea37e4bb4727a5b173d2a5bacd2aa9cab"),
    "12k_Drive_End_IR007_1_106.mat.gz": (2928192, "e5cec7cdd138e6cd1deb9ed8634e5aaa9bc1bd7094ddc075bff606580eb6e883"),
    "12k_Drive_End_IR007_2_107.mat.gz": (2931672, "111ba8996a115684661a13c913bd74d8029a59294492f88aec7b03e175fdd388"),
    "12k_Drive_End_IR007_3_108.mat.gz": (2950416, "d415f0e65128bfa0b118c2051c988fb0dc6ce3e4c8aa45fdc5ad1d0967462e7d"),
    "12k_Drive_End_IR014_0_169.mat.gz": (2924712, "f5448673725c4ea2735fe7d3fe4b16ad82b217eac6b62c4bf351c4549b0a5229"),
    "12k_Drive_End_IR014_1_170.mat.gz": (2924712, "bcb73a5208b67265468232a2e342f53719850901671d0ee28494f3af97621f46"),
    "12k_Drive_End_IR014_2_171.mat.gz": (2924712, "63d0fdc1a68e64610ddfaf56a9c224d6137ab7b5c0d318eea1d542b9e5ffc029"),
    "12k_Drive_End_IR014_3_172.mat.gz": (2921232, "f75170ceef70d5da475671de0d2e52a0acd9b3883ad422b6deaf2907d888ba24"),
    "12k_Drive_End_IR021_0_209.mat.gz": (2931672, "9f723d6d9d2eba714c6dc50f99321dffa73d8b1e4d3605675b2c2251511eff80"),
    "12k_Drive_End_IR021_1_210.mat.gz": (2917752, "596692397e77e129a00f7b7a61c4c3ffd6c7a59979b89039e7f70a7431cce1c7"),
    "12k_Drive_End_IR021_2_211.mat.gz": (2924712, "8296a02ee489c2d16cbd9fc278ca2e29b22475cec70ebe840558c78b6b743dc1"),
    "12k_Drive_End_IR021_3_212.mat.gz": (2928192, "bfe13761f545a26b217db897a12d27e16fec74306aa86ade8dbdc8ebe587c253"),
    "12k_Drive_End_OR007@6_0_130.mat.gz": (2928192, "35a095307d0971477049b343a1b5981dde465a58fb7f233ad89b035068c1717d"),
    "12k_Drive_End_OR007@6_1_131.mat.gz": (2938632, "7883f7b83beadc54b2f301767f9145ce07055707182fb0278fdf0a6bb53ce3cb"),
    "12k_Drive_End_OR007@6_2_132.mat.gz": (2914248, "17a69ed5d2270b42532e678e35bbe2fa04a2cc413cf2bf9e88c7692de8662d18"),
    "12k_Drive_End_OR007@6_3_133.mat.gz": (2942112, "53f076cb0d905cf46bffaee7736abce8224ffed777deed03c0c863d762a90c71"),
    "12k_Drive_End_OR014@6_0_197.mat.gz": (2924712, "fa571b47cd942f9514a920b403fb7c053cd442bb2963a360a96d0f61432f03e9"),
    "12k_Drive_End_OR014@6_1_198.mat.gz": (2931672, "dbd58e4585ca8f8332c708b15936987ec0990ca701359fd2483dae2719df5b49"),
    "12k_Drive_End_OR014@6_2_199.mat.gz": (2924712, "ca4e6407fdb68845a6973da6028477911a62d018580063749fe956441be95cf2"),
    "12k_Drive_End_OR014@6_3_200.mat.gz": (2928192, "2526483d2701220a700df8e6c9db0c527641b0887225907f4096610dd7120f4b"),
    "12k_Drive_End_OR021@6_0_234.mat.gz": (2938632, "ebcbdb96612e8085bbdbf81f0e5e8e8a8d1a693d1ec559c4894f7792771aa9b2"),
    "12k_Drive_End_OR021@6_1_235.mat.gz": (2928192, "667e4bf1f213f92d10dca71d494ad002d8fd22bfd8004b31a4c71ccf0d764b66"),
    "12k_Drive_End_OR021@6_2_236.mat.gz": (2935152, "c411d6d9826cba8073430555dc833e05fcbe4c38535f3eb7f03c525ea6797589"),
    "12k_Drive_End_OR021@6_3_237.mat.gz": (2928192, "233d1edb2daa963658369119e389e30f02aca551dd7bb028ab33e7ba63edfd20"),
    "normal_0_97.mat.gz": (3903344, "16bf48babcf1c7ac224bc1a81cd9eafdb27e42d5cf559761907e067e8eeadf3c"),
}


MANIFEST = Manifest(
    dataset="CWRU",
    folder="cwru_bearing_12k_drive_end",
    files=with_raw((
        FileSpec("12k_Drive_End_B007_0_118.mat.gz", 947167, "249127644d7607497ec1c88b74997fc70db173dbe8d7c5607471ce929a41797e"),
        FileSpec("12k_Drive_End_B007_1_119.mat.gz", 925695, "344cce46933b4541e99104cb2689fa9a90e2f86024855699737bc0b387520f71"),
        FileSpec("12k_Drive_End_B007_2_120.mat.gz", 939691, "786bdff00bcfa2d1b636975146cac30967ad73feef3c921d5e7cb62a6d263cf5"),
        FileSpec("12k_Drive_End_B007_3_121.mat.gz", 977070, "758aa4ed303ed7fd27c75bd79c47d792495dca61ca4741201bd98fe36c9c3382"),
        FileSpec("12k_Drive_End_B014_0_185.mat.gz", 960287, "932008c0652244af26fa176f18dec44b4ea69cd198ebbb71c004a0d243aab771"),
        FileSpec("12k_Drive_End_B014_1_186.mat.gz", 953859, "e12a95e182fab537fa9c4501a1304a42873e4313e1254287fc86b625588971ca"),
        FileSpec("12k_Drive_End_B014_2_187.mat.gz", 962657, "17e484c95089b097812c95be334f475975a0e4dba427c8e887265bb90bc48748"),
        FileSpec("12k_Drive_End_B014_3_188.mat.gz", 984998, "3830232871847c80b07efdf92cfccbaa4d0616aacfe815c197f789227ae8821f"),
        FileSpec("12k_Drive_End_B021_0_222.mat.gz", 947809, "d8163466c7354eea347238651378dffd1656629d7bc6139879df3df67efe8875"),
        FileSpec("12k_Drive_End_B021_1_223.mat.gz", 920793, "c840f029ecf15af883b23e93d6b090e29bf719804a4e3df485d6c07d871dc828"),
        FileSpec("12k_Drive_End_B021_2_224.mat.gz", 912241, "c184b3bfb2a82cc5e7101424029df1f3fbf0acce065108b5bc27c6756499b892"),
        FileSpec("12k_Drive_End_B021_3_225.mat.gz", 947570, "40adb653f7c1cb0bdd0638d7b1a5f7827635cedbd16819f4ceb08b7ed3fbc35c"),
        FileSpec("12k_Drive_End_IR007_0_105.mat.gz", 1193834, "c6a4f39f4c3def753a3abc7732e53f1138ae317c79ddd8554f8f6c996f82abcc"),
        FileSpec("12k_Drive_End_IR007_1_106.mat.gz", 1207059, "b55033b175e8aa280f7a72346a8370ffb39750e79d4a8a485619422deebd9d61"),
        FileSpec("12k_Drive_End_IR007_2_107.mat.gz", 1209812, "a5481805dad6c7e0bd5d989a1a67a769b59c5cdc8371623ecc51a9fd27e578c5"),
        FileSpec("12k_Drive_End_IR007_3_108.mat.gz", 1217650, "9df2d3bac9072c11ea7d130c6db92d5e3022189811dc86431b031d5b18aefbbb"),
        FileSpec("12k_Drive_End_IR014_0_169.mat.gz", 1019068, "7a8fb53ac49991011aff5d65f6b62afa0d8a2daad857c1812afc4ee17ec1a070"),
        FileSpec("12k_Drive_End_IR014_1_170.mat.gz", 965167, "b5a84d1d433dbebeec1132f5692b81b892e81cb16e918cf1a2ca455332cfa65f"),
        FileSpec("12k_Drive_End_IR014_2_171.mat.gz", 962228, "32334a1bb0d46cd72084f1cdc33ada1e645e0e227928fe2ff7ca3e87fa72b8fe"),
        FileSpec("12k_Drive_End_IR014_3_172.mat.gz", 1012934, "14422453b660d1e4edf9ef4f5197740a760810410ecace69fc1fe71f8f000dc1"),
        FileSpec("12k_Drive_End_IR021_0_209.mat.gz", 1160892, "029370fa430f06ebd3cf5d0df0ee730f08ca2fa2562891127e04d5c890cb5160"),
        FileSpec("12k_Drive_End_IR021_1_210.mat.gz", 1087812, "e7e5b6c38717800ae39b5fd1c28170e8b9bb9026facdd28036e6edbaaafaddfb"),
        FileSpec("12k_Drive_End_IR021_2_211.mat.gz", 1095277, "d55026f0cb445ac27aaee343bf549a7e59ca14709575983460e03a57fa49e641"),
        FileSpec("12k_Drive_End_IR021_3_212.mat.gz", 1088830, "43ec11d0f6d40776176470a58e05bcaeeae01547f967ce7c6fa3089c5536c527"),
        FileSpec("12k_Drive_End_OR007@6_0_130.mat.gz", 1171196, "b168cc2535a13d30c63ac833c767780518dde4b21973ce99398bb7df74957026"),
        FileSpec("12k_Drive_End_OR007@6_1_131.mat.gz", 1155693, "6caff5cdd2a7882139f1504c4c84d5f8b2e006811b03cc65e285c7cbfc2c6f91"),
        FileSpec("12k_Drive_End_OR007@6_2_132.mat.gz", 1131851, "0148cbe326d5e56dac03fcd2d6eb61f19c1505139b05dfcb3d4468f7c435fb43"),
        FileSpec("12k_Drive_End_OR007@6_3_133.mat.gz", 1161786, "f4cced95dd10afbcbd590656c71977854cae56df38cf2a6a9c06678bbf1540bd"),
        FileSpec("12k_Drive_End_OR014@6_0_197.mat.gz", 1090579, "f5d4193ce5575614e5487ebb4d5352d49a68a94b9917bbde3ad4b799a3b03d82"),
        FileSpec("12k_Drive_End_OR014@6_1_198.mat.gz", 1045714, "3f79ce0bd8084e6789686bd0b3685ef4f754dfc3dac21cb169dae345606a4bc4"),
        FileSpec("12k_Drive_End_OR014@6_2_199.mat.gz", 1044384, "07b9a4d09de8e3872011ce597c7776325809ca007c2b3c44e88fccc35efd01f5"),
        FileSpec("12k_Drive_End_OR014@6_3_200.mat.gz", 1059900, "6fd864dd353224cb68895f40adce4ba3824c2435b31bdcd5582637ead6c95d1f"),
        FileSpec("12k_Drive_End_OR021@6_0_234.mat.gz", 1059888, "aa4dd0a8ea81ff2090169b68be713fff81e07443807c1583610fc1e55c9804e7"),
        FileSpec("12k_Drive_End_OR021@6_1_235.mat.gz", 1036099, "3ed18649008934877dfe9e3a1acbad5874dbc315ee656d1ecb8bf8ed0daad7e0"),
        FileSpec("12k_Drive_End_OR021@6_2_236.mat.gz", 1041439, "5322f9bfdc0ebb79fc4b18b7c6274adfcde3b24067a93576fc9f715f09a62f6c"),
        FileSpec("12k_Drive_End_OR021@6_3_237.mat.gz", 1040959, "77eaba4fdaf48006d930a42d31c99a096fe10562520492c7800ff3aedc1f56e6"),
        FileSpec("normal_0_97.mat.gz", 1082265, "b30c77d7d81940cfa1de5721f40c4d3bff69565c46ba455d8f90deaf0896b4b3"),
    ), RAW),
)

# file number -> (load hp, rpm stored in the file, samples per channel), from the provenance record
COUNTS: dict[int, tuple[int, int, int]] = {
    97: (0, 1796, 243938), 105: (0, 1797, 121265), 106: (1, 1772, 121991), 107: (2, 1748, 122136),
    108: (3, 1721, 122917), 118: (0, 1796, 122571), 119: (1, 1772, 121410), 120: (2, 1748, 121556),
    121: (3, 1722, 121556), 130: (0, 1796, 121991), 131: (1, 1773, 122426), 132: (2, 1750, 121410),
    133: (3, 1725, 122571), 169: (0, 1796, 121846), 170: (1, 1774, 121846), 171: (2, 1752, 121846),
    172: (3, 1728, 121701), 185: (0, 1796, 121846), 186: (1, 1772, 122136), 187: (2, 1749, 121991),
    188: (3, 1724, 122136), 197: (0, 1796, 121846), 198: (1, 1772, 122136), 199: (2, 1749, 121846),
    200: (3, 1723, 121991), 209: (0, 1797, 122136), 210: (1, 1774, 121556), 211: (2, 1752, 121846),
    212: (3, 1728, 121991), 222: (0, 1796, 121991), 223: (1, 1774, 121701), 224: (2, 1754, 122136),
    225: (3, 1729, 122136), 234: (0, 1796, 122426), 235: (1, 1771, 121991), 236: (2, 1748, 122281),
    237: (3, 1721, 121991),
}


@dataclass(frozen=True, slots=True)
class CwruRecording:
    """One recording: drive-end (DE), fan-end (FE) and base (BA) accelerometers, (N,) float32 each.

    ``sample_rate_verified`` is False for the normal baseline (file 97): CWRU lists it apart from
    the 12 kHz fault data and some analyses report 48 kHz; treat mixing with care.
    """

    file_number: int
    file_name: str
    fault: str
    diameter_in: float | None
    load_hp: int
    rpm: float
    sample_rate_hz: float
    de: np.ndarray
    fe: np.ndarray
    ba: np.ndarray | None
    sample_rate_verified: bool = True

    @property
    def label(self) -> str:
        """Ten-class label used by the same-load protocol, e.g. ``inner_race_0.007`` or ``normal``."""
        return self.fault if self.diameter_in is None else f"{self.fault}_{self.diameter_in:.3f}"


@dataclass(frozen=True, slots=True)
class CwruData:
    recordings: tuple[CwruRecording, ...]


def parse_name(name: str) -> tuple[str, float | None, int, int]:
    """(fault, diameter in inch or None, load hp, file number) from a CWRU file name."""
    match = _NAME.match(name)
    if match is None:
        msg = f"CWRU: cannot read fault/load/number from file name {name!r}."
        raise DatasetError(msg)
    code, diameter, load, number = match.groups()
    if code is None:
        return "normal", None, int(load), int(number)
    return _FAULT_CODES[code], int(diameter) / 1000.0, int(load), int(number)


@overload
def _channel(mat: dict, number: int, suffix: str, path: Path, required: Literal[True] = True) -> np.ndarray: ...
@overload
def _channel(mat: dict, number: int, suffix: str, path: Path, required: bool) -> np.ndarray | None: ...
def _channel(mat: dict, number: int, suffix: str, path: Path, required: bool = True) -> np.ndarray | None:
    key = f"X{number:03d}_{suffix}_time"
    if key not in mat:
        if not required:
            return None
        msg = f"CWRU: {path} has no variable {key}; the file is not the original recording."
        raise DatasetError(msg)
    return np.asarray(mat[key], dtype=np.float32).ravel()


def read_recording(path: Path) -> CwruRecording:
    fault, diameter, load, number = parse_name(path.name)
    with gzip.open(path, "rb") as fh:
        mat = scipy.io.loadmat(fh)
    de = _channel(mat, number, "DE", path)
    fe = _channel(mat, number, "FE", path)
    ba = _channel(mat, number, "BA", path, required=fault != "normal")
    rpm_key = f"X{number:03d}RPM"
    rpm = float(np.asarray(mat.get(rpm_key, [[np.nan]])).ravel()[0])
    expected_load, expected_rpm, expected_n = COUNTS[number]
    check_count("CWRU", f"{path.name} samples per channel", int(de.shape[0]), expected_n)
    check_count("CWRU", f"{path.name} RPM", int(round(rpm)), expected_rpm)
    check_count("CWRU", f"{path.name} load (hp)", load, expected_load)
    return CwruRecording(
        file_number=number, file_name=path.name, fault=fault, diameter_in=diameter,
        load_hp=load, rpm=rpm, sample_rate_hz=FAULT_SAMPLE_RATE_HZ, de=de, fe=fe, ba=ba,
        sample_rate_verified=fault != "normal",
    )


def load(root: Path | str, verify: Verify = "full") -> CwruData:
    """Load all 37 recordings from ``root/cwru_bearing_12k_drive_end``."""
    verify_files(root, MANIFEST, verify)
    folder = dataset_folder(root, MANIFEST)
    recordings = tuple(read_recording(folder / spec.name) for spec in MANIFEST.files)
    check_count("CWRU", "number of recordings", len(recordings), len(COUNTS))
    return CwruData(recordings=tuple(sorted(recordings, key=lambda r: r.file_number)))
