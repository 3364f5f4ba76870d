import errno

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
