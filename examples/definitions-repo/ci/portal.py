#!/usr/bin/env python3
"""The CI jobs of a definitions repository, against an AI Gateway Portal: validate, plan, apply, and run the
prompts' test cases through the gateway as JUnit XML. Standard library only, so any Python 3.11+ image runs it.

Environment: PORTAL_URL (https://portal.example.com), PORTAL_TOKEN (a personal access token, gwp_..., of an owner
or admin of the tenant), DEFINITIONS_DIR (default: definitions). For the merge-request note of `plan`: GitLab's
CI_API_V4_URL, CI_PROJECT_ID, CI_MERGE_REQUEST_IID and GITLAB_NOTE_TOKEN (a token with the api scope)."""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
import urllib.error
import urllib.request
import xml.etree.ElementTree as ET
from pathlib import Path
from typing import Any

FINISHED = ("passed", "failed", "error")


class PortalError(Exception):
    pass


def _request(method: str, url: str, *, headers: dict[str, str], body: Any = None, timeout: float = 120) -> Any:
    if not url.startswith(("https://", "http://")):
        raise PortalError(f"{url} is not an http(s) URL")
    data = json.dumps(body).encode() if body is not None else None
    headers = {"Accept": "application/json", **({"Content-Type": "application/json"} if data else {}), **headers}
    request = urllib.request.Request(url, data=data, method=method, headers=headers)  # noqa: S310 - http(s) only
    try:
        with urllib.request.urlopen(request, timeout=timeout) as response:  # noqa: S310
            return json.loads(response.read() or b"null")
    except urllib.error.HTTPError as exc:
        try:
            answer = json.loads(exc.read())
        except ValueError:
            answer = {"message": exc.reason}
        raise PortalError(_explain(exc.code, answer)) from None
    except urllib.error.URLError as exc:
        raise PortalError(f"cannot reach {url}: {exc.reason}") from None


def _explain(status: int, answer: Any) -> str:
    if not isinstance(answer, dict):
        return f"HTTP {status}: {answer}"
    lines = [f"HTTP {status}: {answer.get('message', answer)}"]
    for error in answer.get("errors") or []:
        if isinstance(error, dict) and "file" in error:
            lines.append(f"  {error['file']}: {error.get('path') or '(document)'}: {error['message']}")
    return "\n".join(lines)


class Portal:
    def __init__(self, url: str, token: str) -> None:
        self.url = url.rstrip("/")
        self.headers = {"Authorization": f"Bearer {token}"}

    def call(self, method: str, path: str, body: Any = None) -> Any:
        return _request(method, f"{self.url}{path}", headers=self.headers, body=body)


def portal_from_env() -> Portal:
    missing = [name for name in ("PORTAL_URL", "PORTAL_TOKEN") if not os.environ.get(name)]
    if missing:
        raise PortalError(f"set {' and '.join(missing)} (CI/CD variables of the project)")
    return Portal(os.environ["PORTAL_URL"], os.environ["PORTAL_TOKEN"])


def read_files(directory: Path) -> dict[str, str]:
    """Every YAML file under the folder, hidden ones aside: the portal decides what each one is."""
    if not directory.is_dir():
        raise PortalError(f"{directory} is not a directory")
    return {
        path.relative_to(directory).as_posix(): path.read_text(encoding="utf-8")
        for path in sorted(directory.rglob("*.y*ml"))
        if path.is_file() and not any(part.startswith(".") for part in path.relative_to(directory).parts)
    }


def cmd_validate(args: argparse.Namespace) -> int:
    files = read_files(args.dir)
    portal_from_env().call("POST", "/api/v1/gitops/plan", {"files": files, "prune": True})
    print(f"{len(files)} files are valid definitions.")
    return 0


def cmd_plan(args: argparse.Namespace) -> int:
    plan = portal_from_env().call("POST", "/api/v1/gitops/plan", {"files": read_files(args.dir), "prune": True})
    Path(args.output).write_text(plan["text"], encoding="utf-8")
    Path(args.output).with_suffix(".json").write_text(json.dumps(plan, indent=2) + "\n", encoding="utf-8")
    print(plan["text"], end="")
    if os.environ.get("CI_MERGE_REQUEST_IID") and os.environ.get("GITLAB_NOTE_TOKEN"):
        note = f"**Portal plan for tenant `{plan['tenant']}`**\n\n```diff\n{plan['text']}```\n"
        url = (
            f"{os.environ['CI_API_V4_URL']}/projects/{os.environ['CI_PROJECT_ID']}/merge_requests/"
            f"{os.environ['CI_MERGE_REQUEST_IID']}/notes"
        )
        _request("POST", url, headers={"PRIVATE-TOKEN": os.environ["GITLAB_NOTE_TOKEN"]}, body={"body": note})
        print("Plan posted on the merge request.")
    return 0


def cmd_apply(args: argparse.Namespace) -> int:
    plan = portal_from_env().call("POST", "/api/v1/gitops/apply", {"files": read_files(args.dir), "prune": True})
    print(plan["text"], end="")
    return 0


