"""GitLab's REST API as the definitions sync needs it (apps/gitops/gitlab/client.py)."""

from apps.gitops.gitlab.client import GitLabClient, GitLabError

__all__ = ["GitLabClient", "GitLabError"]
