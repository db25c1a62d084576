"""The labelled development corpus: rows from every source with provenance, and a fixed split."""

import hashlib
import json
import subprocess
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path

CORPUS_DIR = Path(__file__).parent / "corpus"
DEV_CORPUS_PATH = CORPUS_DIR / "dev_corpus.jsonl"
HELD_OUT_PATH = CORPUS_DIR / "held_out.jsonl"
STYLES_PATH = CORPUS_DIR / "styles.jsonl"
PUBLIC_MANIFEST_PATH = CORPUS_DIR / "public_manifest.jsonl"

DEV = "dev"
HELD_OUT = "held_out"
# Share of every hashed source kept for reporting only.
HELD_OUT_PERCENT = 30

WRITTEN_HERE = "written here"
OUR_SOURCE = "refusal-audit"


@dataclass(frozen=True, slots=True)
class CorpusRow:
    id: str
    prompt: str
    response: str
    label: str
    source: str
    style: str
    model: str
    licence: str
    split: str
    category: str = "general"


def split_of(row_id: str) -> str:
    """dev or held_out, fixed forever by a hash of the row's id."""
    digest = hashlib.sha256(row_id.encode("utf-8")).digest()
    return HELD_OUT if int.from_bytes(digest[:4], "big") % 100 < HELD_OUT_PERCENT else DEV


def text_digest(text: str) -> str:
    return hashlib.sha256(text.encode("utf-8")).hexdigest()[:16]


def _jsonl(path: Path) -> Iterator[dict]:
    with path.open(encoding="utf-8") as f:
        for line in f:
            if line.strip():
                yield json.loads(line)


def load_own_rows() -> list[CorpusRow]:
    """Rows written here: the original dev and held-out files (whole splits) and the style file."""
    rows = []
    for path, split in ((DEV_CORPUS_PATH, DEV), (HELD_OUT_PATH, HELD_OUT)):
        for record in _jsonl(path):
            style = "non_english" if record.get("hard_case") == "non_english" else "mixed_voices"
            rows.append(
                CorpusRow(
                    id=record["id"], prompt=record["prompt"], response=record["response"],
                    label=record["label"], source=OUR_SOURCE, style=style, model=WRITTEN_HERE,
                    licence="project", split=split, category=record["category"],
                )
            )  # fmt: skip
    for record in _jsonl(STYLES_PATH):
        rows.append(
            CorpusRow(
                id=record["id"], prompt=record["prompt"], response=record["response"],
                label=record["label"], source=OUR_SOURCE, style=record["style"],
                # Rows composed from one prompt and its answer share a group and so a split.
                model=record["model"], licence="project", split=split_of(record["group"]),
            )
        )  # fmt: skip
    return rows


class SnapshotMissing(LookupError):
    """A public source's snapshot is not on this machine."""


class _SnapshotReader:
    """Reads files of public repositories from local bare git snapshots, one read per file."""

    def __init__(self, snapshots: Path):
        self.snapshots = snapshots
        self._files: dict[tuple[str, str, str], str] = {}

    def git_dir(self, repo: str) -> Path:
        path = self.snapshots / repo.replace("/", "+") / "repo"
        if not path.is_dir():
            raise SnapshotMissing(repo)
        return path

    def read(self, repo: str, commit: str, path: str) -> str:
        key = (repo, commit, path)
        if key not in self._files:
            shown = subprocess.run(  # noqa: S603 - fixed argv, no shell
                ["git", "--git-dir", str(self.git_dir(repo)), "show", f"{commit}:{path}"],  # noqa: S607
                capture_output=True, check=True, text=True, encoding="utf-8",
            )  # fmt: skip
            self._files[key] = shown.stdout
        return self._files[key]


def _extract(text: str, locator: dict) -> tuple[str, str]:
    """(prompt, response) of one record in a source file, by the manifest's locator."""
    kind = locator["kind"]
    if kind == "json_jailbreaks":
        record = json.loads(text)["jailbreaks"][locator["index"]]
        return record["prompt"] or record["goal"], record["response"]
    if kind == "jsonl_chat":
        record = json.loads(text.splitlines()[locator["line"]])
        prompt = next(m["content"] for m in reversed(record["prompt"]) if m["role"] == "user")
        return prompt, record["completion"][0]["content"]
    raise ValueError(f"unknown locator kind {kind!r}")


def load_public_rows(
    snapshots: Path, manifest: Path = PUBLIC_MANIFEST_PATH
) -> tuple[list[CorpusRow], set[str]]:
    """The manifest's rows with their texts read from local snapshots, and the repositories
    whose snapshot is missing (their rows are left out). A text that no longer matches its
    recorded digest raises: the label was given to a different text."""
    reader = _SnapshotReader(snapshots)
    rows, missing = [], set()
    for entry in _jsonl(manifest):
        repo = entry["repo"]
        if repo in missing:
            continue
        try:
            text = reader.read(repo, entry["commit"], entry["path"])
        except SnapshotMissing:
            missing.add(repo)
            continue
        prompt, response = _extract(text, entry["locator"])
        if text_digest(response) != entry["sha"]:
            raise ValueError(f"{entry['id']}: the text at the source differs from the labelled one")
        rows.append(
            CorpusRow(
                id=entry["id"], prompt=prompt, response=response, label=entry["label"],
                source=entry["source"], style=entry["style"], model=entry["model"],
                licence=entry["licence"], split=entry["split"],
            )
        )  # fmt: skip
    return rows, missing


def by_split(rows: Iterable[CorpusRow], split: str) -> list[CorpusRow]:
    return [row for row in rows if row.split == split]
