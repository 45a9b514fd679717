"""How the local stack reads a SAM template: short tags, parameters from local.env, conditions and
intrinsic functions. Pure: no moto, no processes."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from devstack.apigw import RouteMatch, RouteTable, localize_urls
from devstack.cfn import (
    NO_VALUE,
    Evaluator,
    PseudoParameters,
    TemplateError,
    load_template,
    parameter_for_env_key,
    parse_template,
    references,
    resolve_parameters,
)
from devstack.envfile import parse_env_text, secret_parameter_name
from devstack.functions import ApiRoute, FunctionReader, merge_globals
from devstack.provision import Provisioner

ROOT = Path(__file__).resolve().parents[2]
PSEUDO = PseudoParameters(stack_name="wa-conversions-local", region="eu-west-1")

TEMPLATE = """
Parameters:
  Stage: {Type: String, Default: dev, AllowedValues: [dev, prod]}
  DefaultCountry: {Type: String, Default: BR}
  EnableWaxDestination: {Type: String, Default: "false"}
  Retention: {Type: Number, Default: 400, MinValue: 1}
  Zones: {Type: CommaDelimitedList, Default: "a,b"}
Mappings:
  Sizes:
    dev: {memory: 128}
    prod: {memory: 1024}
Conditions:
  IsProd: !Equals [!Ref Stage, prod]
  WaxEnabled: !Equals [!Ref EnableWaxDestination, "true"]
  ProdWithWax: !And [!Condition IsProd, !Condition WaxEnabled]
  AnyOf: !Or [!Condition IsProd, !Condition WaxEnabled]
  NotProd: !Not [!Condition IsProd]
Resources:
  Queue:
    Type: AWS::SQS::Queue
  WaxFunction:
    Type: AWS::Serverless::Function
    Condition: WaxEnabled
    Properties:
      FunctionName: !Sub "${AWS::StackName}-wax"
