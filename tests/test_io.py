import errno
import os

import pytest

from glassnet._io import atomic_write_bytes, atomic_write_text


def test_atomic_write_replaces_the_file_and_leaves_no_temporary(tmp_path):
    target = tmp_path / "a.txt"
    atomic_write_text(target, "old")
    atomic_write_text(target, "new")
    assert target.read_text() == "new"
    assert [p.name for p in tmp_path.iterdir()] == ["a.txt"]


def test_a_folder_that_cannot_take_the_file_is_named_not_the_temporary(tmp_path):
    target = tmp_path / "missing" / "model.onnx"
    with pytest.raises(OSError) as info:
        atomic_write_bytes(target, b"x")
    assert str(target) in str(info.value) and ".tmp" not in str(info.value)
    assert info.value.errno == errno.ENOENT


def test_names_up_to_255_bytes_can_be_written(tmp_path):
    """The temporary beside the target is named from at most 100 bytes of its name."""
    from glassnet._io import atomic_directory

    for name in ("a" * 255, "é" * 127):
        atomic_write_text(tmp_path / name, "x")
        with atomic_directory(tmp_path / (name[:-4] + ".dir"), ()) as tmp:
            (tmp / "f").write_text("y")
    assert len(list(tmp_path.iterdir())) == 4


def test_temporaries_of_a_killed_writer_are_removed_by_the_next_save(tmp_path):
    import subprocess
    import sys

    dead = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"], capture_output=True, text=True)
    pid = int(dead.stdout)
    (tmp_path / f".m.{pid}.abc.tmp").mkdir()
    (tmp_path / f".a.txt.{pid}.xyz.tmp").write_text("half")
    (tmp_path / f".a.txt.{os.getpid()}.live.tmp").write_text("ours, alive")
    atomic_write_text(tmp_path / "a.txt", "new")
    from glassnet._io import atomic_directory

    with atomic_directory(tmp_path / "m", ()) as tmp:
        (tmp / "f").write_text("y")
    assert sorted(p.name for p in tmp_path.iterdir()) == [f".a.txt.{os.getpid()}.live.tmp", "a.txt", "m"]
