"""A local fake of GitLab's v4 REST API (the parts a definitions sync uses), speaking its documented wire format.

    with FakeGitLab(token="glpat-test", project_path="acme/definitions") as fake:
        fake.url                       # http://127.0.0.1:PORT (what a client takes as the GitLab URL)
        fake.seed({"README.md": "hi"})  # a first commit on the default branch
        fake.files("main")             # {path: text} at a branch or commit
        fake.commits_on("main")        # newest first
        fake.push_event(before, after) # the body GitLab posts to a push-event webhook
        fake.script("status:500")      # the next request answers 500, then `fake.mode` ("ok") again

Served under /api/v4/projects/:id (a numeric id or the URL-encoded path): GET the project; GET repository/tree
(`ref`, `path`, `recursive`, paginated with `page`/`per_page` and GitLab's X-Page, X-Next-Page, X-Total... and
Link headers); GET repository/files/:path/raw?ref=; POST repository/commits (`branch`, `start_branch`,
`start_sha`, `commit_message`, `actions` create/update/delete/move, `author_name`/`author_email`) with GitLab's
400s; GET repository/branches/:branch and POST repository/branches; POST merge_requests (409 for a second open
one from the same branch); GET repository/compare?from=&to=. Auth is the `PRIVATE-TOKEN` header (or
`Authorization: Bearer`); anything else answers 401. Blob ids are git's (sha1 of "blob <size>\\0<content>").

Modes, one per request: `ok`; `status:CODE[:S]` (GitLab's body for CODE; 429 sends `Retry-After: S`, default 1);
`hang` (never answers until stop)."""

from __future__ import annotations

import asyncio
import hashlib
import math
from typing import Any
from urllib.parse import quote, unquote, urlencode

from aiohttp import web

from tests.fakes.gitlab_repo import Commit, Repository, blob_id, now
from tests.fakes.server import FakeServer, RecordedRequest, read_json

_MESSAGES = {
    400: "400 Bad request",
    401: "401 Unauthorized",
    403: "403 Forbidden",
    404: "404 Project Not Found",
    409: "409 Conflict",
    429: "Retry later",
    500: "500 Internal Server Error",
    502: "502 Bad Gateway",
    503: "503 Service Unavailable",
}


