"""Prompt templates cannot take a worker down (issue 10): whatever a template does, its render ends fast, small, with
an error naming the limit it went past (a 400 for the caller), and the process goes on serving; checking a template
when a version is saved runs none of it."""

from __future__ import annotations

import re
import tracemalloc

import httpx
import pytest
from jinja2 import StrictUndefined
from jinja2.sandbox import ImmutableSandboxedEnvironment

from apps.catalog.services import service_set_lifecycle
from apps.prompts.rendering import TemplateError, render_text, template_variables
from apps.prompts.rendering.budget import CURRENT
from apps.prompts.services import prompt_service_create, prompt_version_create, prompt_version_publish
from apps.tenants.models import Role
from tests.gateway.conftest import _fresh_gateway, gateway_setup, live_gateway, refresh_snapshot  # noqa: F401

# A loop-heavy template reaches the operations limit in about a tenth of a second; on a loaded machine (and under
# tracemalloc) any runaway may reach the clock first, which is as good an end: fast, small, named.
CLOCK = r"rendering took longer than 0\.25 s"
OPERATIONS = r"more than 100000 operations"
BUILDS = ".+ would build (a value of )?more than 1000000 characters or items"
INTEGER = r"the \* operator would build an integer of more than 4300 digits"
MB = 2**20
SCHEMA = {"type": "object", "properties": {"text": {"type": "string"}}, "required": ["text"]}

