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
        (b"kind: caf\xe9\n", "not a UTF-8 text file: byte 0xe9"),
        (b"\xff\xfek\x00", "the file is UTF-16-encoded; save it as UTF-8"),
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


def test_json_lines_are_found_only_when_a_problem_needs_them(tmp_path):
    path = tmp_path / "doc.json"
    path.write_text('{\n "a": 1,\n "items": [\n  {"name": "x"}\n ]\n}\n')
    document = read_document(path)
    assert document.find_lines is not None  # nothing parsed twice for a good file
    assert document.line_of(("items", 0, "name")) == 4 and document.find_lines is None
    deep = tmp_path / "deep.json"
    deep.write_text('{"a":\n' + "[" * 70 + "]" * 70 + "}\n")
    with pytest.raises(InputError, match=r"deep.json:2: document is nested more than 64"):
        read_document(deep)


def test_aliases_count_once_expanded_and_plain_large_files_pass(tmp_path, monkeypatch):
    monkeypatch.setattr("idnopt.documents.MAX_NODES", 100)
    shared = tmp_path / "shared.yaml"
    shared.write_text("base: &b [1, 2, 3]\nuses: [*b, *b, *b]\n")
    assert read_document(shared).data["uses"] == [[1, 2, 3]] * 3
    plain = tmp_path / "plain.yaml"  # more values than the alias budget, no alias
    plain.write_text("values: [" + ",".join(["1"] * 500) + "]\n")
    assert len(read_document(plain).data["values"]) == 500
    bomb = tmp_path / "bomb.yaml"
    bomb.write_text("a: &a [" + ",".join(["x"] * 30) + "]\nb: [*a, *a, *a, *a]\n")
    with pytest.raises(InputError, match=r"bomb.yaml:2: YAML aliases expand the document by"):
        read_document(bomb)
