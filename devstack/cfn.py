"""CloudFormation template reading and intrinsic-function evaluation, as far as the local stack needs it.

This is deliberately not a CloudFormation engine: it understands the short YAML tags, parameters,
conditions and the intrinsic functions that can appear in the properties the local stack reads
(resource names, queue settings, function environments...). Resource-specific Ref/GetAtt values come
from a `ResourceAttributes` object supplied by the caller, so that this module stays free of boto3.
"""

from __future__ import annotations

import base64
import json
import re
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Final, Protocol

import yaml

ACCOUNT_ID: Final = "123456789012"


class TemplateError(Exception):
    """The template uses something the local stack cannot evaluate, or is inconsistent."""


# ---------------------------------------------------------------------------------------------------
# YAML loading


class CfnLoader(yaml.SafeLoader):
    """SafeLoader that turns CloudFormation short tags (`!Ref x`) into their long forms (`{"Ref": x}`)."""


def _construct_node(loader: CfnLoader, node: yaml.Node) -> Any:
    if isinstance(node, yaml.ScalarNode):
        return loader.construct_scalar(node)
    if isinstance(node, yaml.SequenceNode):
        return loader.construct_sequence(node, deep=True)
    if isinstance(node, yaml.MappingNode):
        return loader.construct_mapping(node, deep=True)
    raise yaml.constructor.ConstructorError(None, None, f"unexpected node {node!r}", node.start_mark)


def _long_form(function: str) -> Callable[[CfnLoader, yaml.Node], dict[str, Any]]:
    def construct(loader: CfnLoader, node: yaml.Node) -> dict[str, Any]:
        return {function: _construct_node(loader, node)}

    return construct


def _construct_get_att(loader: CfnLoader, node: yaml.Node) -> dict[str, Any]:
    value = _construct_node(loader, node)
    if isinstance(value, str):
        # Only the first dot separates the resource: attributes such as Endpoint.Address contain dots.
        logical_id, _, attribute = value.partition(".")
        return {"Fn::GetAtt": [logical_id, attribute]}
    return {"Fn::GetAtt": value}


_SHORT_TAGS: Final = {
    "Ref": "Ref",
    "Condition": "Condition",
    **{
        name: f"Fn::{name}"
        for name in (
            "And",
            "Base64",
            "Cidr",
            "Equals",
            "FindInMap",
            "GetAZs",
            "If",
            "ImportValue",
            "Join",
            "Length",
            "Not",
            "Or",
            "Select",
            "Split",
            "Sub",
            "ToJsonString",
            "Transform",
        )
    },
}

for _tag, _function in _SHORT_TAGS.items():
    CfnLoader.add_constructor(f"!{_tag}", _long_form(_function))
CfnLoader.add_constructor("!GetAtt", _construct_get_att)

# CloudFormation reads unquoted dates as strings; YAML 1.1 would turn them into datetime objects,
# which then break json.dumps of event patterns and the like.
CfnLoader.yaml_implicit_resolvers = {
    first: [(tag, regexp) for tag, regexp in resolvers if tag != "tag:yaml.org,2002:timestamp"]
    for first, resolvers in yaml.SafeLoader.yaml_implicit_resolvers.items()
}


def load_template(path: str | Path) -> dict[str, Any]:
    text = Path(path).read_text(encoding="utf-8")
    try:
        return parse_template(text)
    except yaml.YAMLError as error:
        raise TemplateError(f"{path}: {error}") from None


def parse_template(text: str) -> dict[str, Any]:
    document = yaml.load(text, Loader=CfnLoader)  # noqa: S506 - CfnLoader is a SafeLoader subclass
    if not isinstance(document, dict):
        raise TemplateError("the template is not a mapping")
    return document


# ---------------------------------------------------------------------------------------------------
# Parameters


