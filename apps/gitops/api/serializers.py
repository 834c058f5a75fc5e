from __future__ import annotations

from rest_framework import serializers


class DefinitionsIn(serializers.Serializer):
    """The definition files as JSON (a tar.gz upload is the other way: `archive` in a multipart form, or the body
    itself with Content-Type application/gzip)."""

    files = serializers.DictField(
        child=serializers.CharField(allow_blank=True, trim_whitespace=False), help_text="relative path → file text"
    )
    prune = serializers.BooleanField(default=False, help_text="also delete what the files no longer have")


class DefinitionsArchiveIn(serializers.Serializer):
    archive = serializers.FileField(help_text="the definition files as a tar.gz (one top folder allowed)")


class DefinitionsExportQueryIn(serializers.Serializer):
    tenant = serializers.SlugField(help_text="the tenant's slug")
    # Not `format`: DRF reads that query parameter as the renderer to use.
    archive = serializers.BooleanField(default=False, help_text="true: the files as one tar.gz")


class DefinitionsTargetQueryIn(serializers.Serializer):
    tenant = serializers.SlugField(required=False, help_text="must match tenant.yaml when given")
    prune = serializers.BooleanField(required=False, help_text="with a tar.gz upload: --prune")


class DefinitionsExportOut(serializers.Serializer):
    tenant = serializers.CharField()
    files = serializers.DictField(child=serializers.CharField(), help_text="relative path → file text")


class DefinitionChangeOut(serializers.Serializer):
    action = serializers.ChoiceField(choices=["create", "update", "delete"])
    kind = serializers.CharField()
    key = serializers.CharField()
    path = serializers.CharField()
    diff = serializers.CharField(help_text="unified diff of the file as exported against the file given")


class DefinitionsPlanOut(serializers.Serializer):
    tenant = serializers.CharField(source="tenant_slug")
    has_changes = serializers.BooleanField()
    summary = serializers.DictField(child=serializers.IntegerField(), source="counts")
    changes = DefinitionChangeOut(many=True)
    text = serializers.CharField(source="render", help_text="the plan as `manage.py gitops plan` prints it")


class DefinitionErrorOut(serializers.Serializer):
    file = serializers.CharField()
    path = serializers.CharField()
    message = serializers.CharField()


class DefinitionsInvalidOut(serializers.Serializer):
    message = serializers.CharField()
    errors = DefinitionErrorOut(many=True)
