"""Serializers of prompts: they type the input; every rule about what a version may hold lives in the services."""

from __future__ import annotations

from rest_framework import serializers

from apps.catalog.models import ApprovalMode, OutputMode, Service, Visibility
from apps.prompts.models import PromptTemplate, PromptTestCase, PromptTestResult, PromptTestRun, PromptVersion, StickyBy
from apps.providers.api.serializers import InTenantField
from apps.providers.selectors import route_list
from apps.tenants.models import slug_validator

SCHEMA_HELP = 'JSON Schema of the variables, "type": "object"; every variable the templates use is a property.'
PARAMETERS_HELP = "Model parameters: temperature, top_p, max_tokens, presence_penalty, frequency_penalty, stop, seed."


class PromptExample(serializers.Serializer):
    """A few-shot example: one user message and the answer the model should give."""

    user = serializers.CharField(trim_whitespace=False)
    assistant = serializers.CharField(trim_whitespace=False)


class PromptSplitEntry(serializers.Serializer):
    version = serializers.IntegerField()
    weight = serializers.IntegerField(help_text="A positive integer; the version's share is weight / total.")


class PromptTemplateOut(serializers.ModelSerializer):
    service = serializers.CharField(source="service.slug", read_only=True)
    live_version = serializers.IntegerField(source="live_version.number", read_only=True, allow_null=True)
    ab_split = PromptSplitEntry(many=True, read_only=True, help_text="Empty: the live version takes all traffic.")

    class Meta:
        model = PromptTemplate
        fields = ["service", "live_version", "ab_split", "sticky_by", "updated_at"]


class PromptVersionOut(serializers.ModelSerializer):
    author = serializers.CharField(source="author.username", default=None, read_only=True)
    examples = PromptExample(many=True, read_only=True)
    is_live = serializers.SerializerMethodField()

    class Meta:
        model = PromptVersion
        fields = [
            "number",
            "is_live",
            "system_template",
            "user_template",
            "examples",
            "parameters",
            "variables_schema",
            "change_note",
            "author",
            "created_at",
        ]

    def get_is_live(self, version: PromptVersion) -> bool:
        return version.template.live_version_id == version.pk


class PromptVersionCreateIn(serializers.Serializer):
    system_template = serializers.CharField(required=False, allow_blank=True, default="", trim_whitespace=False)
    user_template = serializers.CharField(trim_whitespace=False)
    variables_schema = serializers.DictField(help_text=SCHEMA_HELP)
    examples = PromptExample(many=True, required=False, default=list)
    parameters = serializers.DictField(required=False, default=dict, help_text=PARAMETERS_HELP)
    change_note = serializers.CharField(required=False, allow_blank=True, default="", max_length=300)


class PromptRollbackIn(serializers.Serializer):
    version = serializers.IntegerField(help_text="An earlier version number to put back live.")


class PromptAbSetIn(serializers.Serializer):
    split = PromptSplitEntry(many=True, allow_empty=True, help_text="At least two versions, or empty to clear.")
    sticky_by = serializers.ChoiceField(choices=StickyBy.choices, default=StickyBy.APP)


class PromptDiffQueryIn(serializers.Serializer):
    a = serializers.IntegerField(min_value=1, help_text="The version to compare from.")
    b = serializers.IntegerField(min_value=1, help_text="The version to compare to.")


class PromptDiffOut(serializers.Serializer):
    """A unified diff per field from version a to version b; empty when the field is unchanged."""

    a = serializers.IntegerField()
    b = serializers.IntegerField()
    system_template = serializers.CharField(allow_blank=True)
    user_template = serializers.CharField(allow_blank=True)
    examples = serializers.CharField(allow_blank=True)
    parameters = serializers.CharField(allow_blank=True)
    variables_schema = serializers.CharField(allow_blank=True)


