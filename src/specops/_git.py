"""The one place SpecOps talks to pygit2.

Desired state is read from git objects, never from a checkout: a ref is
resolved to its commit and tree, and spec files are listed and read as blobs,
so ``plan --ref main`` works in any working tree state and a pull request can
be planned against its base without touching the disk. Worktree mode reads
the same paths from disk instead and names each file by the blob id git
*would* give it, so the parse cache serves both modes.

pygit2 raises ``KeyError``, ``ValueError`` and ``GitError`` for bad refs and
paths; they become ``GitError`` subclasses here, naming the ref or path.

Specs come only from inside the repository. Both listings, of a tree and of
the disk, refuse a symlink or a submodule under the specs root with a located
error instead of following or skipping it: git stores a link as its target
path (so a ref could never read what the disk follows), a link may leave the
repository, and a submodule's files are another repository's.
"""

from __future__ import annotations

import os
import posixpath
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import pygit2

from specops._disk import (
    SPEC_SUFFIXES,
    _is_spec,
    _reported_link,
    _submodule_problem,
    _symlink_problem,
    walk_spec_files,
)
from specops._errors import Diagnostic, SpecError, SpecOpsError

__all__ = [
    "SPEC_SUFFIXES",
    "FileChange",
    "GitError",
    "GitRepo",
    "NotARepositoryError",
    "RefMovedError",
    "Snapshot",
    "UnknownRefError",
    "blob_id",
    "walk_spec_files",
]

_BLOB = "blob"
_LINK_MODE = 0o120000
_GITLINK_MODE = 0o160000


class GitError(SpecOpsError):
    """A git operation failed."""


class NotARepositoryError(GitError):
    def __init__(self, path: Path) -> None:
        super().__init__(
            f"{path} is not inside a git repository "
            "(run it inside the repository or pass --repo PATH; `specops validate` needs no git)"
        )
        self.path = path


class UnknownRefError(GitError):
    def __init__(self, ref: str, detail: str = "") -> None:
        hint = detail or "check the branch, tag or commit name; `git fetch` may be needed in CI"
        super().__init__(f"unknown git ref {ref!r} ({hint})")
        self.ref = ref


@dataclass(frozen=True, slots=True)
class Snapshot:
    """A resolved ref: the commit it names and that commit's root tree."""

    ref: str
    commit: str
    tree: str


@dataclass(frozen=True, slots=True)
class FileChange:
    """One entry of a tree diff: status is ``A``dded, ``D``eleted, ``M``odified or ``R``enamed."""

    status: str
    old_path: str | None
    new_path: str | None
    old_blob: str | None
    new_blob: str | None


def blob_id(data: bytes) -> str:
    """The id git gives a blob with these bytes (so worktree files share the cache)."""
    return str(pygit2.hash(data))


def _read_regular(path: Path) -> bytes:
    """A file's bytes, refusing a link that appeared since the listing."""
    fd = os.open(path, os.O_RDONLY | getattr(os, "O_NOFOLLOW", 0))
    with os.fdopen(fd, "rb") as handle:
        return handle.read()


