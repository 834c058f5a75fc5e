"""The sandbox: a template reads the variables it is given and nothing else of the host."""

from __future__ import annotations

import pytest
from django.conf import settings

from apps.prompts.rendering import PromptParts, TemplateError, check_declared, render_messages, render_text

ESCAPES = [
    "{{ x.__class__.__mro__ }}",
    "{{ x.__class__.__mro__[1].__subclasses__() }}",
    "{{ cycler.__init__.__globals__ }}",
    "{{ lipsum.__globals__ }}",
    "{{ joiner.__init__.__globals__.os }}",
    "{{ namespace.__init__.__globals__ }}",
    "{{ self._TemplateReference__context }}",
    "{{ x|attr('__class__') }}",
    "{{ '{0.__class__}'.format(x) }}",
    "{{ x.__len__() }}",
]


@pytest.mark.parametrize("source", ESCAPES)
def test_reaching_python_internals_is_refused(source):
    with pytest.raises(TemplateError, match="may not"):
        render_text(source, {"x": "text"})


@pytest.mark.parametrize("source", ["{{ config }}", "{{ settings }}", "{{ settings.SECRET_KEY }}", "{{ request }}"])
def test_host_objects_are_not_in_reach(source):
    with pytest.raises(TemplateError) as caught:
        render_text(source, {"x": "text"})
    assert caught.value.variable in {"config", "settings", "request"}
    assert settings.SECRET_KEY not in caught.value.message


def test_a_missing_variable_is_an_error_naming_it_never_an_empty_string():
    with pytest.raises(TemplateError) as caught:
        render_text("Hello {{ name }}, about {{ topic }}", {"name": "Ada"})
    assert caught.value.variable == "topic"
    assert "topic" in caught.value.message


def test_a_missing_attribute_of_a_given_variable_is_an_error():
    with pytest.raises(TemplateError, match="has no attribute 'city'"):
        render_text("{{ user.city }}", {"user": {"name": "Ada"}})


@pytest.mark.parametrize(
    ("source", "variables"),
    [("{{ x + 1 }}", {"x": "text"}), ("{{ 1 / n }}", {"n": 0}), ("{% include 'other' %}", {})],
)
def test_runtime_failures_are_template_errors_not_crashes(source, variables):
    with pytest.raises(TemplateError):
        render_text(source, variables)


def test_ordinary_jinja_works():
    source = "{% for item in items %}{{ loop.index }}. {{ item|upper }}\n{% endfor %}{{ range(2)|list }}"
    assert render_text(source, {"items": ["a", "b"]}) == "1. A\n2. B\n[0, 1]"


def test_rendering_does_not_escape_html_the_model_should_see_it_verbatim():
    assert render_text("{{ x }}", {"x": "<b>&</b>"}) == "<b>&</b>"


def test_messages_are_system_then_examples_then_user():
    parts = PromptParts(
        system="You answer in {{ lang }}.",
        user="Translate: {{ text }}",
        examples=({"user": "Translate: hi", "assistant": "salut"},),
    )
    assert render_messages(parts, {"lang": "French", "text": "cat"}) == [
        {"role": "system", "content": "You answer in French."},
        {"role": "user", "content": "Translate: hi"},
        {"role": "assistant", "content": "salut"},
        {"role": "user", "content": "Translate: cat"},
    ]


def test_an_empty_system_template_sends_no_system_message():
    assert render_messages(PromptParts(system="  ", user="{{ q }}"), {"q": "why?"}) == [
        {"role": "user", "content": "why?"}
    ]


def test_undeclared_variables_are_named_with_their_field():
    parts = PromptParts(system="{{ tone }}", user="{{ text }} {% for i in range(2) %}{{ i }}{% endfor %}")
    check_declared(parts, {"tone", "text"})  # `range` and loop variables are not variables of the input
    with pytest.raises(TemplateError) as caught:
        check_declared(parts, {"text"})
    assert (caught.value.field, "tone" in caught.value.message) == ("system_template", True)


def test_a_syntax_error_names_the_field_and_line():
    with pytest.raises(TemplateError, match="line 2") as caught:
        check_declared(PromptParts(system="", user="ok\n{{ broken "), {"broken"})
    assert caught.value.field == "user_template"