# (id, template, what the error names); issue 10's payloads first.
RUNAWAYS = [
    ("nested-ranges", "{% for a in range(100000) %}{% for b in range(100000) %}{% endfor %}{% endfor %}", OPERATIONS),
    ("replace-amplifies", "{{ ('a'*100000).replace('a','a'*100000) }}", r"str\.replace would build"),
    ("recursive-macro", "{% macro f(n) %}{{ f(n) }}{% endmacro %}{{ f(1) }}", "calls nested more than 40 deep"),
    ("printf-width", "{{ '%1000000000d' % 1 }}", "the % operator would build"),
    ("format-filter-precision", "{{ '%.1000000000f'|format(1) }}", "the format filter would build"),
    ("str-format-width", "{{ '{:>1000000000}'.format(1) }}", r"str\.format would build"),
    ("str-format-width-from-an-argument", "{{ '{0:{1}}'.format(1, 1000000000) }}", r"str\.format would build"),
    ("printf-width-from-an-argument", "{{ '%*d' % (1000000000, 1) }}", "the % operator would build"),
    ("string-times-power", "{{ 'a' * 10**9 }}", r"the \* operator would build"),
    ("power-tower", "{{ 10 ** (10 ** 10) }}", r"the \*\* operator would build an integer of more than 4300 digits"),
    ("product-of-big-integers", "{{ (10 ** 4000) * (10 ** 4000) }}", INTEGER),
    (  # dividing two such integers would take seconds
        "integer-from-bytes",
        "{{ (1).from_bytes(('\xff' * 100000).encode('latin-1'), 'big') }}",
        r"calling int\.from_bytes would build an integer of more than 4300 digits",
    ),
    ("hexadecimal-integer", "{{ ('f' * 100000)|int(base=16) }}", "the int filter would build an integer of more than"),
    (
        "integer-doubling",
        "{% set ns = namespace(x=10 ** 4000) %}{% for i in range(2000) %}{% set ns.x = ns.x + ns.x %}{% endfor %}",
        r"the \+ operator would build an integer of more than 4300 digits",
    ),
    ("list-times-power", "{{ [0] * 10**9 }}", r"the \* operator would build"),
    ("huge-range", "{{ range(10**9)|list }}", r"range\(\) of more than 100000 numbers"),
    ("list-of-a-huge-iterable", "{{ range(100000)|map('string')|list }}", OPERATIONS),
    ("join-of-a-huge-iterable", "{{ range(100000)|map('string')|join }}", OPERATIONS),
    ("str-join-of-a-huge-iterable", "{{ ','.join(range(100000)|map('string')) }}", OPERATIONS),
    (
        "join-of-one-string-many-times",
        "{% set s = 'x' * 900 %}{{ ([s] * 1000)|join(s) }}",
        "the join filter would build",
    ),
    (
        "string-times-in-a-loop",
        "{% set ns = namespace(s='ab') %}{% for i in range(64) %}{% set ns.s = ns.s * 2 %}{% endfor %}",
        r"the \* operator would build",
    ),
    (
        "tilde-in-a-loop",
        "{% set ns = namespace(s='') %}{% for i in range(100000) %}{% set ns.s = ns.s ~ 'abcdefghij' %}{% endfor %}",
        "the ~ operator would build",
    ),
    ("center-filter", "{{ 'a'|center(1000000000) }}", "the center filter would build"),
    ("center", "{{ 'a'.center(1000000000) }}", r"str\.center would build"),
    ("ljust", "{{ 'a'.ljust(1000000000) }}", r"str\.ljust would build"),
    ("rjust", "{{ 'a'.rjust(1000000000, '*') }}", r"str\.rjust would build"),
    ("zfill", "{{ '1'.zfill(1000000000) }}", r"str\.zfill would build"),
    ("expandtabs", "{{ ('\t' * 1000).expandtabs(1000000) }}", r"str\.expandtabs would build"),
    ("indent-width", "{{ 'a'|indent(1000000000) }}", "the indent filter would build"),
    ("indent-many-lines", "{{ ('a\n' * 100000)|indent(100) }}", OPERATIONS),
    ("wordwrap", "{{ ('a ' * 1000)|wordwrap(1, wrapstring='x' * 1000) }}", "the wordwrap filter would build"),
    ("truncate-cannot-grow-text", "{{ ('word ' * 50000)|truncate(10**9) }}", "the rendered prompt exceeds 200000"),
    ("replace-with-a-count", "{{ ('a' * 1000).replace('a', 'b' * 1000, 999) }}", r"str\.replace would build"),
    (
        "replace-filter-with-a-count",
        "{{ ('a' * 1000)|replace('a', 'b' * 2000, 600) }}",
        "the replace filter would build",
    ),
    ("translate", "{{ ('a' * 1000).translate({97: 'b' * 10000}) }}", r"str\.translate would build"),
    ("to-bytes", "{{ (1).to_bytes(1000000000, 'big') }}", r"int\.to_bytes would build"),
    ("lipsum", "{{ lipsum(1000000) }}", "lipsum would build"),
    ("slice-into-many", "{{ [1]|slice(1000000000)|list }}", OPERATIONS),
    ("batch-filled", "{{ [1]|batch(1000000000, 0)|list }}", "the batch filter would build"),
    ("sum-of-lists", "{{ ([[1, 2]] * 3000)|sum(start=[]) }}", "the sum filter would build"),
    ("tojson-indent", "{{ ([[1] * 100] * 100)|tojson(indent=1000) }}", "the tojson filter would build"),
    ("urlize-target", "{{ ('www.a.io ' * 2000)|urlize(target='x' * 10000) }}", "the urlize filter would build"),
    ("striptags-many-tags", "{{ ('<>' * 100000)|striptags }}", OPERATIONS),
    (
        "list-doubling",
        "{% set ns = namespace(x=[1]) %}{% for i in range(60) %}{% set ns.x = ns.x + ns.x %}{% endfor %}",
        r"the \+ operator would build",
    ),
    (
        "list-sharing-itself",  # 2**60 items to compare, 60 lists in memory
        "{% set ns = namespace(x=[1]) %}{% for i in range(60) %}{% set ns.x = [ns.x, ns.x] %}{% endfor %}"
        "{{ ns.x == ns.x }}",
        "a literal list or dict would build a value of more than",
    ),
    (
        "tuples-nested-deep",  # hashing them recurses in C
        "{% set ns = namespace(t=(1,)) %}{% for i in range(100000) %}{% set ns.t = (ns.t,) %}{% endfor %}"
        "{{ {ns.t: 1} }}",
        "lists or dicts nested more than 100 deep",
    ),
    ("printing-a-shared-list", "{% set s = 'x' * 2000 %}{% set l = [s] * 499 %}{{ l }}", "the output would build"),
    (
        "text-in-a-buffered-loop",
        "{% set y %}{% for i in range(100000) %}" + "0123456789" * 20 + "{% endfor %}{% endset %}{{ y|length }}",
        "the output would build",
    ),
    (
        "caller-in-a-loop",
        "{% macro m() %}{% for i in range(1000) %}{{ caller() }}{% endfor %}{% endmacro %}"
        "{% set s = 'x' * 10000 %}{% call m() %}{{ s }}{% endcall %}",
        BUILDS,
    ),
    ("recursive-loop", "{% for x in [1] recursive %}{{ loop([1]) }}{% endfor %}", "calls nested more than 40 deep"),
    ("recursive-block", "{% block b %}{{ self.b() }}{% endblock %}", "calls nested more than 40 deep"),
]


