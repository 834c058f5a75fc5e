from django.urls import path

from apps.gitops import views

app_name = "gitops"
urlpatterns = [
    path("tenant/gitlab/", views.gitlab_page, name="gitlab"),
    path("tenant/gitlab/sync/", views.gitlab_sync, name="gitlab-sync"),
    path("tenant/gitlab/drift/", views.gitlab_drift, name="gitlab-drift"),
    path("tenant/gitlab/runs/<int:pk>/apply/", views.gitlab_review_apply, name="gitlab-review-apply"),
]
