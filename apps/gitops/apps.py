from django.apps import AppConfig


class GitopsConfig(AppConfig):
    name = "apps.gitops"
    label = "gitops"
    verbose_name = "Definitions as code and GitLab sync"
