"""Ultralytics, kept offline and out of the user's home folder.

Ultralytics reads its environment once, at import: it checks for internet access (a DNS
lookup), keeps a settings file and run folders under ``~/.config/Ultralytics``, may pip-install
missing packages, sends anonymous usage events, and downloads an Arial font the first time a
dataset is checked. PlantPulse runs on plant networks without internet access, so before the
first import this module:

- points ``YOLO_CONFIG_DIR`` (and, unless set, matplotlib's ``MPLCONFIGDIR``) at a folder inside
  the PlantPulse home (or a temporary folder);
- sets ``YOLO_OFFLINE=1`` (no online check, no usage events, no update checks) and
  ``YOLO_AUTOINSTALL=0`` (never pip-install at run time);
- turns off sync and every experiment-tracker integration in the Ultralytics settings;
- places a local font (DejaVu Sans from matplotlib, which Ultralytics already depends on) under
  the names Ultralytics looks for, so its font check finds a file and never downloads one;
- puts back Pillow's own ``Image.open``, which Ultralytics replaces at import with a wrapper that
  tries to install an extra package (HEIF support) whenever Pillow cannot identify a file.

Training is always started from a model YAML or an explicit weights path, never from a bare
model name, so no weight download is ever attempted. ``tests/model/weld/test_runtime.py`` runs a
training, validation, prediction and export with the socket layer blocked to check this.
"""

from __future__ import annotations

import os
import shutil
import sys
import tempfile
from pathlib import Path
from types import ModuleType

ENV_CONFIG_DIR = "YOLO_CONFIG_DIR"
_OFFLINE_ENV = {"YOLO_OFFLINE": "1", "YOLO_AUTOINSTALL": "0"}
_INTEGRATIONS = ("clearml", "comet", "dvc", "mlflow", "raytune", "tensorboard", "wandb")
_FONT_NAMES = ("Arial.ttf", "Arial.Unicode.ttf")
_state: dict[str, Path] = {}


def _local_font() -> Path | None:
    """DejaVu Sans as shipped inside matplotlib, or None when it cannot be found."""
    try:
        import matplotlib
    except ImportError:  # pragma: no cover - matplotlib is a dependency of ultralytics
        return None
    font = Path(matplotlib.get_data_path()) / "fonts" / "ttf" / "DejaVuSans.ttf"
    return font if font.is_file() else None


def _install_fonts(config_dir: Path) -> None:
    font = _local_font()
    if font is None:
        return
    for name in _FONT_NAMES:
        target = config_dir / name
        if not target.exists():
            shutil.copyfile(font, target)


def _force_offline_flags() -> None:
    """If Ultralytics was imported before us, switch its cached online flags off too."""
    for module_name in ("ultralytics.utils", "ultralytics.utils.checks", "ultralytics.utils.events",
                        "ultralytics.hub.utils"):
        module = sys.modules.get(module_name)
        if module is not None and getattr(module, "ONLINE", False):
            vars(module)["ONLINE"] = False  # a module's attributes live in its __dict__


def _restore_pillow_open() -> None:
    from PIL import Image

    patches = sys.modules.get("ultralytics.utils.patches")
    original = getattr(patches, "_image_open", None)
    if original is not None and Image.open is not original:
        Image.open = original


def default_state_dir() -> Path:
    """A private temporary folder, used when no PlantPulse home is given."""
    return Path(tempfile.gettempdir()) / f"plantpulse-ultralytics-{os.getuid()}"


def ultralytics(state_dir: Path | None = None) -> ModuleType:
    """Import Ultralytics configured for offline use and return the package.

    Args:
        state_dir: folder for Ultralytics' settings, fonts and default runs, e.g.
            ``<PlantPulse home>/ultralytics``. The first call decides; later calls reuse it.
    """
    if "dir" not in _state:
        base = Path(state_dir) if state_dir is not None else default_state_dir()
        base.mkdir(parents=True, exist_ok=True)
        _state["dir"] = base
        if "ultralytics" not in sys.modules:
            os.environ[ENV_CONFIG_DIR] = str(base)
        if "matplotlib" not in sys.modules:  # its font cache, too, stays out of the home folder
            os.environ.setdefault("MPLCONFIGDIR", str(base / "matplotlib"))
        os.environ.update(_OFFLINE_ENV)
    import ultralytics as package
    from ultralytics.utils import SETTINGS, USER_CONFIG_DIR

    _force_offline_flags()
    _restore_pillow_open()
    _install_fonts(Path(USER_CONFIG_DIR))
    base = _state["dir"]
    wanted = {"sync": False, "runs_dir": str(base / "runs"), "weights_dir": str(base / "weights"),
              "datasets_dir": str(base / "datasets"), **dict.fromkeys(_INTEGRATIONS, False)}
    if any(SETTINGS.get(key) != value for key, value in wanted.items()):
        SETTINGS.update(wanted)
    return package