"""


def evaluator(overrides: dict[str, str] | None = None, resources: Any = None) -> Evaluator:
    template = parse_template(TEMPLATE)
    return Evaluator(template, resolve_parameters(template, overrides), PSEUDO, resources)


class FakeResources:
    def ref(self, logical_id: str) -> Any:
        return f"ref-of-{logical_id}"

    def get_att(self, logical_id: str, attribute: str) -> Any:
        return f"{attribute}-of-{logical_id}"


# -- YAML -----------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("yaml_text", "expected"),
    [
        ("!Ref Table", {"Ref": "Table"}),
        ("!GetAtt Queue.Arn", {"Fn::GetAtt": ["Queue", "Arn"]}),
        ("!GetAtt Db.Endpoint.Address", {"Fn::GetAtt": ["Db", "Endpoint.Address"]}),
        ("!GetAtt [Queue, Arn]", {"Fn::GetAtt": ["Queue", "Arn"]}),
        ('!Sub "${AWS::StackName}-x"', {"Fn::Sub": "${AWS::StackName}-x"}),
        ("!Sub ['${A}', {A: !Ref B}]", {"Fn::Sub": ["${A}", {"A": {"Ref": "B"}}]}),
        ("!If [C, 1, 2]", {"Fn::If": ["C", 1, 2]}),
        ("!Equals [!Ref P, x]", {"Fn::Equals": [{"Ref": "P"}, "x"]}),
        ("!Not [!Condition C]", {"Fn::Not": [{"Condition": "C"}]}),
        ("!And [!Condition A, !Condition B]", {"Fn::And": [{"Condition": "A"}, {"Condition": "B"}]}),
        ("!Or [!Condition A, !Condition B]", {"Fn::Or": [{"Condition": "A"}, {"Condition": "B"}]}),
        ("!Select [0, !Split [',', 'a,b']]", {"Fn::Select": [0, {"Fn::Split": [",", "a,b"]}]}),
        ("!Join ['-', [a, b]]", {"Fn::Join": ["-", ["a", "b"]]}),
        ("!FindInMap [M, k, v]", {"Fn::FindInMap": ["M", "k", "v"]}),
        ("!ImportValue shared-vpc", {"Fn::ImportValue": "shared-vpc"}),
        ("!Base64 text", {"Fn::Base64": "text"}),
        ("!GetAZs ''", {"Fn::GetAZs": ""}),
        ("2010-09-09", "2010-09-09"),
    ],
)
def test_short_tags_load_as_long_forms(yaml_text: str, expected: Any) -> None:
    assert parse_template(f"Value: {yaml_text}\n")["Value"] == expected


def test_the_repository_template_loads() -> None:
    template = load_template(ROOT / "template.yaml")

    assert template["Resources"]["WhatsAppIngestQueue"]["Properties"]["RedrivePolicy"][
        "deadLetterTargetArn"
    ] == {"Fn::GetAtt": ["WhatsAppIngestDLQ", "Arn"]}


# -- parameters -----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("key", "parameter"),
    [
        ("DEFAULT_COUNTRY", "DefaultCountry"),
        ("ENABLE_WAX_DESTINATION", "EnableWaxDestination"),
        ("STAGE", "Stage"),
        ("WHATSAPP_APP_SECRET", None),
    ],
)
def test_env_keys_map_to_camel_case_parameters(key: str, parameter: str | None) -> None:
    names = list(parse_template(TEMPLATE)["Parameters"])

    assert parameter_for_env_key(key, names) == parameter


def test_parameters_take_defaults_then_overrides() -> None:
    template = parse_template(TEMPLATE)

    defaults = resolve_parameters(template)
    overridden = resolve_parameters(template, {"DefaultCountry": "MX", "Zones": "x, y"})

    assert defaults == {
        "Stage": "dev",
        "DefaultCountry": "BR",
        "EnableWaxDestination": "false",
        "Retention": "400",
        "Zones": ["a", "b"],
    }
    assert overridden["DefaultCountry"] == "MX"
    assert overridden["Zones"] == ["x", "y"]


@pytest.mark.parametrize(
    "overrides",
    [{"Stage": "qa"}, {"Retention": "0"}, {"Retention": "many"}, {"Unknown": "x"}],
)
def test_invalid_parameter_values_are_refused(overrides: dict[str, str]) -> None:
    with pytest.raises(TemplateError):
        resolve_parameters(parse_template(TEMPLATE), overrides)


def test_the_repository_parameters_resolve_with_local_env() -> None:
    template = load_template(ROOT / "template.yaml")
    env = parse_env_text((ROOT / "local.env").read_text())
    names = list(template["Parameters"])
    overrides = {p: v for k, v in env.items() if (p := parameter_for_env_key(k, names))}

    parameters = resolve_parameters(template, overrides)

    assert parameters["ParameterPrefix"] == "wa-conversions"


# -- conditions -----------------------------------------------------------------------------------


def test_conditions_combine() -> None:
    assert evaluator().conditions() == {
        "IsProd": False,
        "WaxEnabled": False,
        "ProdWithWax": False,
        "AnyOf": False,
        "NotProd": True,
    }
    assert evaluator({"Stage": "prod", "EnableWaxDestination": "true"}).conditions() == {
        "IsProd": True,
        "WaxEnabled": True,
        "ProdWithWax": True,
        "AnyOf": True,
        "NotProd": False,
    }


def test_resources_with_a_false_condition_are_skipped() -> None:
    template = parse_template(TEMPLATE)
    off = Provisioner(template, resolve_parameters(template), PSEUDO)
    on = Provisioner(template, resolve_parameters(template, {"EnableWaxDestination": "true"}), PSEUDO)

    assert off.logical_ids("AWS::Serverless::Function") == []
    assert on.logical_ids("AWS::Serverless::Function") == ["WaxFunction"]
    assert on.ref("WaxFunction") == "wa-conversions-local-wax"
    with pytest.raises(TemplateError, match="condition WaxEnabled is false"):
        off.ref("WaxFunction")


def test_fn_if_picks_a_branch_and_no_value_removes_the_entry() -> None:
    value = {
        "Memory": {"Fn::If": ["IsProd", 1024, 128]},
        "Optional": {"Fn::If": ["IsProd", "x", {"Ref": "AWS::NoValue"}]},
        "List": ["a", {"Fn::If": ["NotProd", {"Ref": "AWS::NoValue"}, "b"]}],
    }

    assert evaluator().resolve(value) == {"Memory": 128, "List": ["a"]}
    assert evaluator().resolve({"Ref": "AWS::NoValue"}) is NO_VALUE


# -- intrinsic functions --------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("expression", "expected"),
    [
        ({"Fn::Sub": "${AWS::StackName}-${AWS::Region}"}, "wa-conversions-local-eu-west-1"),
        ({"Fn::Sub": "arn:${AWS::Partition}:sqs:${AWS::AccountId}"}, "arn:aws:sqs:123456789012"),
        ({"Fn::Sub": "/${DefaultCountry}/${Retention}"}, "/BR/400"),
        ({"Fn::Sub": "${Queue}|${Queue.Arn}"}, "ref-of-Queue|Arn-of-Queue"),
        ({"Fn::Sub": "${!Literal}-${ Stage }"}, "${Literal}-dev"),
        ({"Fn::Sub": ["${Name}.${Stage}", {"Name": {"Ref": "DefaultCountry"}}]}, "BR.dev"),
        ({"Fn::Join": ["-", [{"Ref": "Stage"}, "x"]]}, "dev-x"),
        ({"Fn::Select": [1, {"Ref": "Zones"}]}, "b"),
        ({"Fn::Split": [",", "a,b,c"]}, ["a", "b", "c"]),
        ({"Fn::FindInMap": ["Sizes", {"Ref": "Stage"}, "memory"]}, 128),
        ({"Fn::Base64": "hi"}, "aGk="),
        ({"Fn::GetAZs": ""}, ["eu-west-1a", "eu-west-1b", "eu-west-1c"]),
        ({"Fn::GetAtt": ["Queue", "Arn"]}, "Arn-of-Queue"),
        ({"Ref": "AWS::StackName"}, "wa-conversions-local"),
    ],
)
def test_intrinsic_functions_resolve(expression: Any, expected: Any) -> None:
    assert evaluator(resources=FakeResources()).resolve(expression) == expected


def test_unsupported_and_unknown_references_fail_clearly() -> None:
    with pytest.raises(TemplateError, match="ImportValue"):
        evaluator().resolve({"Fn::ImportValue": "x"})
    with pytest.raises(TemplateError, match="Nope"):
        evaluator(resources=Provisioner(parse_template(TEMPLATE), {}, PSEUDO)).resolve({"Ref": "Nope"})


def test_references_find_dependencies_in_sub_and_getatt() -> None:
    value = {
        "A": {"Fn::Sub": ["${X}-${Y.Arn}-${!Z}-${V}", {"V": {"Ref": "W"}}]},
        "B": [{"Fn::GetAtt": ["Q", "Arn"]}],
    }

    assert set(references(value)) == {"X", "Y", "W", "Q"}


def test_the_repository_function_names_and_sam_generated_ids_resolve() -> None:
    template = load_template(ROOT / "template.yaml")
    provisioner = Provisioner(template, resolve_parameters(template), PSEUDO)

    assert provisioner.ref("WhatsAppWebhookFunction") == "wa-conversions-local-WhatsAppWebhookFunction"
    assert provisioner.get_att("WhatsAppWebhookFunctionRole", "Arn").endswith(
        ":role/wa-conversions-local-WhatsAppWebhookFunctionRole"
    )
    assert provisioner.evaluator.resolve({"Fn::Sub": "https://${Api}.execute-api"}).startswith("https://")


def test_the_webhooks_are_served_as_an_http_api_and_kept_on_rest_and_the_operator_routes_as_rest() -> None:
    template = load_template(ROOT / "template.yaml")
    provisioner = Provisioner(template, resolve_parameters(template), PSEUDO)
    reader = FunctionReader(provisioner, ROOT)
    routes: list[ApiRoute] = []
    for logical_id in provisioner.logical_ids("AWS::Serverless::Function"):
        for name, event in (reader.merged_properties(logical_id).get("Events") or {}).items():
            # the API events alone: the others, and environments, need the queues and tables created
            if event["Type"] in ("Api", "HttpApi"):
                reader._read_event(logical_id, name, event, routes, [], [])
    webhook_keys = {
        ("GET", "/webhooks/whatsapp"),
        ("POST", "/webhooks/whatsapp"),
        ("POST", "/webhooks/cm"),
        ("POST", "/webhooks/twilio"),
        ("POST", "/webhooks/shopify"),
    }

    by_api: dict[tuple[str, str, str], set[tuple[str, str]]] = {}
    functions: dict[tuple[str, str], set[str]] = {}
    for route in routes:
        if route.path.startswith("/webhooks/"):
            by_api.setdefault((route.api, route.stage, route.payload_format), set()).add(
                (route.method, route.path)
            )
            functions.setdefault((route.method, route.path), set()).add(route.function)

    # every webhook on the HTTP API (payload 2.0) and, for providers not yet re-pointed, on REST (1.0),
    # both routes of a webhook invoking its one function
    assert by_api == {("WebhookApi", "v1", "2.0"): webhook_keys, ("Api", "v1", "1.0"): webhook_keys}
    assert all(len(names) == 1 for names in functions.values())
    operator = [route for route in routes if not route.path.startswith("/webhooks/")]
    assert operator and {(r.api, r.stage, r.payload_format) for r in operator} == {("Api", "v1", "1.0")}
    # one local port serves both: a webhook path is answered as the HTTP API answers it
    served = RouteTable(routes).match("POST", "/webhooks/twilio")
    assert isinstance(served, RouteMatch) and served.route.payload_format == "2.0"
    # the outputs a provider is pointed at are the HTTP API's, the REST ones kept as legacy, and the
    # local stack's URL replaces them
    url = provisioner.evaluator.resolve(template["Outputs"]["TwilioWebhookUrl"]["Value"])
    assert (
        url
        == f"https://{provisioner.api_id('WebhookApi')}.execute-api.{PSEUDO.region}.amazonaws.com/v1/webhooks/twilio"
    )
    legacy = provisioner.evaluator.resolve(template["Outputs"]["LegacyTwilioWebhookUrl"]["Value"])
    assert (
        legacy
        == f"https://{provisioner.api_id('Api')}.execute-api.{PSEUDO.region}.amazonaws.com/v1/webhooks/twilio"
    )
    for output in (url, legacy):
        assert (
            localize_urls(output, routes, PSEUDO.region, "http://127.0.0.1:3000")
            == "http://127.0.0.1:3000/webhooks/twilio"
        )


# -- Globals and the env file ---------------------------------------------------------------------


def test_globals_merge_like_sam() -> None:
    merged = merge_globals(
        {
            "Timeout": 10,
            "Layers": ["g"],
            "Environment": {"Variables": {"A": "1", "B": "1"}},
            "Memory": {"Ref": "M"},
        },
        {
            "Timeout": 30,
            "Layers": ["f"],
            "Environment": {"Variables": {"B": "2"}},
            "Memory": {"Fn::Sub": "x"},
        },
    )

    assert merged == {
        "Timeout": 30,
        "Layers": ["g", "f"],
        "Environment": {"Variables": {"A": "1", "B": "2"}},
        "Memory": {"Fn::Sub": "x"},
    }


def test_env_file_lines() -> None:
    text = (
        "# comment\n\nA=1\nexport B = two words \nC=\"quoted # not a comment\"\nD=x # comment\nE='$raw'\nF=\n"
    )

    assert parse_env_text(text) == {
        "A": "1",
        "B": "two words",
        "C": "quoted # not a comment",
        "D": "x",
        "E": "$raw",
        "F": "",
    }
    with pytest.raises(ValueError, match="line 1"):
        parse_env_text("not a setting")


def test_secret_names_follow_the_ssm_convention() -> None:
    assert (
        secret_parameter_name("wa-conversions", "WHATSAPP_APP_SECRET")
        == "/wa-conversions/whatsapp-app-secret"
    )
    assert secret_parameter_name("/team/app/", "API_KEY") == "/team/app/api-key"
