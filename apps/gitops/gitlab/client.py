"""A small client of GitLab's v4 REST API over httpx: the calls a definitions sync makes, with timeouts, retries with
backoff on 429 and 5xx (honouring Retry-After), and each failure turned into one clear sentence (GitLabError).

The token travels in the PRIVATE-TOKEN header only; no message built here contains it. Connections go where the
operator's address policy allows (apps.core.netguard): a tenant chooses the GitLab URL, so it may not aim the
portal, token in hand, at the portal's own network unless the operator lists that network."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any
from urllib.parse import quote, urlsplit

import httpx

from apps.core.netguard import AddressPolicy, AddressRefused, GuardedTransport

RETRIED_STATUSES = frozenset({429, 500, 502, 503, 504})
MAX_BACKOFF_SECONDS = 30.0


class GitLabError(Exception):
    """A GitLab call that failed; `retryable` when trying later may succeed (rate limit, outage, timeout)."""

    def __init__(self, message: str, *, status: int | None = None, retryable: bool = False, detail: str = "") -> None:
        super().__init__(message)
        self.status = status
        self.retryable = retryable
        self.detail = detail  # GitLab's own words


class GitLabClient:
    """One GitLab project, reached with one token. Use it as a context manager (it holds a connection pool)."""

    def __init__(
        self,
        *,
        base_url: str,
        token: str,
        project: str,
        policy: AddressPolicy,
        timeout: float = 10.0,
        retries: int = 2,
        backoff: float = 0.5,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        self.base_url = base_url.rstrip("/")
        self.project = project
        self._project_path = f"/api/v4/projects/{quote(project, safe='')}"
        self._timeout = timeout
        self._retries = retries
        self._backoff = backoff  # the first wait without Retry-After; doubled at each further attempt
        self._sleep = sleep
        self._http = httpx.Client(
            base_url=self.base_url,
            headers={"PRIVATE-TOKEN": token, "User-Agent": "ai-gateway-portal-gitops"},
            timeout=timeout,
            transport=GuardedTransport(policy),
        )

    def __enter__(self) -> GitLabClient:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self._http.close()

    # ---- the calls --------------------------------------------------------------------------------------------------

    def get_project(self) -> dict[str, Any]:
        return self._request("GET", "").json()

    def get_branch(self, name: str) -> dict[str, Any] | None:
        """The branch, or None when it does not exist (not when the project does not)."""
        try:
            return self._request("GET", f"/repository/branches/{quote(name, safe='')}").json()
        except GitLabError as exc:
            if exc.status == 404 and "Branch Not Found" in exc.detail:
                return None
            raise

    def create_branch(self, *, name: str, ref: str) -> dict[str, Any]:
        return self._request("POST", "/repository/branches", json={"branch": name, "ref": ref}).json()

    def list_blobs(self, *, ref: str, path: str) -> dict[str, str]:
        """{file path: blob id} of every file under `path` at `ref`, all pages (the Link header's next)."""
        blobs: dict[str, str] = {}
        url: str | None = f"{self._project_path}/repository/tree"
        params: dict[str, Any] | None = {"ref": ref, "path": path, "recursive": "true", "per_page": 100}
        while url:
            response = self._request("GET", url, params=params, absolute=True)
            blobs.update({e["path"]: e["id"] for e in response.json() if e.get("type") == "blob"})
            url, params = response.links.get("next", {}).get("url"), None
            if url and urlsplit(url).netloc != urlsplit(self.base_url).netloc:
                # A next page elsewhere (a proxy's external name): same path and query, our host.
                parts = urlsplit(url)
                url = f"{parts.path}?{parts.query}"
        return blobs

    def read_file(self, *, path: str, ref: str) -> str:
        return self._request("GET", f"/repository/files/{quote(path, safe='')}/raw", params={"ref": ref}).text

    def create_commit(
        self,
        *,
        branch: str,
        message: str,
        actions: list[dict[str, Any]],
        start_branch: str | None = None,
        author_name: str = "",
        author_email: str = "",
    ) -> dict[str, Any]:
        body: dict[str, Any] = {"branch": branch, "commit_message": message, "actions": actions}
        if start_branch:
            body["start_branch"] = start_branch
        if author_name:
            body |= {"author_name": author_name, "author_email": author_email}
        return self._request("POST", "/repository/commits", json=body).json()

    def create_merge_request(self, *, source: str, target: str, title: str, description: str) -> dict[str, Any]:
        body = {
            "source_branch": source,
            "target_branch": target,
            "title": title,
            "description": description,
            "remove_source_branch": True,
        }
        return self._request("POST", "/merge_requests", json=body).json()

    # ---- one request, its retries and its errors --------------------------------------------------------------------

    def _request(self, method: str, path: str, *, absolute: bool = False, **kwargs: Any) -> httpx.Response:
        url = path if absolute else f"{self._project_path}{path}"
        attempt = 0
        while True:
            try:
                response = self._http.request(method, url, **kwargs)
            except AddressRefused as exc:
                raise GitLabError(f"GitLab at {exc} (set GITLAB_ALLOW_PRIVATE_NETWORKS to allow it)") from None
            except httpx.TimeoutException:
                error = GitLabError(f"GitLab did not answer within {self._timeout:g} s", retryable=True)
                wait = None
            except httpx.TransportError as exc:
                error = GitLabError(f"cannot reach GitLab at {self.base_url}: {exc}", retryable=True)
                wait = None
            else:
                if response.is_success:
                    return response
                error = self._error(response)
                wait = _retry_after(response)
                if response.status_code not in RETRIED_STATUSES:
                    raise error
            if attempt >= self._retries:
                if attempt:
                    error.args = (f"{error.args[0]} (after {attempt + 1} attempts)",)
                raise error
            self._sleep(min(wait if wait is not None else self._backoff * 2**attempt, MAX_BACKOFF_SECONDS))
            attempt += 1

    def _error(self, response: httpx.Response) -> GitLabError:
        status = response.status_code
        detail = _detail(response)
        project = self.project
        messages = {
            401: "GitLab refused the access token (401 Unauthorized): it is wrong, expired or revoked",
            403: f"the access token may not do this in {project} (403 Forbidden): it needs the api scope and at "
            "least the Developer role",
            404: _not_found(response.request.url.path, project, detail),
            409: f"GitLab reported a conflict (409): {detail}",
            429: "GitLab is rate-limiting the portal (429 Too Many Requests)",
        }
        if status in messages:
            message = messages[status]
        elif status >= 500:
            message = f"GitLab failed ({status}): {detail}"
        else:
            message = f"GitLab refused the request ({status}): {detail}"
        return GitLabError(message, status=status, retryable=status in RETRIED_STATUSES, detail=detail)


def _detail(response: httpx.Response) -> str:
    """GitLab's own words: {"message": ...} (a string, a list or a dict of lists) or {"error": ...}."""
    try:
        body = response.json()
    except ValueError:
        return response.reason_phrase or "no details"
    if not isinstance(body, dict):
        return str(body)[:300]
    value = body.get("message", body.get("error", ""))
    if isinstance(value, dict):
        value = "; ".join(f"{k} {', '.join(map(str, v)) if isinstance(v, list) else v}" for k, v in value.items())
    elif isinstance(value, list):
        value = "; ".join(map(str, value))
    return str(value)[:300] or response.reason_phrase


def _not_found(path: str, project: str, detail: str) -> str:
    for marker, what in (("/repository/branches", "branch"), ("/repository/files", "file"), ("/repository", "ref")):
        if marker in path and "Project Not Found" not in detail:
            return f"GitLab found no such {what} in project {project} (404 Not Found)"
    return f"GitLab has no project {project}, or the token may not see it (404 Not Found)"


def _retry_after(response: httpx.Response) -> float | None:
    try:
        return max(float(response.headers["Retry-After"]), 0.0)
    except (KeyError, ValueError):
        return None
