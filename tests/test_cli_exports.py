"""The command line's ``--exports LOCATION`` and ``--storage-option KEY=VALUE``: the exports
location of ``galaxlite.Database(path, exports=...)``, on every command whose exports matter,
run as real subprocesses (the object store: tests/test_s3_exports.py)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from helpers import gl, ok, one_line_error

import galaxlite

EXPORTS_COMMANDS = ["query", "shell", "export", "exports", "verify", "info", "gc", "check", "backup"]


@pytest.fixture
def data(tmp_path) -> str:
    """A directory database with a table and a tag."""
    path = str(tmp_path / "data")
    ok(path, "CREATE TABLE docs (id INTEGER PRIMARY KEY, body TEXT, label INTEGER);"
             "INSERT INTO docs (body, label) VALUES ('a', 1), ('b', 0), ('c', 1);"
             "CREATE VERSION TAG 'v1'")
    return path


def test_export_to_a_folder_named_by_exports_and_verify_it_there(data, tmp_path):
    elsewhere = tmp_path / "elsewhere"
    out = gl("export", data, "t1", "--seed", "3", "--exports", str(elsewhere))
    assert out.returncode == 0, out.stderr
    assert f"exported (float32, shuffled with seed 3) to {elsewhere}/t1-" in out.stdout
    (folder,) = elsewhere.iterdir()
    assert (folder / "docs.lance").is_dir()
    assert not (tmp_path / "data" / "exports").exists()  # nothing in the default folder
    verified = ok("verify", data, "--exports", str(elsewhere)).splitlines()
    assert verified[0].startswith(f"ok: t1/docs (float32) {folder}/docs.lance: 3 rows, blake3:")
    assert verified[-1] == "ok: 1 export dataset(s) intact"
    # without --exports the datasets are looked for next to the database: missing
    proc = gl("verify", data)
    assert proc.returncode == 1 and proc.stdout.startswith("missing: t1/docs")
    # an existing tag, exported there too: the same data as at tag time
    assert gl("export", data, "--tag", "v1", "--exports", str(elsewhere)).returncode == 0
    with galaxlite.Database(data, exports=elsewhere) as db:
        records = {e.tag: e for e in db.exports()}
        assert galaxlite.content_hash(records["v1"].path) == records["v1"].content_hash
        assert Path(records["t1"].path).parent == folder
    listed = json.loads(ok("exports", data, "--format", "json", "--exports", str(elsewhere)))
    assert sorted(r["tag"] for r in listed) == ["t1", "v1"]
    assert all(r["dataset"].startswith(str(elsewhere)) for r in listed)
    assert f"exports   {elsewhere} (2 datasets in 2 exports)" in ok("info", data, "--exports", str(elsewhere))


def test_sql_and_the_shell_export_to_the_folder_too(data, tmp_path):
    there = tmp_path / "there"
    ok(data, "CREATE VERSION TAG 'q' FOR TRAINING", "--exports", str(there))
    ok("shell", data, "--exports", str(there), stdin="CREATE VERSION TAG 's' FOR TRAINING;\n")
    assert sorted(p.name.split("-")[0] for p in there.iterdir()) == ["q", "s"]
    assert ok("verify", data, "--exports", str(there)).endswith("ok: 2 export dataset(s) intact\n")
    # gc, check and backup open the same location (backup copies the exports it finds there)
    assert "freed" in ok("gc", data, "--before", "q", "--exports", str(there))
    assert ok("check", data, "--exports", str(there)).startswith("ok:")
    copy = tmp_path / "copy"
    ok("backup", data, str(copy), "--exports", str(there))
    with galaxlite.Database(copy) as db:
        assert [r.ok for r in db.verify_export()] == [True, True]


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--storage-option", "aws_region"], "Invalid value for '--storage-option': expected KEY=VALUE, got 'aws_region'"),
        (["--storage-option", "=x", "--exports", "s3://b/p"], "'--storage-option': expected KEY=VALUE, got '=x'"),
        (["--exports", "gs://bucket/prefix"], "Invalid value for '--exports': gs:// is not supported"),
        (["--exports", ""], "Invalid value for '--exports': the exports location must not be empty"),
        (["--storage-option", "aws_region=eu-west-1"], "--storage-option goes with an object store --exports"),
        (["--exports", "folder", "--storage-option", "a=b"], "--storage-option goes with an object store --exports"),
    ],
)
def test_bad_values_are_usage_errors_naming_the_option_and_change_nothing(data, tmp_path, args, message):
    for command in ("export", "verify"):
        proc = gl(command, data, *(["t2"] if command == "export" else []), *args)
        assert message in one_line_error(proc, 2)
    with galaxlite.Database(data) as db:
        assert [t.name for t in db.tags()] == ["v1"]
    assert not (tmp_path / "folder").exists()


def test_every_command_whose_exports_matter_documents_the_options():
    for command in EXPORTS_COMMANDS:
        text = ok(command, "--help")
        assert "--exports LOCATION" in text and "--storage-option KEY=VALUE" in text, command