def _prompt_suites(portal: Portal, files: dict[str, str], deadline: float) -> list[dict[str, Any]]:
    """One finished test run per prompt that has test cases, against its live version."""
    tenant = portal.call("POST", "/api/v1/gitops/plan", {"files": files})["tenant"]
    runs = []
    for path in sorted(files):
        parts = path.split("/")
        if len(parts) != 3 or parts[0] != "prompts" or parts[2] != "tests.yaml":
            continue
        service = parts[1]
        base = f"/api/v1/tenants/{tenant}/services/{service}/prompt"
        try:
            version = portal.call("GET", base)["live_version"]
            run = portal.call("POST", f"{base}/versions/{version}/test-runs/")
            while run["status"] not in FINISHED and time.monotonic() < deadline:
                time.sleep(2)
                run = portal.call("GET", f"{base}/versions/{version}/test-runs/{run['id']}/")
            if run["status"] not in FINISHED:
                run = {**run, "status": "error", "error": "the run did not finish in time"}
        except PortalError as exc:
            run = {"status": "error", "error": str(exc), "results": [], "version": None}
        runs.append({"service": service, **run})
    return runs


def junit_xml(runs: list[dict[str, Any]]) -> ET.ElementTree:
    """JUnit XML as GitLab reads it: a testsuite per prompt, a testcase per test case."""
    root = ET.Element("testsuites", name="prompt test cases")
    totals = {"tests": 0, "failures": 0, "errors": 0}
    for run in runs:
        suite = ET.SubElement(root, "testsuite", name=f"{run['service']} v{run.get('version')}")
        counts = {"tests": 0, "failures": 0, "errors": 0}
        seconds = 0.0
        for result in run.get("results") or []:
            latency = (result.get("latency_ms") or 0) / 1000
            seconds += latency
            case = ET.SubElement(
                suite,
                "testcase",
                classname=f"prompts.{run['service']}",
                name=result["case_name"],
                time=f"{latency:.3f}",
            )
            counts["tests"] += 1
            if result.get("error"):
                counts["errors"] += 1
                ET.SubElement(case, "error", message=result["error"][:500]).text = result["error"]
            elif not result.get("passed"):
                counts["failures"] += 1
                failures = "; ".join(map(str, result.get("failures") or [])) or "a check failed"
                ET.SubElement(case, "failure", message=failures[:500]).text = failures
            if result.get("output"):
                ET.SubElement(case, "system-out").text = result["output"]
        if run["status"] == "error" and run.get("error"):
            case = ET.SubElement(suite, "testcase", classname=f"prompts.{run['service']}", name="(run)", time="0")
            ET.SubElement(case, "error", message=run["error"][:500]).text = run["error"]
            counts["tests"] += 1
            counts["errors"] += 1
        suite.set("time", f"{seconds:.3f}")
        for key, value in counts.items():
            suite.set(key, str(value))
            totals[key] += value
    for key, value in totals.items():
        root.set(key, str(value))
    ET.indent(root)
    return ET.ElementTree(root)


def cmd_prompt_tests(args: argparse.Namespace) -> int:
    runs = _prompt_suites(portal_from_env(), read_files(args.dir), time.monotonic() + args.timeout)
    tree = junit_xml(runs)
    tree.write(args.junit, encoding="utf-8", xml_declaration=True)
    root = tree.getroot()
    print(f"{root.get('tests')} test cases, {root.get('failures')} failed, {root.get('errors')} errors: {args.junit}")
    return 1 if int(root.get("failures", 0)) or int(root.get("errors", 0)) else 0


def parser() -> argparse.ArgumentParser:
    main = argparse.ArgumentParser(prog="ci/portal.py", description=__doc__.split("\n\n")[0])
    main.add_argument("--dir", type=Path, default=Path(os.environ.get("DEFINITIONS_DIR", "definitions")))
    sub = main.add_subparsers(dest="command", required=True)
    sub.add_parser("validate", help="check every file (schema, references, secrets) without changing anything")
    plan = sub.add_parser("plan", help="print what apply would change; write it to --output (+ .json)")
    plan.add_argument("--output", default="plan.txt")
    sub.add_parser("apply", help="make the tenant match the files (deleting what they no longer have)")
    tests = sub.add_parser("prompt-tests", help="run the prompts' test cases through the gateway, as JUnit XML")
    tests.add_argument("--junit", default="prompt-tests.xml")
    tests.add_argument("--timeout", type=float, default=600)
    return main


COMMANDS = {"validate": cmd_validate, "plan": cmd_plan, "apply": cmd_apply, "prompt-tests": cmd_prompt_tests}


def main(argv: list[str] | None = None) -> int:
    args = parser().parse_args(argv)
    try:
        return COMMANDS[args.command](args)
    except PortalError as exc:
        print(f"{args.command}: {exc}", file=sys.stderr)
        return 1


if __name__ == "__main__":
    sys.exit(main())
