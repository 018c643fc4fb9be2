"""The pygit2 adapter: refs, trees and blobs without a checkout, diffs, errors."""

from __future__ import annotations

from pathlib import Path

import pygit2
import pytest

from specops._errors import SpecError, SpecOpsError
from specops._git import GitRepo, NotARepositoryError, UnknownRefError, blob_id, walk_spec_files
from tests.helpers.git import AUTHOR, commit


def test_discovers_the_repository_from_a_subdirectory(example_repo: Path) -> None:
    repo = GitRepo.discover(example_repo / "specs" / "models")
    assert repo.workdir.resolve() == example_repo.resolve()
    assert repo.git_dir.name == ".git"


def test_outside_a_repository_is_a_clear_error(tmp_path: Path) -> None:
    with pytest.raises(NotARepositoryError, match="not inside a git repository"):
        GitRepo.discover(tmp_path)


def test_unknown_ref_names_the_ref(example_repo: Path) -> None:
    repo = GitRepo.discover(example_repo)
    with pytest.raises(UnknownRefError, match="'no-such-branch'") as info:
        repo.resolve("no-such-branch")
    assert isinstance(info.value, SpecOpsError)


def test_empty_repository_says_there_are_no_commits(repo: Path) -> None:
    with pytest.raises(UnknownRefError, match="no commits yet"):
        GitRepo.discover(repo).resolve("HEAD")


def test_resolve_gives_commit_and_tree(example_repo: Path) -> None:
    git = pygit2.Repository(str(example_repo))
    snap = GitRepo.discover(example_repo).resolve("main")
    head = git.head.peel(pygit2.Commit)
    assert (snap.commit, snap.tree) == (str(head.id), str(head.tree_id))


def test_spec_blobs_read_the_tree_not_the_disk(example_repo: Path) -> None:
    repo = GitRepo.discover(example_repo)
    commit(example_repo, {"specs/.hidden/x.yaml": "a: 1\n", "specs/notes.txt": "hi", "other/y.yaml": "b: 2\n"})
    (example_repo / "specs" / "models" / "fraud-scorer.yaml").unlink()  # not committed
    blobs = dict(repo.spec_blobs(repo.resolve("HEAD").tree, "specs"))
    assert "specs/models/fraud-scorer.yaml" in blobs
    assert not any(".hidden" in p or p.endswith(".txt") or p.startswith("other/") for p in blobs)
    assert list(blobs) == sorted(blobs)
    raw = repo.read_blob(blobs["specs/models/fraud-scorer.yaml"])
    assert b"kind: Model" in raw
    assert blob_id(raw) == blobs["specs/models/fraud-scorer.yaml"]


def test_missing_specs_root_is_empty(example_repo: Path) -> None:
    repo = GitRepo.discover(example_repo)
    assert repo.spec_blobs(repo.resolve().tree, "nowhere") == []


def test_worktree_blobs_use_git_blob_ids(example_repo: Path) -> None:
    repo = GitRepo.discover(example_repo)
    (example_repo / "specs" / "extra.yml").write_text("kind: x\n", encoding="utf-8")
    files = {path: (blob, data) for path, blob, data in repo.worktree_blobs("specs")}
    committed = dict(repo.spec_blobs(repo.resolve().tree, "specs"))
    assert "specs/extra.yml" in files
    for path, blob in committed.items():
        assert files[path][0] == blob


def test_diff_is_restricted_to_the_specs_root(example_repo: Path) -> None:
    repo = GitRepo.discover(example_repo)
    base = repo.resolve()
    old = (example_repo / "specs/prompts/fraud-case-summary.yaml").read_text(encoding="utf-8")
    commit(
        example_repo,
        {
            "specs/new.yaml": "kind: x\n",
            "specs/slos/fraud-scorer.yaml": None,
            "specs/targets/local-cpu.yaml": (example_repo / "specs/targets/local-cpu.yaml")
            .read_text(encoding="utf-8")
            .replace("2048", "4096"),
            "specs/prompts/fraud-case-summary.yaml": None,
            "specs/prompts/renamed.yaml": old,
            "README.md": "outside the root",
        },
    )
    changes = {(c.status, c.old_path, c.new_path) for c in repo.diff(base, repo.resolve(), "specs")}
    assert changes == {
        ("A", None, "specs/new.yaml"),
        ("D", "specs/slos/fraud-scorer.yaml", None),
        ("M", "specs/targets/local-cpu.yaml", "specs/targets/local-cpu.yaml"),
        ("R", "specs/prompts/fraud-case-summary.yaml", "specs/prompts/renamed.yaml"),
    }


def test_commits_between_base_and_head_name_their_authors(tmp_path: Path) -> None:
    repo = GitRepo.init(tmp_path / "r", "main")
    (tmp_path / "r" / "a.txt").write_text("1")
    base = repo.commit_all("base", "Ada", "ada@example.invalid")
    (tmp_path / "r" / "a.txt").write_text("2")
    middle = repo.commit_all("second change\n\nbody", "Bo", "bo@example.invalid")
    (tmp_path / "r" / "b.txt").write_text("3")
    head = repo.commit_all("third change", "Cy", "cy@example.invalid")
    between = repo.commits(head, base)
    assert [c["id"] for c in between] == [head, middle], "newest first, the base excluded"
    assert [(c["author"], c["email"], c["summary"]) for c in between] == [
        ("Cy", "cy@example.invalid", "third change"),
        ("Bo", "bo@example.invalid", "second change"),
    ]
    assert [c["id"] for c in repo.commits(head)] == [head], "without a base: the head commit alone"
    assert len(repo.commits(head, base, limit=1)) == 1
    assert repo.commits("0" * 40, base) == [], "a commit a shallow clone lacks is no error"
    assert GitRepo.discover(tmp_path / "r").head_commit() == head


