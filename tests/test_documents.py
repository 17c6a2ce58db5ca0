import os
import stat

import pytest

from idnopt.documents import read_document, write_atomic
from idnopt.errors import InputError


def test_line_numbers_of_nested_locations(tmp_path):
    path = tmp_path / "doc.yaml"
    path.write_text("a: 1\nitems:\n  - name: x\n    value: 2\n  - {name: y, value: 3}\n")
    document = read_document(path)
    assert document.line_of(("items", 0, "value")) == 4
    assert document.line_of(("items", 1, "name")) == 5
    assert document.line_of(("items", 7)) == 2  # nearest known parent
    error = document.error(("items", 1, "value"), "too large")
    assert str(error) == f"{path}:5: items[1].value: too large"


@pytest.mark.parametrize(
    "content, words",
    [
        ("", "file is empty"),
        ("a: [1, 2\n", "invalid YAML"),
        (b"\xff\xfe\x00", "not a UTF-8 text file"),
    ],
)
def test_unreadable_documents(tmp_path, content, words):
    path = tmp_path / "doc.yaml"
    path.write_bytes(content if isinstance(content, bytes) else content.encode())
    with pytest.raises(InputError, match=words):
        read_document(path)


def test_directory_and_missing(tmp_path):
    with pytest.raises(InputError, match="is a directory"):
        read_document(tmp_path)
    with pytest.raises(InputError, match="file not found"):
        read_document(tmp_path / "missing.yaml")


def test_write_atomic_leaves_nothing_half_written(tmp_path, monkeypatch):
    target = tmp_path / "out.json"
    write_atomic(target, "first")
    mode = stat.S_IMODE(os.stat(target).st_mode)
    assert mode & stat.S_IRGRP  # not the 0600 of a temporary file

    def failing_replace(source, destination):
        raise OSError("disk full")

    monkeypatch.setattr("idnopt.documents.os.replace", failing_replace)
    with pytest.raises(OSError, match="disk full"):
        write_atomic(target, "second")
    monkeypatch.undo()
    assert target.read_text() == "first"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["out.json"]
    with pytest.raises(InputError, match="output folder does not exist"):
        write_atomic(tmp_path / "nope" / "out.json", "x")