def peak_memory_of(action) -> int:
    tracemalloc.start()
    try:
        action()
        return tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()


@pytest.mark.parametrize(("source", "limit"), [pytest.param(source, limit, id=id_) for id_, source, limit in RUNAWAYS])
def test_a_runaway_template_ends_small_with_an_error_naming_the_limit(source, limit):
    def render():
        with pytest.raises(TemplateError, match=f"^The template went past a limit: ({limit}|{CLOCK})"):
            render_text(source, {})

    assert peak_memory_of(render) < 64 * MB


def test_after_a_refused_render_the_next_one_starts_afresh():
    with pytest.raises(TemplateError, match="calls nested"):
        render_text("{% macro f() %}{{ f() }}{% endmacro %}{{ f() }}", {})
    assert CURRENT.get() is None
    assert render_text("{% for i in range(3) %}{{ name }}{% endfor %}", {"name": "Ada"}) == "AdaAdaAda"


@pytest.mark.parametrize("lookup", ["{}[s]", "[1][s]", "'x'|attr(s)"], ids=["dict", "list", "attribute"])
def test_an_error_quotes_a_value_of_the_template_cut_short(lookup):
    with pytest.raises(TemplateError) as caught:
        render_text("{% set s = 'k' * 100000 %}{{ " + lookup + " }}", {})
    assert len(caught.value.message) < 400


# Ordinary templates render exactly as in Jinja2's own sandbox.
ORDINARY = [
    "Summarize in {{ words }} words: {{ text }}",
    "{% for item in items %}{{ loop.index }}/{{ loop.length }}. {{ item.name|title }}{% if not loop.last %}, "
    "{% endif %}{% endfor %}",
    "{{ items|map(attribute='name')|join(', ') }} | {{ items|selectattr('score', 'gt', 1)|list|length }}",
    "{{ items|sort(attribute='score', reverse=true)|map(attribute='name')|first }} {{ items|groupby('score')|list }}",
    "{% macro row(i) %}<{{ i.name }}:{{ '%.2f'|format(i.score) }}>{% endmacro %}{% for i in items %}{{ row(i) }}"
    "{% endfor %}",
    "{% macro box() %}[{{ caller() }}]{% endmacro %}{% call box() %}{{ text|truncate(12) }}{% endcall %}",
    "{{ '{} has {:>4} words'.format(text[:5], words) }} {{ '%s=%d' % ('n', words) }} {{ 'k:%(a)s'|format(a=1) }}",
    "{{ text|wordwrap(10) }}\n{{ text|indent(2, true) }}\n{{ text|center(40) }}|{{ text.replace('o', '0', 1) }}",
    "{{ [1, 2] + [3] }} {{ (1, 2) * 2 }} {{ 'ab' * 3 }} {{ 2 ** 10 }} {{ 7 % 3 }} {{ 'x' ~ words ~ 'y' }}",
    "{{ {'b': 1, 'a': 2}|dictsort }} {{ {'k': [1, 2]}|tojson }} {{ text|wordcount }} {{ text[::-1] }}",
    "{% set ns = namespace(total=0) %}{% for i in range(10) %}{% set ns.total = ns.total + i %}{% endfor %}"
    "{{ ns.total }} {{ range(5)|sum }} {{ range(3)|list|batch(2)|list }} {{ [3, 1, 2]|unique|sort }}",
    "{% for x in [[1, [2]], [3]] recursive %}({% if x is iterable %}{{ loop(x) }}{% else %}{{ x }}{% endif %})"
    "{% endfor %}",
    "{{ '<b>bold</b> &amp;'|striptags }} {{ text|urlencode }} {{ 'a-b c'|title }} {{ items|length }} {{ none }}",
    "{% set c = cycler('odd', 'even') %}{% for i in range(3) %}{{ c.next() }} {% endfor %}{{ 'x'.join(['1', '2']) }}",
]
VARIABLES = {
    "words": 3,
    "text": "hello world of templates",
    "items": [{"name": "ada lovelace", "score": 2}, {"name": "alan turing", "score": 1}],
}


