"""Upload guards: zip bombs, member counts, path traversal, links, nested archives, size."""

from __future__ import annotations

import io
import os
import stat
import zipfile
from pathlib import Path

import pytest

from plantpulse.connectors.images.archive import ArchiveLimits, open_upload
from plantpulse.data.core.errors import InputDataError, UploadRejectedError


def _zip(path: Path, members: list[tuple[str | zipfile.ZipInfo, bytes]]) -> Path:
    with zipfile.ZipFile(path, "w", compression=zipfile.ZIP_DEFLATED) as archive:
        for name, data in members:
            archive.writestr(name, data)
    return path


def _symlink(name: str) -> zipfile.ZipInfo:
    info = zipfile.ZipInfo(name)
    info.external_attr = (stat.S_IFLNK | 0o777) << 16
    return info


def _inner_zip() -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as inner:
        inner.writestr("a.txt", b"x")
    return buffer.getvalue()


@pytest.mark.parametrize(
    ("members", "limits", "match"),
    [([("bomb.png", b"\0" * 5_000_000)], ArchiveLimits(), "zip bomb"),
     ([(f"{i}.png", b"x") for i in range(6)], ArchiveLimits(max_zip_members=5), "6 members"),
     ([("../evil.png", b"x")], ArchiveLimits(), "climbs out"),
     ([("/etc/evil.png", b"x")], ArchiveLimits(), "absolute path"),
     ([("..\\evil.png", b"x")], ArchiveLimits(), "climbs out"),
     ([(_symlink("link.png"), b"/etc/passwd")], ArchiveLimits(), "symbolic link"),
     ([("inner.zip", _inner_zip())], ArchiveLimits(), "archive inside"),
     ([("big.png", b"\1" * 2_000_000)], ArchiveLimits(max_upload_mb=1), "unpacks to")],
    ids=["ratio", "members", "dotdot", "absolute", "backslash", "symlink", "nested-name", "unpacked-size"],
)
def test_dangerous_zips_are_refused(tmp_path: Path, members: list, limits: ArchiveLimits, match: str) -> None:
    path = _zip(tmp_path / "upload.zip", members)
    with pytest.raises(UploadRejectedError, match=match), open_upload(path, "upload.zip", limits):
        pass


def test_nested_zip_hidden_under_an_image_name_is_refused_on_read(tmp_path: Path) -> None:
    path = _zip(tmp_path / "upload.zip", [("photo.png", _inner_zip())])
    with open_upload(path, "upload.zip", ArchiveLimits()) as [entry]:
        with pytest.raises(UploadRejectedError, match="archive inside the archive"):
            entry.read()


def test_oversized_upload_and_broken_zip(tmp_path: Path) -> None:
    path = _zip(tmp_path / "u.zip", [("a.png", os.urandom(1_500_000))])
    with pytest.raises(UploadRejectedError, match="upload limit of 1 MB"), open_upload(path, "u.zip", ArchiveLimits(max_upload_mb=1)):
        pass
    broken = tmp_path / "broken.zip"
    broken.write_bytes(path.read_bytes()[:200])
    with pytest.raises(InputDataError, match="not a readable zip"), open_upload(broken, "broken.zip", ArchiveLimits()):
        pass


def test_plain_zip_and_folder_list_their_files(tmp_path: Path) -> None:
    path = _zip(tmp_path / "ok.zip", [("images/a.png", b"1"), ("labels/a.txt", b"0 0.5 0.5 0.1 0.1")])
    with open_upload(path, "ok.zip", ArchiveLimits()) as entries:
        assert [(e.name, e.read()) for e in entries] == [("images/a.png", b"1"), ("labels/a.txt", b"0 0.5 0.5 0.1 0.1")]
    folder = tmp_path / "f"
    (folder / "sub").mkdir(parents=True)
    (folder / "sub" / "x.png").write_bytes(b"1")
    (folder / "link.png").symlink_to(folder / "sub" / "x.png")
    with open_upload(folder, "f", ArchiveLimits()) as entries:
        assert [(e.name, e.read()) for e in entries] == [("sub/x.png", b"1")]