def _parameter_to_value(name: str, declaration: Mapping[str, Any], raw: Any) -> str | list[str]:
    kind = str(declaration.get("Type", "String"))
    text = ",".join(to_str(item) for item in raw) if isinstance(raw, list) else to_str(raw)
    allowed = declaration.get("AllowedValues")
    if kind.startswith("List<") or kind == "CommaDelimitedList":
        items = [item.strip() for item in text.split(",")] if text else []
        if allowed is not None:
            bad = [item for item in items if item not in [to_str(a) for a in allowed]]
            if bad:
                raise TemplateError(f"parameter {name}: {bad} not in AllowedValues {allowed}")
        return items
    if allowed is not None and text not in [to_str(a) for a in allowed]:
        raise TemplateError(f"parameter {name}: {text!r} is not one of AllowedValues {allowed}")
    pattern = declaration.get("AllowedPattern")
    if pattern is not None and re.fullmatch(str(pattern), text) is None:
        raise TemplateError(f"parameter {name}: {text!r} does not match AllowedPattern {pattern}")
    if kind == "Number":
        try:
            number = float(text)
        except ValueError:
            raise TemplateError(f"parameter {name}: {text!r} is not a number") from None
        if "MinValue" in declaration and number < float(declaration["MinValue"]):
            raise TemplateError(f"parameter {name}: {text} is below MinValue {declaration['MinValue']}")
        if "MaxValue" in declaration and number > float(declaration["MaxValue"]):
            raise TemplateError(f"parameter {name}: {text} is above MaxValue {declaration['MaxValue']}")
    return text


def resolve_parameters(
    template: Mapping[str, Any], overrides: Mapping[str, str] | None = None
) -> dict[str, str | list[str]]:
    """Parameter values as CloudFormation would see them: defaults, then overrides, validated.

    Values are strings (Number parameters too, as `Ref` returns them) or lists of strings for
    list types.
    """
    overrides = dict(overrides or {})
    declarations: Mapping[str, Any] = template.get("Parameters") or {}
    unknown = sorted(set(overrides) - set(declarations))
    if unknown:
        raise TemplateError(f"overrides for parameters the template does not declare: {unknown}")
    values: dict[str, str | list[str]] = {}
    for name, declaration in declarations.items():
        if name in overrides:
            raw: Any = overrides[name]
        elif "Default" in declaration:
            raw = declaration["Default"]
        else:
            raise TemplateError(f"parameter {name} has no Default and no value was given")
        values[name] = _parameter_to_value(name, declaration, raw)
    return values


def parameter_for_env_key(key: str, parameter_names: list[str]) -> str | None:
    """The template parameter an env-file KEY sets: DEFAULT_COUNTRY -> DefaultCountry.

    The comparison ignores case and underscores, so API_KEY matches ApiKey as well as APIKey.
    """
    wanted = key.replace("_", "").lower()
    for name in parameter_names:
        if name.lower() == wanted:
            return name
    return None


# ---------------------------------------------------------------------------------------------------
# Evaluation


class _NoValue:
    """AWS::NoValue: removes the property or list item it stands for."""

    _instance: _NoValue | None = None

    def __new__(cls) -> _NoValue:
        if cls._instance is None:
            cls._instance = super().__new__(cls)
        return cls._instance

    def __repr__(self) -> str:
        return "AWS::NoValue"


NO_VALUE: Final = _NoValue()


@dataclass(frozen=True)
class PseudoParameters:
    stack_name: str
    region: str
    account_id: str = ACCOUNT_ID
    partition: str = "aws"
    url_suffix: str = "amazonaws.com"

    @property
    def stack_id(self) -> str:
        return (
            f"arn:{self.partition}:cloudformation:{self.region}:{self.account_id}:"
            f"stack/{self.stack_name}/00000000-0000-0000-0000-000000000000"
        )

    def lookup(self, name: str) -> Any:
        values: dict[str, Any] = {
            "AWS::StackName": self.stack_name,
            "AWS::Region": self.region,
            "AWS::AccountId": self.account_id,
            "AWS::Partition": self.partition,
            "AWS::URLSuffix": self.url_suffix,
            "AWS::StackId": self.stack_id,
            "AWS::NotificationARNs": [],
            "AWS::NoValue": NO_VALUE,
        }
        if name not in values:
            raise TemplateError(f"unknown pseudo parameter {name}")
        return values[name]