class FakeGitLab(FakeServer, Repository):
    thread_name = "fake-gitlab"

    def __init__(
        self,
        *,
        token: str = "glpat-test-token",  # noqa: S107 - a fake's token
        project_path: str = "acme/definitions",
        project_id: int = 4242,
    ) -> None:
        super().__init__()
        self.token = token
        self.project_path = project_path
        self.project_id = project_id
        self.default_branch = "main"
        self.commits: dict[str, Commit] = {}
        self.branches: dict[str, str] = {}  # name -> commit id
        self.merge_requests: list[dict[str, Any]] = []
        self.requests: list[RecordedRequest] = []

    # ---- the repository, for tests -------------------------------------------------------------------------------

    @property
    def url(self) -> str:
        return self.origin

    @property
    def web_url(self) -> str:
        return f"{self.origin}/{self.project_path}"

    def push_event(self, before: str | None, after: str, *, branch: str = "main") -> dict[str, Any]:
        """GitLab's push-event payload for the commits between `before` (exclusive) and `after`."""
        commits, sha = [], after
        while sha and sha != before:
            commits.append(self.commits[sha])
            sha = self.commits[sha].parent_ids[0] if self.commits[sha].parent_ids else None
        project = self._project_json()
        return {
            "object_kind": "push",
            "event_name": "push",
            "before": before or "0" * 40,
            "after": after,
            "ref": f"refs/heads/{branch}",
            "ref_protected": True,
            "checkout_sha": after,
            "message": None,
            "user_id": 7,
            "user_name": "Ada Dev",
            "user_username": "ada",
            "user_email": "",
            "user_avatar": None,
            "project_id": self.project_id,
            "project": project,
            "commits": [self._event_commit(c) for c in reversed(commits[:20])],
            "total_commits_count": len(commits),
            "repository": {
                "name": project["name"],
                "url": f"{self.origin}/{self.project_path}.git",
                "description": "",
                "homepage": project["web_url"],
                "git_http_url": project["http_url_to_repo"],
                "git_ssh_url": project["ssh_url_to_repo"],
                "visibility_level": 0,
            },
        }

    # ---- the server ----------------------------------------------------------------------------------------------

    def routes(self, router: web.UrlDispatcher) -> None:
        router.add_route("*", "/api/v4/{tail:.*}", self._dispatch)

    async def _dispatch(self, request: web.Request) -> web.StreamResponse:
        body = await read_json(request) if request.can_read_body else None
        self.requests.append(
            RecordedRequest(
                request.method, request.raw_path.split("?", 1)[0], dict(request.query), request.headers, body
            )
        )
        mode = self.next_mode()
        if mode == "hang":
            await asyncio.sleep(3600)
        if mode.startswith("status:"):
            code, _, retry_after = mode.removeprefix("status:").partition(":")
            headers = {"Retry-After": retry_after or "1"} if code == "429" else {}
            return self._error(int(code), headers=headers)
        token = request.headers.get("PRIVATE-TOKEN") or request.headers.get("Authorization", "").removeprefix("Bearer ")
        if token != self.token:
            return self._error(401)
        # Split the raw path before decoding: a project path and a file path arrive URL-encoded (%2F).
        parts = request.raw_path.split("?", 1)[0].removeprefix("/api/v4/").split("/")
        if (
            len(parts) < 2
            or parts[0] != "projects"
            or unquote(parts[1]) not in (self.project_path, str(self.project_id))
        ):
            return self._error(404)
        return await self._project_route(request, parts[2:], body)

    async def _project_route(self, request: web.Request, rest: list[str], body: Any) -> web.StreamResponse:
        method, q = request.method, request.query
        if not rest and method == "GET":
            return web.json_response(self._project_json())
        route = "/".join(rest[:2])
        if route == "repository/tree" and method == "GET":
            return self._tree(request)
        if route == "repository/files" and len(rest) == 4 and rest[3] == "raw" and method == "GET":
            commit = self._resolve(q.get("ref", self.default_branch))
            data = None if commit is None else commit.tree.get(unquote(rest[2]))
            if data is None:
                return self._error(404, "404 File Not Found")
            return web.Response(body=data, content_type="text/plain", headers={"X-Gitlab-Blob-Id": blob_id(data)})
        if route == "repository/commits" and len(rest) == 2 and method == "POST":
            return self._create_commit(body or {})
        if route == "repository/branches" and len(rest) == 3 and method == "GET":
            name = unquote(rest[2])
            if name not in self.branches:
                return self._error(404, "404 Branch Not Found")
            return web.json_response(self._branch_json(name))
        if route == "repository/branches" and len(rest) == 2 and method == "POST":
            data = {**q, **(body or {})}
            start = self._resolve(str(data.get("ref", "")))
            if not data.get("branch") or start is None:
                return self._error(400, "Invalid reference name" if data.get("branch") else "branch is missing")
            if data["branch"] in self.branches:
                return self._error(400, "Branch already exists")
            self.branches[data["branch"]] = start.id
            return web.json_response(self._branch_json(data["branch"]), status=201)
        if rest == ["merge_requests"] and method == "POST":
            return self._create_merge_request(body or {})
        if route == "repository/compare" and method == "GET":
            return self._compare(q.get("from", ""), q.get("to", ""))
        return self._error(404, "404 Not Found")

    def _tree(self, request: web.Request) -> web.Response:
        q = request.query
        commit = self._resolve(q.get("ref", self.default_branch))
        if commit is None:
            return self._error(404, "404 Tree Not Found")
        prefix = q.get("path", "").strip("/")
        recursive = q.get("recursive") == "true"
        entries: dict[str, dict[str, Any]] = {}
        for path, data in commit.tree.items():
            if prefix and not path.startswith(prefix + "/"):
                continue
            relative = path[len(prefix) + 1 :] if prefix else path
            parts = relative.split("/")
            base = f"{prefix}/" if prefix else ""
            for depth in range(1, len(parts)):  # the folders on the way
                if depth == 1 or recursive:
                    folder = base + "/".join(parts[:depth])
                    entries[folder] = {
                        "id": hashlib.sha1(folder.encode(), usedforsecurity=False).hexdigest(),
                        "name": parts[depth - 1],
                        "type": "tree",
                        "path": folder,
                        "mode": "040000",
                    }
            if len(parts) == 1 or recursive:
                entries[path] = {"id": blob_id(data), "name": parts[-1], "type": "blob", "path": path, "mode": "100644"}
        items = [entries[k] for k in sorted(entries)]
        per_page = min(max(int(q.get("per_page", 20)), 1), 100)
        page = max(int(q.get("page", 1)), 1)
        total_pages = max(math.ceil(len(items) / per_page), 1)
        headers = {
            "X-Page": str(page),
            "X-Per-Page": str(per_page),
            "X-Total": str(len(items)),
            "X-Total-Pages": str(total_pages),
            "X-Prev-Page": str(page - 1) if page > 1 else "",
            "X-Next-Page": str(page + 1) if page < total_pages else "",
        }
        links = []
        for rel, number in (("next", page + 1 if page < total_pages else None), ("first", 1), ("last", total_pages)):
            if number is not None:
                query = urlencode({**q, "page": number, "per_page": per_page})
                links.append(f'<{self.origin}{request.raw_path.split("?", 1)[0]}?{query}>; rel="{rel}"')
        headers["Link"] = ", ".join(links)
        return web.json_response(items[(page - 1) * per_page : page * per_page], headers=headers)

    def _create_commit(self, body: dict[str, Any]) -> web.Response:
        missing = [name for name in ("branch", "commit_message", "actions") if not body.get(name)]
        if missing:
            return self._error(400, error=f"{', '.join(missing)} is missing")
        branch = body["branch"]
        if "start_sha" in body:
            start = self._resolve(body["start_sha"])
        elif "start_branch" in body:
            start = self._resolve(body["start_branch"])
            if start is None:
                return self._error(400, f"Invalid reference name: {body['start_branch']}")
        elif branch in self.branches:
            start = self.commits[self.branches[branch]]
        elif self.branches:
            return self._error(400, "You can only create or edit files when you are on a branch")
        else:
            start = None  # an empty repository: the first commit creates the branch
        if (
            branch in self.branches
            and start is not None
            and self.branches[branch] != start.id
            and not body.get("force")
        ):
            return self._error(
                400, f"A branch called '{branch}' already exists. Switch to that branch in order to make changes"
            )
        try:
            commit = self._commit(
                branch=branch,
                start=start.id if start else None,
                message=body["commit_message"],
                author=(body.get("author_name", "Token User"), body.get("author_email", "token@example.com")),
                actions=body["actions"],
            )
        except ValueError as exc:
            return self._error(400, str(exc))
        return web.json_response(self._commit_json(commit), status=201)

    def _create_merge_request(self, body: dict[str, Any]) -> web.Response:
        missing = [name for name in ("source_branch", "target_branch", "title") if not body.get(name)]
        if missing:
            return self._error(400, error=f"{', '.join(missing)} is missing")
        for mr in self.merge_requests:
            if mr["state"] == "opened" and mr["source_branch"] == body["source_branch"]:
                return self._error(
                    409, [f"Another open merge request already exists for this source branch: !{mr['iid']}"]
                )
        if body["source_branch"] not in self.branches or body["target_branch"] not in self.branches:
            return self._error(404, "404 Branch Not Found")
        iid = len(self.merge_requests) + 1
        mr = {
            "id": 9000 + iid,
            "iid": iid,
            "project_id": self.project_id,
            "title": body["title"],
            "description": body.get("description", ""),
            "state": "opened",
            "source_branch": body["source_branch"],
            "target_branch": body["target_branch"],
            "source_project_id": self.project_id,
            "target_project_id": self.project_id,
            "sha": self.branches[body["source_branch"]],
            "merge_status": "can_be_merged",
            "draft": False,
            "created_at": now(),
            "web_url": f"{self.web_url}/-/merge_requests/{iid}",
        }
        self.merge_requests.append(mr)
        return web.json_response(mr, status=201)

    def _compare(self, ref_from: str, ref_to: str) -> web.Response:
        a, b = self._resolve(ref_from), self._resolve(ref_to)
        if a is None or b is None:
            return self._error(404, "404 Ref Not Found")
        commits = []
        sha: str | None = b.id
        while sha and sha != a.id:
            commits.append(self._commit_json(self.commits[sha]))
            parents = self.commits[sha].parent_ids
            sha = parents[0] if parents else None
        diffs = []
        for path in sorted(set(a.tree) | set(b.tree)):
            if a.tree.get(path) != b.tree.get(path):
                diffs.append(
                    {
                        "old_path": path,
                        "new_path": path,
                        "a_mode": "100644",
                        "b_mode": "100644",
                        "new_file": path not in a.tree,
                        "renamed_file": False,
                        "deleted_file": path not in b.tree,
                        "diff": "",
                    }
                )
        return web.json_response(
            {
                "commit": self._commit_json(b) if commits else None,
                "commits": list(reversed(commits)),
                "diffs": diffs,
                "compare_timeout": False,
                "compare_same_ref": a.id == b.id,
                "web_url": f"{self.web_url}/-/compare/{a.id[:8]}...{b.id[:8]}",
            }
        )

    # ---- GitLab's JSON shapes ------------------------------------------------------------------------------------

    def _project_json(self) -> dict[str, Any]:
        namespace, _, name = self.project_path.rpartition("/")
        return {
            "id": self.project_id,
            "name": name,
            "path": name,
            "path_with_namespace": self.project_path,
            "name_with_namespace": self.project_path.replace("/", " / "),
            "default_branch": self.default_branch,
            "empty_repo": not self.commits,
            "web_url": self.web_url,
            "http_url_to_repo": f"{self.web_url}.git",
            "ssh_url_to_repo": f"git@127.0.0.1:{self.project_path}.git",
            "visibility": "private",
            "namespace": {"id": 1, "name": namespace, "path": namespace, "kind": "group", "full_path": namespace},
        }

    def _commit_json(self, commit: Commit) -> dict[str, Any]:
        return {
            "id": commit.id,
            "short_id": commit.id[:8],
            "title": commit.title,
            "message": commit.message,
            "author_name": commit.author_name,
            "author_email": commit.author_email,
            "authored_date": commit.created_at,
            "committer_name": commit.author_name,
            "committer_email": commit.author_email,
            "committed_date": commit.created_at,
            "created_at": commit.created_at,
            "parent_ids": commit.parent_ids,
            "web_url": f"{self.web_url}/-/commit/{commit.id}",
            "stats": {"additions": 0, "deletions": 0, "total": len(commit.changes)},
            "status": None,
        }

    def _branch_json(self, name: str) -> dict[str, Any]:
        return {
            "name": name,
            "commit": self._commit_json(self.commits[self.branches[name]]),
            "merged": False,
            "protected": name == self.default_branch,
            "default": name == self.default_branch,
            "developers_can_push": False,
            "developers_can_merge": False,
            "can_push": True,
            "web_url": f"{self.web_url}/-/tree/{quote(name, safe='')}",
        }

    def _event_commit(self, commit: Commit) -> dict[str, Any]:
        return {
            "id": commit.id,
            "message": commit.message,
            "title": commit.title,
            "timestamp": commit.created_at,
            "url": f"{self.web_url}/-/commit/{commit.id}",
            "author": {"name": commit.author_name, "email": commit.author_email},
            "added": [p for p, c in commit.changes.items() if c == "added"],
            "modified": [p for p, c in commit.changes.items() if c == "modified"],
            "removed": [p for p, c in commit.changes.items() if c == "removed"],
        }

    @staticmethod
    def _error(
        status: int, message: Any = None, *, error: str = "", headers: dict[str, str] | None = None
    ) -> web.Response:
        # GitLab answers {"message": ...} for most errors and {"error": ...} when a required parameter is missing.
        body = {"error": error} if error else {"message": message if message is not None else _MESSAGES[status]}
        return web.json_response(body, status=status, headers=headers)
