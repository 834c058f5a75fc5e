"""The JSON Schema in the repository is a valid schema, and every file the export writes validates against it as a
whole (its oneOf), the way a CI job checks files with a stock validator."""

from __future__ import annotations

import pytest
from jsonschema import Draft202012Validator, FormatChecker

from apps.gitops.services import definitions_export, definitions_schema
from apps.gitops.services.load import is_definition_file
from apps.gitops.services.yamltext import yaml_load

pytestmark = pytest.mark.django_db


def test_the_schema_is_valid_draft_2020_12():
    Draft202012Validator.check_schema(definitions_schema())


def test_every_exported_file_validates_against_the_published_schema(rich_tenant):
    validator = Draft202012Validator(definitions_schema(), format_checker=FormatChecker())
    files = {path: text for path, text in definitions_export(tenant=rich_tenant).items() if is_definition_file(path)}
    assert len(files) == 13

    for path, text in files.items():
        errors = [error.message for error in validator.iter_errors(yaml_load(text))]
        assert errors == [], path


def test_a_file_of_no_kind_fails_the_published_schema():
    validator = Draft202012Validator(definitions_schema())
    assert not validator.is_valid({"apiVersion": "gateway.portal/v1", "kind": "Robot", "slug": "r2"})