class GitRepo:
    """A repository opened by discovery from any path inside it."""

    def __init__(self, repo: pygit2.Repository) -> None:
        self._repo = repo

    @classmethod
    def discover(cls, path: Path | str = ".") -> GitRepo:
        start = Path(path).resolve()
        found = pygit2.discover_repository(str(start))
        if found is None:
            raise NotARepositoryError(start)
        try:
            return cls(pygit2.Repository(found))
        except pygit2.GitError as exc:  # a corrupt or unreadable .git
            raise GitError(f"cannot open the git repository at {found}: {exc}") from exc

    @property
    def git_dir(self) -> Path:
        return Path(self._repo.path)

    @property
    def workdir(self) -> Path:
        """The work tree's root; a bare repository has none, so its git dir stands in."""
        return Path(self._repo.workdir) if self._repo.workdir else self.git_dir

    def resolve(self, ref: str = "HEAD") -> Snapshot:
        """Resolve a branch, tag, commit id or revspec (``main~1``) to a commit and tree."""
        if ref == "HEAD" and self._repo.head_is_unborn:
            raise UnknownRefError(ref, "the repository has no commits yet; commit specs or use --worktree")
        try:
            obj = self._repo.revparse_single(ref)
            commit = obj.peel(pygit2.Commit)
        except (KeyError, ValueError, pygit2.GitError) as exc:
            raise UnknownRefError(ref) from exc
        return Snapshot(ref, str(commit.id), str(commit.tree_id))

    def _tree(self, tree_id: str) -> pygit2.Tree:
        tree = self._repo[tree_id]
        if not isinstance(tree, pygit2.Tree):
            raise GitError(f"object {tree_id} is not a tree")
        return tree

    def _subtree(self, tree_id: str, root: str) -> pygit2.Tree | None:
        tree = self._tree(tree_id)
        root = root.strip("/")
        if not root:
            return tree
        try:
            entry = tree[root]
        except KeyError:
            return None
        return entry if isinstance(entry, pygit2.Tree) else None

    def spec_blobs(self, tree_id: str, root: str) -> list[tuple[str, str]]:
        """``(path, blob id)`` of every spec file under ``root`` in a tree, sorted by path.

        Hidden directories are skipped, as ``discover`` skips them on disk. A
        symlink or a submodule under ``root`` raises ``SpecError`` locating each.
        """
        listing, problems = self.spec_tree_listing(tree_id, root)
        if problems:
            raise SpecError.of(problems)
        return listing

    def spec_tree_listing(
        self, tree_id: str, root: str
    ) -> tuple[list[tuple[str, str]], list[Diagnostic]]:
        """``spec_blobs`` with the refusals returned instead of raised."""
        prefix = root.strip("/")
        problems: list[Diagnostic] = []
        if prefix:
            try:
                top = self._tree(tree_id)[prefix]
            except KeyError:
                return [], []
            if top.filemode in (_LINK_MODE, _GITLINK_MODE):
                problems.append(self._entry_problem(prefix, top))
                return [], problems
        subtree = self._subtree(tree_id, root)
        if subtree is None:
            return [], []
        out: list[tuple[str, str]] = []
        stack: list[tuple[str, pygit2.Tree]] = [(prefix, subtree)]
        while stack:
            base, tree = stack.pop()
            for entry in tree:
                name = entry.name or ""
                path = f"{base}/{name}" if base else name
                if isinstance(entry, pygit2.Tree):
                    if not name.startswith("."):
                        stack.append((path, entry))
                elif entry.filemode in (_GITLINK_MODE, _LINK_MODE):
                    if _reported_link(name):
                        problems.append(self._entry_problem(path, entry))
                elif entry.type_str == _BLOB and _is_spec(name):
                    out.append((path, str(entry.id)))
        out.sort()
        problems.sort(key=Diagnostic.sort_key)
        return out, problems

    def _entry_problem(self, path: str, entry: pygit2.Object) -> Diagnostic:
        if entry.filemode == _GITLINK_MODE:
            return _submodule_problem(path)
        target = self.read_blob(str(entry.id)).decode("utf-8", "replace")
        resolved = posixpath.normpath(posixpath.join(posixpath.dirname(path), target))
        leaves = target.startswith("/") or resolved == ".." or resolved.startswith("../")
        return _symlink_problem(path, target, leaves)

    def has_dir(self, tree_id: str, path: str) -> bool:
        """Whether ``path`` is a directory in a tree."""
        return self._subtree(tree_id, path) is not None

    def has_path(self, tree_id: str, path: str) -> bool:
        """Whether a file exists at ``path`` in a tree (artifact checks in ref mode)."""
        try:
            return bool(self._tree(tree_id)[path].type_str == _BLOB)
        except (KeyError, GitError):
            return False

    def read_path(self, commit: str, path: str) -> bytes:
        """The bytes of the file at ``path`` in ``commit``'s tree (``GitError`` when there is none)."""
        try:
            tree = self._repo.revparse_single(commit).peel(pygit2.Tree)
            entry = tree[path]
        except (KeyError, ValueError, GitError, pygit2.GitError) as exc:
            raise GitError(f"{path} does not exist at {commit[:12]}") from exc
        if entry.type_str != _BLOB:
            raise GitError(f"{path} at {commit[:12]} is not a file")
        return self.read_blob(str(entry.id))

    def file_reader(self, snapshot: Snapshot | None) -> Callable[[str], bytes] | None:
        """What reads a repository path at ``snapshot``; None stands for the work tree."""
        if snapshot is None:
            return None
        commit = snapshot.commit
        return lambda path: self.read_path(commit, path)

    def export(self, commit: str, path: str, dest: Path) -> int:
        """Write the file or directory at ``path`` in ``commit``'s tree to ``dest / path``.

        Returns how many files were written: 0 when ``path`` is not in the
        tree. Git tree entries cannot name ``..`` or hold a ``/``, so nothing
        lands outside ``dest``.
        """
        try:
            tree = self._repo.revparse_single(commit).peel(pygit2.Tree)
            relative = path.strip("/")
            entry: pygit2.Object = tree[relative] if relative else tree
        except KeyError:
            return 0
        except (ValueError, pygit2.GitError) as exc:
            raise GitError(f"cannot read {path} at {commit[:12]}: {exc}") from exc
        written = 0
        stack: list[tuple[str, pygit2.Object]] = [(relative, entry)]
        while stack:
            at, obj = stack.pop()
            if isinstance(obj, pygit2.Tree):
                stack.extend((f"{at}/{child.name}" if at else str(child.name), child) for child in obj)
            elif obj.type_str == _BLOB:
                target = dest / at
                target.parent.mkdir(parents=True, exist_ok=True)
                target.write_bytes(self.read_blob(str(obj.id)))
                written += 1
        return written

    def read_blob(self, blob: str) -> bytes:
        try:
            obj = self._repo[blob]
        except (KeyError, ValueError) as exc:
            raise GitError(f"blob {blob} is missing from the repository (a shallow clone?)") from exc
        if not isinstance(obj, pygit2.Blob):
            raise GitError(f"object {blob} is not a file")
        return bytes(obj.data)

    def worktree_blobs(self, root: str) -> list[tuple[str, str, bytes]]:
        """``(path, blob id, bytes)`` of every spec file under ``root`` on disk, sorted by path.

        A symlink or a nested repository under ``root`` raises ``SpecError``.
        """
        base = self.workdir / root
        out: list[tuple[str, str, bytes]] = []
        if not base.is_dir() and not base.is_symlink():
            return out
        files, problems = walk_spec_files(base, self.workdir)
        if problems:
            raise SpecError.of(problems)
        for full in files:
            data = _read_regular(full)
            out.append((full.relative_to(self.workdir).as_posix(), blob_id(data), data))
        out.sort()
        return out

    def uncommitted(self, root: str) -> list[str]:
        """Spec files under ``root`` whose work-tree state differs from HEAD (edited, new, deleted).

        Uses git's status (the index's stat cache), so an unchanged tree costs no reads.
        """
        if self._repo.is_bare:
            return []
        prefix = root.strip("/") + "/"
        everywhere = prefix == "./"
        ignored = int(pygit2.enums.FileStatus.IGNORED)  # plain int tests: an IntFlag per entry costs 3 enum calls
        return sorted(
            path
            for path, flags in self._repo.status().items()
            if not int(flags) & ignored and _is_spec(path) and (everywhere or path.startswith(prefix))
        )

    def head_commit(self) -> str | None:
        if self._repo.head_is_unborn:
            return None
        return str(self._repo.head.peel(pygit2.Commit).id)

    def commits(self, head: str, base: str | None = None, limit: int = 250) -> list[dict[str, str]]:
        """Commits reachable from ``head`` and not from ``base``, newest first (``head`` alone without a base).

        Each is ``{id, author, email, committer, summary}``: what policies see of
        who changed the specs. Unknown commits give an empty list, not an error:
        a shallow CI clone may lack the base.
        """
        try:
            walker = self._repo.walk(head, pygit2.enums.SortMode.TOPOLOGICAL)
            if base is not None:
                walker.hide(base)
        except (KeyError, ValueError, pygit2.GitError):
            return []
        out: list[dict[str, str]] = []
        for commit in walker:
            out.append(
                {
                    "id": str(commit.id),
                    "author": commit.author.name,
                    "email": commit.author.email,
                    "committer": commit.committer.name,
                    "summary": commit.message.split("\n", 1)[0],
                }
            )
            if base is None or len(out) >= limit:
                break
        return out

    @classmethod
    def init(cls, path: Path, branch: str = "main") -> GitRepo:
        """A new repository with a work tree at ``path`` whose first branch is ``branch``."""
        return cls(pygit2.init_repository(str(path), initial_head=branch))

    def commit_all(self, message: str, name: str, email: str) -> str:
        """Stage every file of the work tree and commit it on HEAD; the new commit's id."""
        self._repo.index.add_all()
        self._repo.index.write()
        tree = self._repo.index.write_tree()
        who = pygit2.Signature(name, email)
        parents = [] if self._repo.head_is_unborn else [self._repo.head.target]
        return str(self._repo.create_commit("HEAD", who, who, message, tree, parents))

    def file_history(self, head: str, path: str, limit: int = 500) -> Iterator[tuple[str, bytes]]:
        """``(commit, bytes)`` of each distinct version of ``path`` reachable from ``head``, newest first."""
        try:
            walker = self._repo.walk(self._repo.revparse_single(head).peel(pygit2.Commit).id, pygit2.enums.SortMode.TIME)
        except (KeyError, ValueError, pygit2.GitError) as exc:
            raise UnknownRefError(head) from exc
        last: str | None = None
        for count, commit in enumerate(walker):
            if count >= limit:
                return
            try:
                entry = commit.tree[path]
            except KeyError:
                continue
            if entry.type_str != _BLOB or str(entry.id) == last:
                continue
            last = str(entry.id)
            yield str(commit.id), self.read_blob(last)

    def branch_commit(self, branch: str) -> str | None:
        """The commit a local branch points at, ``None`` when there is no such branch."""
        found = self._repo.branches.local.get(branch)
        return str(found.peel(pygit2.Commit).id) if found is not None else None

    def commit_files(self, branch: str, base: str, files: dict[str, bytes], message: str, name: str, email: str) -> str:
        """One commit on a new local ``branch`` from ``base`` with ``files`` (path -> bytes) written.

        Made from git objects alone: the work tree, the index and HEAD are left as they are.
        """
        try:
            parent = self._repo.revparse_single(base).peel(pygit2.Commit)
        except (KeyError, ValueError, pygit2.GitError) as exc:
            raise UnknownRefError(base) from exc
        index = pygit2.Index()
        index.read_tree(parent.tree)
        for path, data in files.items():
            index.add(pygit2.IndexEntry(path, self._repo.create_blob(data), pygit2.enums.FileMode.BLOB))
        tree = index.write_tree(self._repo)
        who = pygit2.Signature(name, email)
        commit = self._repo.create_commit(None, who, who, message, tree, [parent.id])
        try:
            self._repo.branches.local.create(branch, self._repo[commit].peel(pygit2.Commit))
        except (ValueError, pygit2.GitError) as exc:
            raise GitError(f"cannot create branch {branch}: {exc}") from exc
        return str(commit)

    def has_remote(self, name: str) -> bool:
        return name in [r.name for r in self._repo.remotes]

    def push(self, remote: str, branch: str) -> None:
        """Push a local branch to the same name on ``remote`` (``GitError`` with the reason)."""
        try:
            self._repo.remotes[remote].push([f"refs/heads/{branch}:refs/heads/{branch}"])
        except (KeyError, ValueError, pygit2.GitError) as exc:
            raise GitError(f"cannot push {branch} to {remote}: {exc}") from exc

    def diff(self, base: Snapshot, head: Snapshot, root: str) -> list[FileChange]:
        """Spec files added, deleted, modified or renamed under ``root`` from ``base`` to ``head``."""
        old = self._subtree(base.tree, root) or self._tree(self._empty_tree())
        new = self._subtree(head.tree, root) or self._tree(self._empty_tree())
        diff = old.diff_to_tree(new)
        diff.find_similar()
        prefix = root.strip("/") + "/" if root.strip("/") else ""
        return sorted(self._changes(diff, prefix), key=lambda c: c.new_path or c.old_path or "")

    @staticmethod
    def _changes(diff: pygit2.Diff, prefix: str) -> Iterator[FileChange]:
        for delta in diff.deltas:
            status = delta.status_char()
            old_path = prefix + delta.old_file.path
            new_path = prefix + delta.new_file.path
            if not (_is_spec(old_path) or _is_spec(new_path)):
                continue
            yield FileChange(
                status,
                None if status == "A" else old_path,
                None if status == "D" else new_path,
                None if status == "A" else str(delta.old_file.id),
                None if status == "D" else str(delta.new_file.id),
            )

    def _empty_tree(self) -> str:
        return str(self._repo.TreeBuilder().write())

    # --- refs outside branches (the evidence chain lives on refs/specops/evidence) ---

    def ref_target(self, ref: str) -> str | None:
        """The commit a full ref name points at, or ``None`` when the ref does not exist."""
        try:
            return str(self._repo.references[ref].peel(pygit2.Commit).id)
        except (KeyError, ValueError, pygit2.GitError):
            return None

    def files_at(self, commit: str, root: str = "") -> list[tuple[str, str]]:
        """``(path, blob id)`` of every file under ``root`` in ``commit``'s tree, sorted by path."""
        try:
            tree = self._repo[commit].peel(pygit2.Tree)
        except (KeyError, ValueError, pygit2.GitError) as exc:
            raise GitError(f"commit {commit[:12]} is missing from the repository: {exc}") from exc
        base = root.strip("/")
        if base:
            try:
                sub = tree[base]
            except KeyError:
                return []
            if not isinstance(sub, pygit2.Tree):
                return []
            tree = sub
        out: list[tuple[str, str]] = []
        stack: list[tuple[str, pygit2.Tree]] = [(base, tree)]
        while stack:
            at, node = stack.pop()
            for entry in node:
                path = f"{at}/{entry.name}" if at else str(entry.name)
                if isinstance(entry, pygit2.Tree):
                    stack.append((path, entry))
                elif entry.type_str == _BLOB:
                    out.append((path, str(entry.id)))
        out.sort()
        return out

    def commit_on_ref(
        self,
        ref: str,
        parent: str | None,
        add: dict[str, bytes],
        message: str,
        *,
        remove: tuple[str, ...] = (),
        name: str = "specops",
        email: str = "specops@localhost",
    ) -> str:
        """Commit ``parent``'s tree plus ``add`` minus ``remove`` and move ``ref`` to it.

        No work tree or index is touched. The ref moves only if it still points at
        ``parent`` (compare-and-swap), else ``RefMovedError``: another writer got there first.
        """
        index = pygit2.Index()
        if parent is not None:
            index.read_tree(self._repo[parent].peel(pygit2.Tree))
        for path in remove:
            index.remove(path)
        for path, data in add.items():
            index.add(pygit2.IndexEntry(path, self._repo.create_blob(data), pygit2.enums.FileMode.BLOB))
        tree = index.write_tree(self._repo)
        who = pygit2.Signature(name, email)
        parents = [pygit2.Oid(hex=parent)] if parent is not None else []
        oid = self._repo.create_commit(None, who, who, message, tree, parents)
        if self.ref_target(ref) != parent:
            raise RefMovedError(ref)
        self._repo.references.create(ref, oid, force=True)
        return str(oid)

    def set_ref(self, ref: str, commit: str) -> None:
        self._repo.references.create(ref, pygit2.Oid(hex=commit), force=True)

    def merge_base(self, a: str, b: str) -> str | None:
        found = self._repo.merge_base(pygit2.Oid(hex=a), pygit2.Oid(hex=b))
        return str(found) if found is not None else None

    def is_ancestor(self, ancestor: str, commit: str) -> bool:
        """Whether ``ancestor`` is ``commit`` or reachable from it."""
        if ancestor == commit:
            return True
        try:
            return bool(self._repo.descendant_of(pygit2.Oid(hex=commit), pygit2.Oid(hex=ancestor)))
        except (KeyError, ValueError, pygit2.GitError):
            return False

    def commit_message(self, commit: str) -> str:
        return str(self._repo[commit].peel(pygit2.Commit).message)

    def history(self, head: str) -> list[str]:
        """Commit ids from ``head`` back along first parents, newest first."""
        out: list[str] = []
        commit = self._repo[head].peel(pygit2.Commit)
        while True:
            out.append(str(commit.id))
            if not commit.parents:
                return out
            commit = commit.parents[0]

    def changed_paths(self, old: str, new: str) -> list[tuple[str, str]]:
        """``(status, path)`` of files added (A), modified (M) or deleted (D) from ``old`` to ``new``."""
        return _changed_paths(self._repo, old, new)

    def fetch_ref(self, remote: str, ref: str, into: str) -> str | None:
        """Fetch ``ref`` from ``remote`` into the local ref ``into`` (forced); what ``into`` holds after.

        A remote without that ref leaves ``into`` as it was; an unreachable remote raises ``GitError``.
        """
        try:
            self._repo.remotes[remote].fetch([f"+{ref}:{into}"], callbacks=_Callbacks())
        except (KeyError, ValueError, pygit2.GitError) as exc:
            raise GitError(f"cannot fetch {ref} from {remote}: {exc}") from exc
        return self.ref_target(into)

    def push_ref(self, remote: str, ref: str) -> str | None:
        """Push ``ref`` to the same name on ``remote`` without forcing; ``None`` when it landed.

        Otherwise the remote's reason for refusing it (it moved on, not a
        fast-forward; or another writer's update raced this one): fetch,
        re-link and push again. Failing to reach the remote raises ``GitError``.
        """
        callbacks = _Callbacks()
        try:
            self._repo.remotes[remote].push([f"{ref}:{ref}"], callbacks=callbacks)
        except KeyError as exc:
            raise GitError(f"no remote named {remote!r}") from exc
        except (ValueError, pygit2.GitError) as exc:
            text = str(exc)
            if any(word in text.lower() for word in ("fast-forward", "fastforward", "rejected", "lock", "exists", "not present locally")):
                return text
            raise GitError(f"cannot push {ref} to {remote}: {exc}") from exc
        return callbacks.rejected


