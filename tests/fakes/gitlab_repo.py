"""The in-memory git repository behind the fake GitLab (tests/fakes/gitlab.py): commits holding whole trees,
branches pointing at commits, and the file actions of GitLab's commits API with its 400s."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any


def blob_id(content: bytes) -> str:
    """Git's object id of a file's content, which GitLab reports as a tree entry's `id`."""
    return hashlib.sha1(b"blob %d\0" % len(content) + content, usedforsecurity=False).hexdigest()


@dataclass
class Commit:
    id: str
    message: str
    parent_ids: list[str]
    author_name: str
    author_email: str
    created_at: str
    tree: dict[str, bytes]  # the whole repository at this commit
    changes: dict[str, str] = field(default_factory=dict)  # path -> added / modified / removed

    @property
    def title(self) -> str:
        return self.message.split("\n", 1)[0]


class Repository:
    """Mixed into the fake: `commits` and `branches` are its state."""

    commits: dict[str, Commit]
    branches: dict[str, str]  # name -> commit id

    def seed(self, files: dict[str, str], *, branch: str = "main", message: str = "Initial commit") -> Commit:
        """A commit made by a person on `branch` (created when missing), as if pushed."""
        return self._commit(
            branch=branch,
            start=self.branches.get(branch),
            message=message,
            author=("Ada Dev", "ada@example.com"),
            actions=[
                {"action": "update" if self._has(branch, p) else "create", "file_path": p, "content": c}
                for p, c in files.items()
            ],
        )

    def files(self, ref: str = "main") -> dict[str, str]:
        commit = self._resolve(ref)
        return {} if commit is None else {path: data.decode() for path, data in sorted(commit.tree.items())}

    def commits_on(self, branch: str = "main") -> list[Commit]:
        out, sha = [], self.branches.get(branch)
        while sha:
            out.append(self.commits[sha])
            sha = self.commits[sha].parent_ids[0] if self.commits[sha].parent_ids else None
        return out

    # ---- the in-memory repository --------------------------------------------------------------------------------

    def _has(self, branch: str, path: str) -> bool:
        return branch in self.branches and path in self.commits[self.branches[branch]].tree

    def _resolve(self, ref: str) -> Commit | None:
        if ref in self.branches:
            return self.commits[self.branches[ref]]
        return self.commits.get(ref)

    def _commit(
        self, *, branch: str, start: str | None, message: str, author: tuple[str, str], actions: list[dict[str, Any]]
    ) -> Commit:
        tree = dict(self.commits[start].tree) if start else {}
        changes: dict[str, str] = {}
        for action in actions:
            kind, path = action.get("action"), action.get("file_path", "")
            content = str(action.get("content", "")).encode()
            if kind == "create":
                if path in tree:
                    raise ValueError("A file with this name already exists")
                tree[path], changes[path] = content, "added"
            elif kind == "update":
                if path not in tree:
                    raise ValueError("A file with this name doesn't exist")
                tree[path], changes[path] = content, "modified"
            elif kind == "delete":
                if path not in tree:
                    raise ValueError("A file with this name doesn't exist")
                del tree[path]
                changes[path] = "removed"
            elif kind == "move":
                previous = action.get("previous_path", "")
                if previous not in tree:
                    raise ValueError("A file with this name doesn't exist")
                tree[path] = content if "content" in action else tree[previous]
                del tree[previous]
                changes[previous], changes[path] = "removed", "added"
            else:
                raise ValueError("actions[0][action] does not have a valid value")
        digest = hashlib.sha1(f"{start}\n{message}\n{len(self.commits)}".encode(), usedforsecurity=False)
        commit = Commit(
            id=digest.hexdigest(),
            message=message,
            parent_ids=[start] if start else [],
            author_name=author[0],
            author_email=author[1],
            created_at=now(),
            tree=tree,
            changes=changes,
        )
        self.commits[commit.id] = commit
        self.branches[branch] = commit.id
        return commit


def now() -> str:
    return datetime.now(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")
