"""examples/definitions-repo: both .gitlab-ci.yml files parse and every job's commands exist; the example's files are
valid definitions that round-trip; its CI script validates, plans and applies through the live portal's API, and
runs the prompts' test cases through the gateway into valid JUnit XML."""

from __future__ import annotations

import importlib.util
import os
import re
import shlex
import subprocess
import sys
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest
import yaml

from apps.access.services.tokens import personal_token_issue
from apps.gitops.services import definitions_apply, definitions_export, definitions_load, files_read
from apps.providers.models import Route
from apps.tenants.models import Membership, Role, Tenant
from tests.factories import UserFactory

ROOT = Path(__file__).resolve().parents[2]
EXAMPLE = ROOT / "examples" / "definitions-repo"
SCRIPT = EXAMPLE / "ci" / "portal.py"
# Keys of a .gitlab-ci.yml that are not jobs (GitLab's global keywords).
GLOBAL_KEYS = {
    "stages",
    "default",
    "variables",
    "workflow",
    "include",
    "cache",
    "image",
    "services",
    "before_script",
    "after_script",
    "spec",
}
SYSTEM_TOOLS = {"apt-get"}  # the Debian images' package manager


def _script_module():
    spec = importlib.util.spec_from_file_location("definitions_ci", SCRIPT)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _jobs(path: Path) -> dict[str, dict]:
    pipeline = yaml.safe_load(path.read_text())
    jobs = {name: job for name, job in pipeline.items() if name not in GLOBAL_KEYS and not name.startswith(".")}
    assert jobs, path
    for name, job in jobs.items():
        assert job.get("stage") in pipeline["stages"], f"{path}: job {name} has no declared stage"
        assert job.get("script"), f"{path}: job {name} has no script"
    return {"(default)": pipeline.get("default", {}), **jobs}


def _commands(job: dict) -> list[list[str]]:
    lines = [*job.get("before_script", []), *job.get("script", [])]
    return [shlex.split(part.split(">")[0]) for line in lines for part in line.split("&&")]


def _make_targets() -> set[str]:
    return set(re.findall(r"^([a-z][a-z-]*):", (ROOT / "Makefile").read_text(), re.MULTILINE))


def test_the_projects_pipeline_parses_and_its_commands_exist():
    targets = _make_targets()
    for name, job in _jobs(ROOT / ".gitlab-ci.yml").items():
        installed: set[str] = set()
        for words in _commands(job):
            program = words[0]
            if program == "make":
                assert words[1] in targets, f"job {name}: make {words[1]} is no target of the Makefile"
            elif program in ("python", "python3") and words[1] == "-m":
                if words[2] == "pip" and "install" in words:
                    installed |= {w for w in words[words.index("install") + 1 :] if not w.startswith("-")}
                else:
                    assert words[2] in installed or importlib.util.find_spec(words[2]), f"job {name}: {words}"
            else:
                assert program in SYSTEM_TOOLS, f"job {name}: unknown command {program}"


def test_the_example_pipeline_parses_and_runs_only_commands_of_its_script():
    commands = {action.dest: action.choices for action in _script_module().parser()._subparsers._group_actions}
    subcommands = set(commands["command"])
    jobs = _jobs(EXAMPLE / ".gitlab-ci.yml")
    assert {"validate", "plan", "apply", "prompt-tests"} <= set(jobs)
    for name, job in jobs.items():
        for words in _commands(job):
            assert words[:2] == ["python3", "ci/portal.py"], f"job {name}: {words}"
            assert (EXAMPLE / words[1]).is_file()
            assert words[2] in subcommands, f"job {name}: ci/portal.py has no command {words[2]}"
            _script_module().parser().parse_args(words[2:])  # its options exist too
    assert jobs["prompt-tests"]["artifacts"]["reports"]["junit"] == "prompt-tests.xml"
    assert "plan.txt" in jobs["plan"]["artifacts"]["paths"]


@pytest.mark.django_db(transaction=True)
def test_the_example_definitions_are_valid_and_round_trip():
    files = files_read(EXAMPLE / "definitions")
    owner = UserFactory()

    definitions_apply(definitions=definitions_load(files=files), actor_user=owner)

    assert definitions_export(tenant=Tenant.objects.get(slug="demo")) == files
    assert not any(secret in text for text in files.values() for secret in ("sk-", "glpat-", "gwp_"))