@pytest.mark.parametrize("source", ORDINARY)
def test_ordinary_templates_render_as_in_jinja2s_sandbox(source):
    reference = ImmutableSandboxedEnvironment(undefined=StrictUndefined, keep_trailing_newline=True)
    assert render_text(source, VARIABLES) == reference.from_string(source).render(**VARIABLES)


# Each would build ~100 MB if it were evaluated: checking it must read it, not run it.
SAVED = [
    "{{ '%100000000d' % 1 }}",
    "{{ '%.100000000f'|format(1) }}",
    "{{ 'a'|center(100000000) }}",
    "{{ 'ab'|indent(100000000) }}",
    "{{ 'a' * 100000000 }}",
    "{{ 'a'.ljust(100000000) }}",
    "{{ [0] * 10000000 }}",
    "{% autoescape ('a'|center(100000000)) == 'a' %}x{% endautoescape %}",
    "{% if 'a'|center(100000000) %}x{% endif %}",
]


@pytest.mark.parametrize("source", SAVED)
def test_checking_a_template_at_save_runs_none_of_it(source):
    assert peak_memory_of(lambda: template_variables(source, field="user_template")) < MB


@pytest.mark.django_db
def test_a_version_whose_evaluation_would_take_gigabytes_saves_without_building_anything(tenant, members, route):
    service = prompt_service_create(
        tenant=tenant,
        actor_membership=None,
        slug="gigabytes",
        name="Gigabytes",
        route=route,
        system_template="",
        user_template="{{ text }}",
        variables_schema=SCHEMA,
        visibility="private",
        approval_mode="manual",
    )

    def save():
        prompt_version_create(
            template=service.prompt,
            author=members[Role.DEVELOPER],
            system_template="{{ '%.1000000000f'|format(1) }}",
            user_template="{{ '%1000000000d' % 1 }} {{ text }}",
            variables_schema=SCHEMA,
        )

    assert peak_memory_of(save) < 8 * MB
    assert service.prompt.versions.count() == 2


# --- through the live invoke endpoint ----------------------------------------------------------------------------


@pytest.mark.django_db(transaction=True)
def test_runaway_templates_are_400s_naming_the_limit_and_the_worker_keeps_serving(
    live_gateway,  # noqa: F811
    gateway_setup,  # noqa: F811
    fake_upstream,
):
    service = prompt_service_create(
        tenant=gateway_setup.tenant,
        actor_membership=None,
        slug="runaway",
        name="Runaway",
        route=gateway_setup.route,
        system_template="",
        user_template="Summarize: {{ text }}",
        variables_schema=SCHEMA,
        visibility="private",
        approval_mode="manual",
    )
    service_set_lifecycle(service=service, actor_membership=None, lifecycle="published")
    template = service.prompt
    headers = {"Authorization": f"Bearer {gateway_setup.secret}"}

    def serve(user_template: str) -> httpx.Response:
        version = prompt_version_create(
            template=template, author=None, system_template="", user_template=user_template, variables_schema=SCHEMA
        )
        prompt_version_publish(template=template, version_number=version.number, actor_membership=None)
        refresh_snapshot()
        return httpx.post(f"{live_gateway}/api/v1/services/runaway/invoke", json={"text": "hi"}, headers=headers)

    for source, limit in (
        ("{% macro f(n) %}{{ f(n) }}{{ text }}{% endmacro %}{{ f(1) }}", "calls nested more than 40 deep"),
        ("{% for a in range(100000) %}{% for b in range(100000) %}{% endfor %}{% endfor %}{{ text }}", OPERATIONS),
        ("{{ (text * 50000).replace('h', 'h' * 100000) }}", r"str\.replace would build"),
    ):
        response = serve(source)
        assert response.status_code == 400, response.text[:500]
        error = response.json()["error"]
        assert error["type"] == "invalid_request_error"
        assert re.search(f"went past a limit: ({limit}|{CLOCK})", error["message"]), error
        assert gateway_setup.secret not in response.text
    assert httpx.get(f"{live_gateway}/healthz").status_code == 200
    response = serve("Summarize: {{ text }}")
    assert response.status_code == 200, response.text
    assert fake_upstream.requests[-1].body["messages"][-1]["content"] == "Summarize: hi"