class ResourceAttributes(Protocol):
    """What Ref and Fn::GetAtt return for the template's resources."""

    def ref(self, logical_id: str) -> Any: ...

    def get_att(self, logical_id: str, attribute: str) -> Any: ...


class _NoResources:
    def ref(self, logical_id: str) -> Any:
        raise TemplateError(f"Ref {logical_id}: resources are not available here")

    def get_att(self, logical_id: str, attribute: str) -> Any:
        raise TemplateError(f"GetAtt {logical_id}.{attribute}: resources are not available here")


def to_str(value: Any) -> str:
    """CloudFormation's string form of a scalar (booleans are lower case, as in YAML)."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, str):
        return value
    if isinstance(value, int | float):
        return str(value)
    raise TemplateError(f"expected a scalar, got {value!r}")


_SUB_PLACEHOLDER: Final = re.compile(r"\$\{([^}]*)\}")


def intrinsic(value: Any) -> tuple[str, Any] | None:
    """(function, argument) when `value` is an intrinsic function call, else None."""
    if isinstance(value, dict) and len(value) == 1:
        ((key, argument),) = value.items()
        if key == "Ref" or (isinstance(key, str) and key.startswith("Fn::")):
            return key, argument
    return None


def references(value: Any) -> Iterator[str]:
    """Names that `value` refers to through Ref, Fn::GetAtt or Fn::Sub (parameters included)."""
    call = intrinsic(value)
    if call is not None:
        function, argument = call
        if function == "Ref" and isinstance(argument, str):
            yield argument
            return
        if function == "Fn::GetAtt" and isinstance(argument, list) and argument:
            if isinstance(argument[0], str):
                yield argument[0]
            yield from references(argument[1:])
            return
        if function == "Fn::Sub":
            text, variables = (argument[0], argument[1]) if isinstance(argument, list) else (argument, {})
            if isinstance(text, str):
                for name in _SUB_PLACEHOLDER.findall(text):
                    if name.startswith("!") or name in variables:
                        continue
                    yield name.partition(".")[0]
            yield from references(variables)
            return
    if isinstance(value, dict):
        for item in value.values():
            yield from references(item)
    elif isinstance(value, list):
        for item in value:
            yield from references(item)


class Evaluator:
    """Resolves intrinsic functions against parameters, conditions, pseudo parameters and resources."""

    def __init__(
        self,
        template: Mapping[str, Any],
        parameters: Mapping[str, str | list[str]],
        pseudo: PseudoParameters,
        resources: ResourceAttributes | None = None,
    ) -> None:
        self.template = template
        self.parameters = dict(parameters)
        self.pseudo = pseudo
        self.resources: ResourceAttributes = resources or _NoResources()
        self._conditions: dict[str, bool] = {}
        self._evaluating: set[str] = set()

    # -- conditions -------------------------------------------------------------------------------

    def condition(self, name: str) -> bool:
        if name in self._conditions:
            return self._conditions[name]
        definitions: Mapping[str, Any] = self.template.get("Conditions") or {}
        if name not in definitions:
            raise TemplateError(f"unknown condition {name}")
        if name in self._evaluating:
            raise TemplateError(f"condition {name} refers to itself")
        self._evaluating.add(name)
        try:
            result = self._condition_expression(definitions[name])
        finally:
            self._evaluating.discard(name)
        self._conditions[name] = result
        return result

    def conditions(self) -> dict[str, bool]:
        return {name: self.condition(name) for name in self.template.get("Conditions") or {}}

    def _condition_expression(self, expression: Any) -> bool:
        if isinstance(expression, dict) and len(expression) == 1 and "Condition" in expression:
            return self.condition(str(expression["Condition"]))
        result = self.resolve(expression)
        if isinstance(result, bool):
            return result
        if isinstance(result, str) and result.lower() in ("true", "false"):
            return result.lower() == "true"
        raise TemplateError(f"condition expression {expression!r} did not evaluate to a boolean")

    def enabled(self, declaration: Mapping[str, Any]) -> bool:
        """Whether a resource or output is created, given its optional Condition."""
        name = declaration.get("Condition")
        return True if name is None else self.condition(str(name))

    # -- values -----------------------------------------------------------------------------------

    def resolve(self, value: Any) -> Any:
        """`value` with every intrinsic function evaluated; AWS::NoValue entries are dropped.

        Returns NO_VALUE only when `value` itself evaluates to AWS::NoValue.
        """
        call = intrinsic(value)
        if call is not None:
            return self._call(*call)
        if isinstance(value, dict):
            resolved = {key: self.resolve(item) for key, item in value.items()}
            return {key: item for key, item in resolved.items() if item is not NO_VALUE}
        if isinstance(value, list):
            return [item for item in (self.resolve(entry) for entry in value) if item is not NO_VALUE]
        return value

    def resolve_str(self, value: Any) -> str:
        return to_str(self.resolve(value))

    def ref(self, name: str) -> Any:
        if name.startswith("AWS::"):
            return self.pseudo.lookup(name)
        if name in self.parameters:
            return self.parameters[name]
        if name in (self.template.get("Resources") or {}):
            return self.resources.ref(name)
        raise TemplateError(f"Ref to unknown name {name}")

    def get_att(self, logical_id: str, attribute: str) -> Any:
        if logical_id not in (self.template.get("Resources") or {}):
            raise TemplateError(f"GetAtt of unknown resource {logical_id}")
        return self.resources.get_att(logical_id, attribute)

    def _call(self, function: str, argument: Any) -> Any:
        handler = getattr(self, "_fn_" + function.removeprefix("Fn::").lower(), None)
        if function == "Ref":
            return self.ref(self._expect_str(function, argument))
        if handler is None:
            raise TemplateError(f"{function} is not supported by the local stack")
        return handler(argument)

    @staticmethod
    def _expect_str(function: str, argument: Any) -> str:
        if not isinstance(argument, str):
            raise TemplateError(f"{function} expects a string, got {argument!r}")
        return argument

    def _expect_list(self, function: str, argument: Any, length: int | None = None) -> list[Any]:
        if not isinstance(argument, list) or (length is not None and len(argument) != length):
            size = f" of {length} items" if length is not None else ""
            raise TemplateError(f"{function} expects a list{size}, got {argument!r}")
        return argument

    def _fn_getatt(self, argument: Any) -> Any:
        if isinstance(argument, str):
            argument = list(argument.partition(".")[::2])
        logical_id, attribute = self._expect_list("Fn::GetAtt", argument, 2)
        return self.get_att(to_str(self.resolve(logical_id)), to_str(self.resolve(attribute)))

    def _fn_sub(self, argument: Any) -> str:
        if isinstance(argument, list):
            text, variables = self._expect_list("Fn::Sub", argument, 2)
            variables = {name: self.resolve(item) for name, item in variables.items()}
        else:
            text, variables = argument, {}
        text = self._expect_str("Fn::Sub", text)

        def replace(match: re.Match[str]) -> str:
            name = match.group(1)
            if name.startswith("!"):
                return "${" + name[1:] + "}"
            name = name.strip()
            if name in variables:
                return to_str(variables[name])
            if "." in name and not name.startswith("AWS::"):
                logical_id, _, attribute = name.partition(".")
                return to_str(self.get_att(logical_id, attribute))
            value = self.ref(name)
            if isinstance(value, list):
                raise TemplateError(f"Fn::Sub: ${{{name}}} is a list")
            return to_str(value)

        return _SUB_PLACEHOLDER.sub(replace, text)

    def _fn_if(self, argument: Any) -> Any:
        name, when_true, when_false = self._expect_list("Fn::If", argument, 3)
        return self.resolve(when_true if self.condition(to_str(name)) else when_false)

    def _fn_equals(self, argument: Any) -> bool:
        left, right = self._expect_list("Fn::Equals", argument, 2)
        return bool(_canonical(self.resolve(left)) == _canonical(self.resolve(right)))

    def _fn_not(self, argument: Any) -> bool:
        (operand,) = self._expect_list("Fn::Not", argument, 1)
        return not self._condition_expression(operand)

    def _fn_and(self, argument: Any) -> bool:
        return all(self._condition_expression(item) for item in self._expect_list("Fn::And", argument))

    def _fn_or(self, argument: Any) -> bool:
        return any(self._condition_expression(item) for item in self._expect_list("Fn::Or", argument))

    def _fn_join(self, argument: Any) -> str:
        delimiter, items = self._expect_list("Fn::Join", argument, 2)
        resolved = self.resolve(items)
        if not isinstance(resolved, list):
            raise TemplateError(f"Fn::Join expects a list of values, got {resolved!r}")
        return to_str(self.resolve(delimiter)).join(to_str(item) for item in resolved)

    def _fn_split(self, argument: Any) -> list[str]:
        delimiter, text = self._expect_list("Fn::Split", argument, 2)
        return to_str(self.resolve(text)).split(to_str(self.resolve(delimiter)))

    def _fn_select(self, argument: Any) -> Any:
        index, items = self._expect_list("Fn::Select", argument, 2)
        resolved = self.resolve(items)
        position = int(to_str(self.resolve(index)))
        if not isinstance(resolved, list) or not 0 <= position < len(resolved):
            raise TemplateError(f"Fn::Select: index {position} out of range for {resolved!r}")
        return resolved[position]

    def _fn_findinmap(self, argument: Any) -> Any:
        items = self._expect_list("Fn::FindInMap", argument)
        if len(items) not in (3, 4):
            raise TemplateError(f"Fn::FindInMap expects 3 or 4 items, got {items!r}")
        map_name, top, second = (to_str(self.resolve(item)) for item in items[:3])
        mapping = (self.template.get("Mappings") or {}).get(map_name, {})
        try:
            return self.resolve(mapping[top][second])
        except KeyError:
            if len(items) == 4 and isinstance(items[3], dict) and "DefaultValue" in items[3]:
                return self.resolve(items[3]["DefaultValue"])
            raise TemplateError(f"Fn::FindInMap: no {map_name}.{top}.{second}") from None

    def _fn_base64(self, argument: Any) -> str:
        return base64.b64encode(to_str(self.resolve(argument)).encode()).decode()

    def _fn_getazs(self, argument: Any) -> list[str]:
        region = to_str(self.resolve(argument)) or self.pseudo.region
        return [f"{region}{zone}" for zone in "abc"]

    def _fn_length(self, argument: Any) -> int:
        resolved = self.resolve(argument)
        if not isinstance(resolved, list):
            raise TemplateError(f"Fn::Length expects a list, got {resolved!r}")
        return len(resolved)

    def _fn_tojsonstring(self, argument: Any) -> str:
        return json.dumps(self.resolve(argument), separators=(",", ":"))

    def _fn_importvalue(self, argument: Any) -> Any:
        raise TemplateError(
            f"Fn::ImportValue {argument!r}: other stacks' exports do not exist in the local stack"
        )


def _canonical(value: Any) -> Any:
    if isinstance(value, list):
        return [_canonical(item) for item in value]
    if isinstance(value, bool | int | float | str):
        return to_str(value)
    return value