@pytest.fixture
def portal(live_server, transactional_db):
    """The example's tenant applied to the live portal, and a personal token of its owner: the CI's variables."""
    owner = UserFactory(username="ci-owner")
    definitions_apply(definitions=definitions_load(files=files_read(EXAMPLE / "definitions")), actor_user=owner)
    assert Membership.objects.get(user=owner).role == Role.OWNER
    _, token = personal_token_issue(user=owner, name="ci")
    return {**os.environ, "PORTAL_URL": live_server.url, "PORTAL_TOKEN": token}


def _ci(env, *args, cwd=EXAMPLE):
    return subprocess.run(  # noqa: S603 - our interpreter and script
        [sys.executable, str(SCRIPT), *args], env=env, cwd=cwd, capture_output=True, text=True, timeout=120
    )


def test_the_ci_script_validates_plans_and_applies_through_the_api(portal, tmp_path):
    work = tmp_path / "repo"
    (work / "definitions").mkdir(parents=True)
    for path, text in files_read(EXAMPLE / "definitions").items():
        (work / "definitions" / path).parent.mkdir(parents=True, exist_ok=True)
        (work / "definitions" / path).write_text(text.replace("retries: 1", "retries: 3"))

    validated = _ci(portal, "validate", cwd=work)
    planned = _ci(portal, "plan", "--output", "plan.txt", cwd=work)

    assert validated.returncode == 0, validated.stderr
    assert planned.returncode == 0, planned.stderr
    assert "~ update Route echo (routes/echo.yaml)" in (work / "plan.txt").read_text()
    assert '"has_changes": true' in (work / "plan.json").read_text()
    assert Route.objects.get(alias="echo").retries == 1

    applied = _ci(portal, "apply", cwd=work)

    assert applied.returncode == 0, applied.stderr
    assert Route.objects.get(alias="echo").retries == 3

    (work / "definitions" / "routes" / "echo.yaml").write_text("apiVersion: gateway.portal/v1\nkind: Route\n")
    refused = _ci(portal, "validate", cwd=work)
    assert refused.returncode == 1
    assert "routes/echo.yaml" in refused.stderr
    assert refused.stderr.startswith("validate: HTTP 400: ")


def test_the_prompt_test_cases_run_through_the_gateway_into_valid_junit_xml(portal, tmp_path):
    report = tmp_path / "prompt-tests.xml"
    defs = tmp_path / "definitions"
    # A check the echo provider's answer (the prompt's text) cannot pass, to see a failure reported.
    files = {
        p: t.replace("value: As an AI", "value: Our office") for p, t in files_read(EXAMPLE / "definitions").items()
    }
    definitions_apply(definitions=definitions_load(files=files))
    for path, text in files.items():
        (defs / path).parent.mkdir(parents=True, exist_ok=True)
        (defs / path).write_text(text)

    done = _ci(portal, "--dir", str(defs), "prompt-tests", "--junit", str(report), "--timeout", "60")

    assert done.returncode == 1, done.stderr  # one case failed
    assert "2 test cases, 1 failed, 0 errors" in done.stdout
    root = ET.parse(report).getroot()  # noqa: S314 - the file the script under test just wrote
    assert root.tag == "testsuites"
    assert (root.get("tests"), root.get("failures"), root.get("errors")) == ("2", "1", "0")
    (suite,) = root.findall("testsuite")
    assert suite.get("name") == "summarize v1"
    cases = {case.get("name"): case for case in suite.findall("testcase")}
    assert set(cases) == {"keeps-the-subject", "no-filler"}
    assert cases["keeps-the-subject"].find("failure") is None
    assert cases["keeps-the-subject"].get("classname") == "prompts.summarize"
    assert float(cases["keeps-the-subject"].get("time")) >= 0
    failure = cases["no-filler"].find("failure")
    assert failure is not None
    assert failure.get("message")
    assert "Our office" in cases["no-filler"].find("system-out").text