class RefMovedError(GitError):
    def __init__(self, ref: str) -> None:
        super().__init__(f"{ref} moved while it was being updated (another writer); try again")
        self.ref = ref


class _Callbacks(pygit2.RemoteCallbacks):
    """Credentials for https remotes from ``$SPECOPS_GIT_TOKEN`` (CI's token), and push refusals.

    libgit2 does not read the ``http.extraheader`` that actions/checkout
    leaves behind, so the workflow hands the token over explicitly. It is
    never written anywhere.
    """

    def __init__(self) -> None:
        super().__init__()
        self.rejected: str | None = None

    def credentials(self, url: str, username_from_url: str | None, allowed_types: int) -> pygit2.UserPass:
        token = os.environ.get("SPECOPS_GIT_TOKEN")
        if not token:
            raise pygit2.GitError(f"{url} asks for credentials: set SPECOPS_GIT_TOKEN (CI: the job's token)")
        return pygit2.UserPass(username_from_url or "x-access-token", token)

    def push_update_reference(self, refname: str, message: str | None) -> None:
        if message:
            self.rejected = f"{refname}: {message}"


def _changed_paths(repo: pygit2.Repository, old: str, new: str) -> list[tuple[str, str]]:
    """``(status, path)`` of files that differ between two commits' trees (no rename detection)."""
    a = repo[old].peel(pygit2.Tree)
    b = repo[new].peel(pygit2.Tree)
    return [(d.status_char(), d.old_file.path if d.status_char() == "D" else d.new_file.path) for d in a.diff_to_tree(b).deltas]
