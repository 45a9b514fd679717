"""`make doctor`: checks the Meta set-up (token, the WABA's dataset, the token's reach to it, the Graph
API version) against the configured Graph URL and prints the fix for each failure.

    python -m devstack.doctor                     # local.env: the local stack's stand-in (make dev)
    python -m devstack.doctor --stack NAME        # a deployed stack: its parameters, the SSM token
    python -m devstack.doctor --create            # also create the WABA's dataset (idempotent)

Exit status 0 when every check passes, 1 otherwise. The token is never printed.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any

import httpx

from devstack.envfile import parse_env_file, secret_parameter_name
from wa_conversions.config import META_API_VERSION
from wa_conversions.forwarding.meta_doctor import MetaSetup, report, run_checks

DEFAULT_GRAPH = "https://graph.facebook.com"


def local_setup(env_file: Path) -> tuple[MetaSetup, str]:
    env = parse_env_file(env_file)
    prefix = env.get("PARAMETER_PREFIX", "/wa-conversions")
    setup = MetaSetup(
        graph_base_url=env.get("META_GRAPH_BASE_URL") or DEFAULT_GRAPH,
        api_version=env.get("META_API_VERSION") or META_API_VERSION,
        waba_id=env.get("META_WABA_ID", ""),
        dataset_id=env.get("META_DATASET_ID", ""),
        secret_name=secret_parameter_name(prefix, "META_ACCESS_TOKEN"),
    )
    return setup, env.get("META_ACCESS_TOKEN", "")


def stack_setup(stack_name: str) -> tuple[MetaSetup, str]:
    """A deployed stack's parameters (CloudFormation) and its token (SSM SecureString)."""
    import boto3

    stack = boto3.client("cloudformation").describe_stacks(StackName=stack_name)["Stacks"][0]
    parameters = {p["ParameterKey"]: p.get("ParameterValue", "") for p in stack.get("Parameters", [])}
    prefix = parameters.get("ParameterPrefix") or "/wa-conversions"
    name = secret_parameter_name(prefix, "META_ACCESS_TOKEN")
    ssm = boto3.client("ssm")
    try:
        token = ssm.get_parameter(Name=name, WithDecryption=True)["Parameter"]["Value"]
    except ssm.exceptions.ParameterNotFound:
        token = ""
    setup = MetaSetup(
        graph_base_url=parameters.get("MetaGraphBaseUrl") or DEFAULT_GRAPH,
        api_version=parameters.get("MetaApiVersion") or META_API_VERSION,
        waba_id=parameters.get("MetaWabaId", ""),
        dataset_id=parameters.get("MetaDatasetId", ""),
        secret_name=name,
    )
    return setup, token


def diagnose(setup: MetaSetup, token: str, *, create: bool = False) -> dict[str, Any]:
    with httpx.Client(base_url=setup.graph_base_url, timeout=10.0) as client:
        return report(setup, run_checks(client, setup, token, create=create))


def render(result: dict[str, Any]) -> str:
    lines = [
        f"Meta set-up at {result['graph_base_url']} (Graph {result['api_version']}, "
        f"WABA {result['waba_id'] or '-'}, dataset {result['dataset_id'] or '-'})"
    ]
    for check in result["checks"]:
        lines.append(f"  {'ok  ' if check['ok'] else 'FAIL'} {check['name']}: {check['detail']}")
        if check["fix"]:
            lines.append(f"       fix: {check['fix']}")
    lines.append("all checks passed" if result["ok"] else "some checks failed: see the fixes above")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m devstack.doctor", description=__doc__.split("\n")[0])
    parser.add_argument("--env", default="local.env", help="settings file of the local stack")
    parser.add_argument("--stack", help="a deployed stack's name: read its parameters and SSM token")
    parser.add_argument("--create", action="store_true", help="create the WABA's dataset if it has none")
    parser.add_argument("--json", action="store_true", help="print the report as JSON")
    args = parser.parse_args(argv)
    setup, token = stack_setup(args.stack) if args.stack else local_setup(Path(args.env))
    result = diagnose(setup, token, create=args.create)
    print(json.dumps(result, indent=2) if args.json else render(result))
    return 0 if result["ok"] else 1


if __name__ == "__main__":
    sys.exit(main())
