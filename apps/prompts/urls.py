"""Web pages of the prompt workbench, under /prompts/<service slug>/ (the prompt list, editor and history pages
join them here)."""

from django.urls import path

from apps.prompts.views import diff, editor, playground, testcases, workbench

app_name = "prompts"
urlpatterns = [
    path("", workbench.prompt_list, name="prompt-list"),
    path("<slug:slug>/", workbench.prompt_detail, name="prompt-detail"),
    path("<slug:slug>/panel/", workbench.prompt_panel, name="prompt-panel"),
    path("<slug:slug>/edit/", editor.prompt_edit, name="prompt-edit"),
    path("<slug:slug>/check/", editor.prompt_check, name="prompt-check"),
    path("<slug:slug>/preview/", editor.prompt_preview, name="prompt-preview"),
    path("<slug:slug>/versions/<int:number>/publish/", workbench.prompt_publish, name="prompt-publish"),
    path("<slug:slug>/rollback/", workbench.prompt_rollback, name="prompt-rollback"),
    path("<slug:slug>/ab/", workbench.prompt_ab_set, name="prompt-ab"),
    path("<slug:slug>/diff/", diff.prompt_diff, name="prompt-diff"),
    path("<slug:service_slug>/test-cases/", testcases.testcase_list, name="testcase-list"),
    path("<slug:service_slug>/test-cases/<int:pk>/edit/", testcases.testcase_edit, name="testcase-edit"),
    path("<slug:service_slug>/test-cases/<int:pk>/delete/", testcases.testcase_delete, name="testcase-delete"),
    path("<slug:service_slug>/test-runs/", testcases.testrun_start, name="testrun-start"),
    path("<slug:service_slug>/test-runs/<int:pk>/", testcases.testrun_detail, name="testrun-detail"),
    path("<slug:service_slug>/playground/", playground.playground, name="playground"),
    path("<slug:service_slug>/playground/run/", playground.playground_run, name="playground-run"),
]