def test_export_writes_a_file_or_a_directory_as_it_was_at_a_commit(example_repo: Path, tmp_path: Path) -> None:
    repo = GitRepo.discover(example_repo)
    first = commit(example_repo, {"policies/a.rego": "package a\n", "policies/sub/b.rego": "package b\n"}, "p")
    commit(example_repo, {"policies/a.rego": "package changed\n", "policies/sub/b.rego": None}, "edit")
    dest = tmp_path / "out"
    assert repo.export(first, "policies", dest) == 2
    assert (dest / "policies/a.rego").read_text() == "package a\n"
    assert (dest / "policies/sub/b.rego").read_text() == "package b\n"
    assert repo.export("HEAD", "policies/a.rego", tmp_path / "head") == 1
    assert (tmp_path / "head/policies/a.rego").read_text() == "package changed\n"
    assert repo.export("HEAD", "policies/sub", tmp_path / "none") == 0
    assert not (tmp_path / "none").exists()


# -- links and submodules: reported, never followed or skipped ------------------------


def _commit_tree_with(repo: Path, entries: dict[str, tuple[bytes | pygit2.Oid, int]]) -> str:
    """Commit HEAD's tree plus ``entries`` (path -> (blob bytes or object id, file mode)) under specs/."""
    git = pygit2.Repository(str(repo))
    git.index.read()
    for path, (content, mode) in entries.items():
        oid = git.create_blob(content) if isinstance(content, bytes) else content
        git.index.add(pygit2.IndexEntry(path, oid, mode))
    git.index.write()
    tree = git.index.write_tree()
    return str(git.create_commit("HEAD", AUTHOR, AUTHOR, "entries", tree, [git.head.target]))


def test_tree_listing_reports_links_by_where_they_point(example_repo: Path) -> None:
    link = pygit2.enums.FileMode.LINK
    _commit_tree_with(
        example_repo,
        {
            "specs/up.yaml": (b"../../etc/passwd", link),
            "specs/abs.yaml": (b"/etc/passwd", link),
            "specs/models/in.yaml": (b"../targets/local-cpu.yaml", link),
            "specs/dir": (b"../docs", link),
            "specs/.hidden/x.yaml": (b"/etc/passwd", link),
            "specs/.editorconfig": (b"/etc/passwd", link),
            "specs/mod": (pygit2.Oid(hex="2" * 40), pygit2.enums.FileMode.COMMIT),
        },
    )
    repo = GitRepo.discover(example_repo)
    listing, problems = repo.spec_tree_listing(repo.resolve().tree, "specs")
    assert [(d.path, d.code) for d in problems] == [
        ("specs/abs.yaml", "symlink_outside"),
        ("specs/dir", "symlink"),  # ../docs from specs/ is docs/, inside the repository
        ("specs/mod", "submodule"),
        ("specs/models/in.yaml", "symlink"),
        ("specs/up.yaml", "symlink_outside"),
    ]
    assert "specs/models/fraud-scorer.yaml" in dict(listing)  # the regular files are still listed
    with pytest.raises(SpecError) as caught:
        repo.spec_blobs(repo.resolve().tree, "specs")
    assert len(caught.value.errors) == 5


def test_worktree_walk_reports_links_and_nested_repositories(example_repo: Path, tmp_path: Path) -> None:
    (example_repo / "specs" / "out.yaml").symlink_to(tmp_path)
    # Any name: in a tree a link to a directory and one to a file look the same.
    (example_repo / "specs" / "notes.txt").symlink_to("/etc/passwd")
    (example_repo / "specs" / ".editorconfig").symlink_to("/etc/passwd")  # hidden, not a spec name
    pygit2.init_repository(str(example_repo / "specs" / "nested"))
    files, problems = walk_spec_files(example_repo / "specs", example_repo)
    assert [(d.path, d.code) for d in problems] == [
        ("specs/nested", "submodule"),
        ("specs/notes.txt", "symlink_outside"),
        ("specs/out.yaml", "symlink_outside"),
    ]
    assert all(not f.is_symlink() for f in files) and len(files) == 6
    with pytest.raises(SpecError):
        GitRepo.discover(example_repo).worktree_blobs("specs")


def test_file_reader_reads_at_the_snapshot_or_stands_for_the_work_tree(example_repo: Path) -> None:
    repo = GitRepo.discover(example_repo)
    snapshot = repo.resolve()
    (example_repo / "specs" / "artifacts" / "fraud-scorer-1.0.0.onnx").write_bytes(b"changed on disk")
    read = repo.file_reader(snapshot)
    assert read is not None and read("specs/artifacts/fraud-scorer-1.0.0.onnx") != b"changed on disk"
    assert repo.file_reader(None) is None
