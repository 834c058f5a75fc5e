"""The prompt editor, preview and actions: a draft saved from the form, every problem shown at its field (with the
line of a template error) by the live check and on submit with nothing saved, a preview of the exact messages, and
publish / A/B / rollback / diff from the prompt page, each audited."""

from __future__ import annotations

import html
import json

import pytest

from apps.core.models import AuditEvent
from apps.prompts.models import PromptTemplate, PromptVersion
from apps.prompts.services import prompt_version_create
from apps.tenants.models import Role
from tests.prompts.inputs import SCHEMA, VERSION_1, version_input

pytestmark = pytest.mark.django_db


def _fields(**overrides) -> dict[str, str]:
    """The editor's form as a browser posts it: version 1, with `overrides` (text as typed)."""
    data = {
        "system_template": VERSION_1["system_template"],
        "user_template": VERSION_1["user_template"],
        "variables_schema": json.dumps(SCHEMA),
        "examples": json.dumps(VERSION_1["examples"]),
        "parameters": json.dumps(VERSION_1["parameters"]),
        "change_note": "shorter",
        "sample_variables": '{"text": "the cat sat on the mat", "words": 3}',
    }
    return {**data, **overrides}


@pytest.fixture
def editor(template, members, client_for):
    return client_for(members[Role.DEVELOPER].user)


@pytest.fixture
def admin(template, members, client_for):
    return client_for(members[Role.ADMIN].user)


def test_the_editor_starts_from_the_live_version(editor):
    page = editor.get("/prompts/summarize/edit/").content.decode()
    assert "Summarize in {{ words }} words: {{ text }}" in page
    assert "&quot;temperature&quot;: 0.2" in page
    for label in (
        "System template",
        "User template",
        "Variables (JSON Schema)",
        "Few-shot examples",
        "Sample variables",
    ):
        assert f">{label}</label>" in page


def test_saving_creates_a_draft_that_is_not_live(editor, template, members):
    response = editor.post("/prompts/summarize/edit/", _fields(user_template="In {{ words }} words: {{ text }}"))
    assert response.status_code == 302
    version = PromptVersion.objects.get(template=template, number=2)
    assert (version.user_template, version.change_note) == ("In {{ words }} words: {{ text }}", "shorter")
    assert version.author == members[Role.DEVELOPER].user
    assert version.parameters == VERSION_1["parameters"]
    assert PromptTemplate.objects.get().live_version.number == 1
    assert AuditEvent.objects.filter(action="prompt_version.create").count() == 1


BAD_INPUT = [
    pytest.param({"user_template": "Hello\n{{ text "}, "user_template", "line 2", id="syntax-error"),
    pytest.param(
        {"system_template": "Be kind.\n\nTone: {{ tone }}"},
        "system_template",
        "Line 3: tone is not declared",
        id="undeclared-variable",
    ),
    pytest.param(
        {"variables_schema": '{"type": "object", "properties": {"text": {"type": "strang"}}}'},
        "variables_schema",
        "Invalid JSON Schema",
        id="schema-not-one",
    ),
    pytest.param({"variables_schema": "{not json"}, "variables_schema", "Enter a valid JSON", id="schema-not-json"),
    pytest.param({"examples": '[{"user": "hi"}]'}, "examples", "Example 1 must be", id="bad-example"),
    pytest.param({"parameters": '{"temperature": 9}'}, "parameters", "temperature must be", id="bad-parameter"),
    pytest.param({"user_template": "   "}, "user_template", "cannot be empty", id="empty-user"),
]


@pytest.mark.parametrize(("overrides", "field", "message"), BAD_INPUT)
def test_bad_input_is_shown_at_its_field_and_nothing_is_saved(editor, template, overrides, field, message):
    audited = AuditEvent.objects.count()
    response = editor.post("/prompts/summarize/edit/", _fields(**overrides))
    assert response.status_code == 400
    page = response.content.decode()
    problems = page.split(f'id="id_{field}_problems"')[1].split("</div>")[0]
    assert message.lower() in problems.lower()
    assert template.versions.count() == 1
    assert AuditEvent.objects.count() == audited
    assert "Save as draft" in page  # the page stays usable, with what was typed
    assert _typed(page, field) == _typed_as_shown(overrides[field])


def _typed(page: str, field: str) -> str:
    """The text a field's box shows (Django's textarea starts with a newline browsers drop)."""
    return html.unescape(page.split(f'id="id_{field}">')[1].split("</textarea>")[0]).removeprefix("\n")


def _typed_as_shown(text: str) -> str:
    """Valid JSON comes back indented; anything else exactly as typed."""
    try:
        return json.dumps(json.loads(text), indent=2, ensure_ascii=False)
    except ValueError:
        return text


@pytest.mark.parametrize(("overrides", "field", "message"), BAD_INPUT)
def test_the_live_check_reports_the_same_problems_at_each_field(editor, template, overrides, field, message):
    response = editor.post("/prompts/summarize/check/", _fields(**overrides), HTTP_HX_REQUEST="true")
    assert response.status_code == 200
    page = response.content.decode()
    slot = page.split(f'id="id_{field}_problems"')[1].split("</div>")[0]
    assert 'hx-swap-oob="true"' in slot
    assert message.lower() in slot.lower()
    assert "to fix before saving" in page
    assert template.versions.count() == 1


def test_the_live_check_lists_every_problem_at_once_with_lines(editor):
    typed = _fields(system_template="{{ tone }}", user_template="One\nTwo {{ txet }}\n{{ txet }} {{ text }}")
    page = editor.post("/prompts/summarize/check/", typed, HTTP_HX_REQUEST="true").content.decode()
    assert "Line 1: tone is not declared" in page
    assert "Line 2, 3: txet is not declared" in page