class PromptServiceCreateIn(PromptVersionCreateIn):
    """A prompt API in one call: the catalog fields, then version 1 of its prompt (see PromptVersionCreateIn).
    Sharing with other tenants is done afterwards, through the catalog."""

    slug = serializers.CharField(max_length=50, validators=[slug_validator])
    name = serializers.CharField(max_length=100)
    route = InTenantField(selector=route_list, slug_field="alias", what="route", help_text="Alias of a route.")
    summary = serializers.CharField(required=False, allow_blank=True, default="", max_length=200)
    description = serializers.CharField(required=False, allow_blank=True, default="", help_text="Markdown.")
    team = serializers.CharField(required=False, allow_blank=True, default="", max_length=100)
    tags = serializers.ListField(child=serializers.CharField(max_length=40), required=False, default=list)
    visibility = serializers.ChoiceField(choices=Visibility.choices, default=Visibility.PRIVATE)
    approval_mode = serializers.ChoiceField(choices=ApprovalMode.choices, default=ApprovalMode.MANUAL)
    output_mode = serializers.ChoiceField(choices=OutputMode.choices, default=OutputMode.TEXT)
    output_schema = serializers.DictField(required=False, default=dict, help_text="JSON Schema of a JSON output.")
    expected_tokens_per_call = serializers.IntegerField(required=False, default=1000, min_value=1)


class PromptServiceOut(serializers.ModelSerializer):
    route = serializers.CharField(source="route.alias", read_only=True)
    live_version = serializers.IntegerField(source="prompt.live_version.number", read_only=True, allow_null=True)

    class Meta:
        model = Service
        fields = [
            "slug",
            "name",
            "summary",
            "route",
            "lifecycle",
            "visibility",
            "approval_mode",
            "input_schema",
            "output_mode",
            "output_schema",
            "live_version",
            "created_at",
        ]


CHECKS_HELP = (
    "A list of checks, each an object with a type: "
    '{"type": "contains", "value": "…", "ignore_case": false}, {"type": "not_contains", "value": "…"}, '
    '{"type": "regex", "pattern": "…"}, {"type": "json_schema", "schema": {…}} (without schema: the service\'s '
    'output schema), {"type": "json_path", "path": "$.a.b", "equals": <value>}, {"type": "max_tokens", "max": N}.'
)


class PromptTestCaseIn(serializers.Serializer):
    """A test case: the variables to render the prompt with, and the checks its output must pass. Checks are
    validated by the service, which names the check and its field."""

    name = serializers.CharField(max_length=100)
    variables = serializers.JSONField(help_text="The input variables: a JSON object.")
    checks = serializers.JSONField(help_text=CHECKS_HELP)


class PromptTestCaseUpdateIn(PromptTestCaseIn):
    name = serializers.CharField(max_length=100, required=False)
    variables = serializers.JSONField(required=False, help_text="The input variables: a JSON object.")
    checks = serializers.JSONField(required=False, help_text=CHECKS_HELP)


class PromptTestCaseOut(serializers.ModelSerializer):
    class Meta:
        model = PromptTestCase
        fields = ["id", "name", "variables", "checks", "created_at", "updated_at"]


class PromptTestResultOut(serializers.ModelSerializer):
    class Meta:
        model = PromptTestResult
        fields = [
            "case_name",
            "passed",
            "failures",
            "output",
            "error",
            "request_id",
            "latency_ms",
            "prompt_tokens",
            "completion_tokens",
            "cost",
        ]


class PromptTestRunOut(serializers.ModelSerializer):
    """A run of the prompt's test cases against one version; `results` fill in as cases finish."""

    version = serializers.IntegerField(source="version.number", read_only=True)
    # Plain text, not an enum in the schema: another component's "status" enum would take the name.
    status = serializers.CharField(read_only=True, help_text="queued, running, then passed, failed or error.")
    started_by = serializers.CharField(source="started_by.username", default=None, read_only=True)
    results = PromptTestResultOut(many=True, read_only=True)

    class Meta:
        model = PromptTestRun
        fields = [
            "id",
            "version",
            "status",
            "error",
            "started_by",
            "created_at",
            "started_at",
            "finished_at",
            "total",
            "passed",
            "failed",
            "prompt_tokens",
            "completion_tokens",
            "cost",
            "results",
        ]
