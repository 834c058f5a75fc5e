"""The fake GitLab held to the official python-gitlab client (so the fake speaks what real clients send and read),
and the portal's own client against it: pagination, Retry-After, errors."""

from __future__ import annotations

import gitlab
import pytest

from apps.core.netguard import AddressPolicy
from apps.gitops.gitlab import GitLabClient, GitLabError
from tests.fakes.gitlab import FakeGitLab, blob_id


@pytest.fixture
def fake():
    with FakeGitLab() as server:
        server.seed({"README.md": "hello\n"})
        yield server


@pytest.fixture
def project(fake):
    return gitlab.Gitlab(fake.url, private_token=fake.token).projects.get(fake.project_path)


def test_python_gitlab_reads_the_project_by_path_and_by_id(fake, project):
    assert (project.id, project.path_with_namespace, project.default_branch) == (4242, "acme/definitions", "main")
    by_id = gitlab.Gitlab(fake.url, private_token=fake.token).projects.get(4242)
    assert by_id.web_url == fake.web_url


def test_python_gitlab_commits_with_actions_and_reads_back(fake, project):
    commit = project.commits.create(
        {
            "branch": "main",
            "commit_message": "Add files\n\nPortal-Sync: 1",
            "author_name": "Bot",
            "author_email": "bot@example.com",
            "actions": [
                {"action": "create", "file_path": f"defs/f{i:02}.yaml", "content": f"n: {i}\n"} for i in range(45)
            ]
            + [{"action": "update", "file_path": "README.md", "content": "changed\n"}],
        }
    )

    assert commit.title == "Add files"
    assert commit.author_name == "Bot"
    assert fake.requests[-1].body["actions"][0] == {
        "action": "create",
        "file_path": "defs/f00.yaml",
        "content": "n: 0\n",
    }
    # A tree of 45 files, fetched page by page through the Link header.
    tree = project.repository_tree(path="defs", ref="main", recursive=True, get_all=True, per_page=20)
    assert len(tree) == 45
    assert {e["type"] for e in tree} == {"blob"}
    assert next(e for e in tree if e["path"] == "defs/f07.yaml")["id"] == blob_id(b"n: 7\n")
    pages = [r.query.get("page", "1") for r in fake.requests if r.path.endswith("/repository/tree")]
    assert pages == ["1", "2", "3"]
    assert [e["type"] for e in project.repository_tree(ref="main")] == ["blob", "tree"]  # README.md, defs/
    assert project.files.raw(file_path="defs/f07.yaml", ref="main") == b"n: 7\n"
    assert project.files.raw(file_path="README.md", ref=commit.id) == b"changed\n"

    project.commits.create(
        {
            "branch": "main",
            "commit_message": "Tidy",
            "actions": [
                {"action": "delete", "file_path": "defs/f00.yaml"},
                {"action": "move", "file_path": "defs/moved.yaml", "previous_path": "defs/f01.yaml"},
            ],
        }
    )
    files = fake.files()
    assert "defs/f00.yaml" not in files
    assert files["defs/moved.yaml"] == "n: 1\n"


@pytest.mark.parametrize(
    ("action", "message"),
    [
        ({"action": "create", "file_path": "README.md", "content": "x"}, "A file with this name already exists"),
        ({"action": "update", "file_path": "nope.yaml", "content": "x"}, "A file with this name doesn't exist"),
        ({"action": "delete", "file_path": "nope.yaml"}, "A file with this name doesn't exist"),
    ],
)
def test_python_gitlab_sees_gitlabs_400s_for_impossible_actions(fake, project, action, message):
    with pytest.raises(gitlab.GitlabCreateError) as caught:
        project.commits.create({"branch": "main", "commit_message": "x", "actions": [action]})

    assert caught.value.response_code == 400
    assert caught.value.error_message == message
    assert len(fake.commits) == 1


def test_python_gitlab_branches_merge_requests_and_compare(fake, project):
    base = fake.branches["main"]
    project.branches.create({"branch": "feature", "ref": "main"})
    project.commits.create(
        {
            "branch": "feature",
            "commit_message": "Feature",
            "actions": [{"action": "create", "file_path": "new.yaml", "content": "a: 1\n"}],
        }
    )

    assert project.branches.get("feature").commit["title"] == "Feature"
    with pytest.raises(gitlab.GitlabGetError) as missing:
        project.branches.get("nope")
    assert missing.value.response_code == 404
    mr = project.mergerequests.create({"source_branch": "feature", "target_branch": "main", "title": "Add new"})
    assert (mr.iid, mr.state, mr.web_url) == (1, "opened", f"{fake.web_url}/-/merge_requests/1")
    with pytest.raises(gitlab.GitlabCreateError) as again:
        project.mergerequests.create({"source_branch": "feature", "target_branch": "main", "title": "Again"})
    assert again.value.response_code == 409
    compare = project.repository_compare(base, "feature")
    assert [d["new_path"] for d in compare["diffs"]] == ["new.yaml"]
    assert compare["diffs"][0]["new_file"] is True
    assert [c["title"] for c in compare["commits"]] == ["Feature"]


def test_python_gitlab_is_refused_without_the_token(fake):
    with pytest.raises(gitlab.GitlabAuthenticationError):
        gitlab.Gitlab(fake.url, private_token="wrong").projects.get(fake.project_path)


def _client(fake, **kwargs):
    return GitLabClient(
        base_url=fake.url,
        token=fake.token,
        project=fake.project_path,
        policy=AddressPolicy.from_entries(["127.0.0.1/32"]),
        **kwargs,
    )


def test_the_portals_client_follows_every_page(fake):
    fake.seed({f"d/{i:03}.yaml": f"{i}\n" for i in range(230)})

    with _client(fake) as client:
        blobs = client.list_blobs(ref="main", path="d")

    assert len(blobs) == 230
    assert blobs["d/117.yaml"] == blob_id(b"117\n")
    assert [r.query.get("page", "1") for r in fake.requests if r.path.endswith("/tree")] == ["1", "2", "3"]


def test_the_portals_client_waits_as_long_as_retry_after_says(fake):
    waits = []
    fake.script("status:429:7", "status:503")

    with _client(fake, sleep=waits.append) as client:
        project = client.get_project()

    assert project["id"] == 4242
    assert waits == [7.0, 1.0]  # Retry-After, then the backoff's second step


def test_the_portals_client_gives_up_after_its_retries(fake):
    waits = []
    fake.script("status:500", "status:500", "status:500", "status:500")

    with _client(fake, sleep=waits.append, retries=2) as client, pytest.raises(GitLabError) as caught:
        client.get_project()

    assert str(caught.value) == "GitLab failed (500): 500 Internal Server Error (after 3 attempts)"
    assert caught.value.retryable
    assert waits == [0.5, 1.0]


def test_the_portals_client_refuses_an_internal_address_unless_allowed(fake):
    client = GitLabClient(base_url=fake.url, token=fake.token, project="x", policy=AddressPolicy())

    with client, pytest.raises(GitLabError, match="GITLAB_ALLOW_PRIVATE_NETWORKS"):
        client.get_project()

    assert fake.requests == []