def test_a_clean_draft_passes_the_check(editor):
    page = editor.post("/prompts/summarize/check/", _fields(), HTTP_HX_REQUEST="true").content.decode()
    assert "No problems found" in page


def test_the_preview_shows_the_exact_messages_without_calling_a_model(editor, template):
    response = editor.post("/prompts/summarize/preview/", _fields(), HTTP_HX_REQUEST="true")
    assert response.status_code == 200
    page = response.content.decode()
    contents = [part.split("</pre>")[0] for part in page.split('<pre class="body-capture">')[1:]]
    assert contents[:4] == [
        "You summarize text.",
        "Summarize in 2 words: the cat sat on the mat",
        "cat sat",
        "Summarize in 3 words: the cat sat on the mat",
    ]
    assert template.versions.count() == 1


@pytest.mark.parametrize(
    ("sample", "message"),
    [
        pytest.param('{"text": "hi"}', "Missing variable: words.", id="variable-missing-from-sample"),
        pytest.param('{"words": 3}', "&#x27;text&#x27; is a required property", id="required-missing"),
        pytest.param('{"text": "hi", "words": "three"}', "words: &#x27;three&#x27; is not of type", id="wrong-type"),
        pytest.param("[1, 2]", "The sample is a JSON object", id="not-an-object"),
        pytest.param("{oops", "Enter a valid JSON", id="not-json"),
    ],
)
def test_a_bad_sample_is_shown_at_the_sample_field(editor, sample, message):
    response = editor.post("/prompts/summarize/preview/", _fields(sample_variables=sample), HTTP_HX_REQUEST="true")
    assert response.status_code == 400
    slot = response.content.decode().split('id="id_sample_variables_problems"')[1].split("</div>")[0]
    assert message in slot


def test_the_preview_works_without_javascript(editor):
    response = editor.post("/prompts/summarize/preview/", _fields())
    assert response.status_code == 200
    page = response.content.decode()
    assert "Save as draft" in page
    assert "Summarize in 3 words: the cat sat on the mat" in page


def test_publish_rollback_and_split_from_the_prompt_page(admin, template):
    prompt_version_create(template=template, author=None, **version_input(user_template="Briefly: {{ text }}"))
    response = admin.post("/prompts/summarize/versions/2/publish/", HTTP_HX_REQUEST="true")
    assert response["HX-Redirect"] == "/prompts/summarize/"
    assert PromptTemplate.objects.get().live_version.number == 2
    assert "Version 2 is live" in admin.get("/prompts/summarize/").content.decode()

    admin.post("/prompts/summarize/ab/", {"weight_1": "30", "weight_2": "70", "sticky_by": "conversation"})
    prompt = PromptTemplate.objects.get()
    assert (prompt.ab_split, prompt.sticky_by) == (
        [{"version": 1, "weight": 30}, {"version": 2, "weight": 70}],
        "conversation",
    )
    assert "v1 30%, v2 70%" in admin.get("/prompts/summarize/").content.decode()

    assert admin.post("/prompts/summarize/rollback/", {"version": "1"}).status_code == 302
    prompt = PromptTemplate.objects.get()
    assert (prompt.live_version.number, prompt.ab_split) == (1, [])
    actions = set(AuditEvent.objects.values_list("action", flat=True))
    assert {"prompt.publish", "prompt.ab_set", "prompt.rollback"} <= actions


@pytest.mark.parametrize(
    ("path", "data", "message"),
    [
        pytest.param(
            "/prompts/summarize/rollback/", {"version": "1"}, "older than the live one", id="rollback-to-live"
        ),
        pytest.param(
            "/prompts/summarize/rollback/", {"version": "x"}, "Enter a whole number", id="rollback-not-number"
        ),
        pytest.param(
            "/prompts/summarize/ab/", {"weight_1": "5", "sticky_by": "app"}, "at least two", id="split-of-one"
        ),
        pytest.param(
            "/prompts/summarize/ab/", {"weight_1": "-1", "sticky_by": "app"}, "greater than or equal", id="neg"
        ),
    ],
)
def test_a_refused_action_shows_why_and_changes_nothing(admin, template, path, data, message):
    prompt_version_create(template=template, author=None, **version_input(user_template="Briefly: {{ text }}"))
    audited = AuditEvent.objects.count()
    response = admin.post(path, data, HTTP_HX_REQUEST="true")
    assert response.status_code == 400
    assert message in response.content.decode()
    prompt = PromptTemplate.objects.get()
    assert (prompt.live_version.number, prompt.ab_split) == (1, [])
    assert AuditEvent.objects.count() == audited


def test_publishing_a_version_that_does_not_exist_is_404(admin):
    assert admin.post("/prompts/summarize/versions/9/publish/").status_code == 404


def test_the_diff_shows_both_versions_side_by_side(template, members, client_for):
    prompt_version_create(
        template=template, author=None, **version_input(user_template="Briefly: {{ text }}", parameters={})
    )
    page = client_for(members[Role.VIEWER].user).get("/prompts/summarize/diff/?a=1&b=2").content.decode()
    assert '<tr class="diff-changed">' in page
    assert "<del>Summarize in {{ words }} words: {{ text }}</del>" in page
    assert "<ins>Briefly: {{ text }}</ins>" in page
    assert "<del>  &quot;temperature&quot;: 0.2</del>" in page
    assert "No change." in page  # the system template


def test_a_diff_with_an_unknown_version_says_so_at_the_field(template, members, client_for):
    response = client_for(members[Role.VIEWER].user).get("/prompts/summarize/diff/?a=1&b=7")
    assert response.status_code == 400
    assert "This prompt has no version 7." in response.content.decode()
