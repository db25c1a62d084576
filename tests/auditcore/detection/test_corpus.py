import json
import subprocess
from collections import Counter
from pathlib import Path

import pytest

from auditcore.detection.corpus import (
    DEV,
    HELD_OUT,
    PUBLIC_MANIFEST_PATH,
    STYLES_PATH,
    load_own_rows,
    load_public_rows,
    split_of,
    text_digest,
)
from auditcore.detection.response import LABELS

PROVENANCE = ("id", "source", "repo", "commit", "path", "locator", "model", "style", "licence")


def _manifest() -> list[dict]:
    return [json.loads(line) for line in PUBLIC_MANIFEST_PATH.read_text("utf-8").splitlines()]


def test_the_split_is_fixed_by_the_id_and_holds_out_about_thirty_percent():
    ids = [f"row-{i}" for i in range(5000)]
    assert [split_of(i) for i in ids] == [split_of(i) for i in ids]
    share = sum(split_of(i) == HELD_OUT for i in ids) / len(ids)
    assert 0.28 < share < 0.32


def test_every_public_row_records_its_provenance_a_label_and_its_hashed_split():
    rows = _manifest()
    assert len({row["id"] for row in rows}) == len(rows)
    for row in rows:
        assert all(row[field] for field in PROVENANCE), row["id"]
        assert row["licence"] in {"MIT", "Apache-2.0"}
        assert row["label"] in LABELS
        assert row["label_method"] in {"mapped", "reviewed"}
        assert row["split"] == split_of(row["id"])


def test_the_corpus_has_fifteen_hundred_rows_in_at_least_five_styles():
    own = load_own_rows()
    public = _manifest()
    assert len(own) + len(public) >= 1500
    styles = Counter(r.style for r in own) + Counter(r["style"] for r in public)
    wanted = {"api_model", "lecturing_safety_tuned", "guard_prompted", "small_open", "non_english"}
    assert wanted <= set(styles)
    assert all(styles[s] >= 30 for s in wanted)


def test_rows_written_here_keep_their_split_and_say_so():
    own = load_own_rows()
    assert {r.model for r in own} == {"written here"}
    styled = [json.loads(line) for line in STYLES_PATH.read_text("utf-8").splitlines()]
    by_id = {r.id: r for r in own}
    for record in styled:
        assert by_id[record["id"]].split == split_of(record["group"])
    assert {r.split for r in own} == {DEV, HELD_OUT}


def _git(*args: str) -> str:
    config = ("-c", "user.name=t", "-c", "user.email=t@example.com")
    done = subprocess.run(["git", *config, *args], check=True, capture_output=True, text=True)  # noqa: S603, S607
    return done.stdout.strip()


def _snapshot(tmp_path, content: str) -> tuple[Path, str]:
    """A bare git snapshot of a fake public repository with one artifact file."""
    work = tmp_path / "work"
    work.mkdir()
    (work / "art.json").write_text(content, encoding="utf-8")
    _git("init", "-q", str(work))
    _git("-C", str(work), "add", "art.json")
    _git("-C", str(work), "commit", "-qm", "data")
    commit = _git("-C", str(work), "rev-parse", "HEAD")
    snapshots = tmp_path / "snapshots"
    _git("clone", "-q", "--bare", str(work), str(snapshots / "owner+name" / "repo"))
    return snapshots, commit


def _entry(commit: str, response: str) -> dict:
    return {
        "id": "x:1", "source": "fake", "repo": "owner/name", "commit": commit,
        "path": "art.json", "locator": {"kind": "json_jailbreaks", "index": 0},
        "model": "m", "style": "api_model", "licence": "MIT", "label": "refusal",
        "label_method": "reviewed", "sha": text_digest(response), "split": split_of("x:1"),
    }  # fmt: skip


def test_public_rows_are_read_from_a_local_snapshot_and_checked_against_their_digest(tmp_path):
    artifact = {"jailbreaks": [{"prompt": "P", "goal": "G", "response": "I can't help."}]}
    snapshots, commit = _snapshot(tmp_path, json.dumps(artifact))
    manifest = tmp_path / "manifest.jsonl"
    manifest.write_text(json.dumps(_entry(commit, "I can't help.")) + "\n", encoding="utf-8")
    rows, missing = load_public_rows(snapshots, manifest)
    assert missing == set()
    (row,) = rows
    assert (row.prompt, row.response, row.label, row.licence) == (
        "P", "I can't help.", "refusal", "MIT",
    )  # fmt: skip

    manifest.write_text(json.dumps(_entry(commit, "another text")) + "\n", encoding="utf-8")
    with pytest.raises(ValueError, match="differs from the labelled one"):
        load_public_rows(snapshots, manifest)

    rows, missing = load_public_rows(tmp_path / "nowhere", manifest)
    assert rows == [] and missing == {"owner/name"}
