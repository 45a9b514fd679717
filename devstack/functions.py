"""The template's AWS::Serverless::Function resources, read as the local stack runs them."""

from __future__ import annotations

import json
import logging
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Final

from devstack.cfn import TemplateError, intrinsic, to_str
from devstack.provision import (
    IMPLICIT_API,
    IMPLICIT_HTTP_API,
    SERVERLESS_API,
    SERVERLESS_FUNCTION,
    SERVERLESS_HTTP_API,
    Provisioner,
)

log = logging.getLogger("devstack")

# Lambda's defaults when neither the function nor Globals set them.
DEFAULT_MEMORY_MB: Final = 128
DEFAULT_TIMEOUT_S: Final = 3
_LAYER_TYPES: Final = ("AWS::Serverless::LayerVersion", "AWS::Lambda::LayerVersion")


@dataclass(frozen=True)
class ApiRoute:
    function: str
    event: str
    path: str
    method: str
    api: str
    api_id: str
    stage: str
    # "1.0": a REST API's proxy event; "2.0": an HTTP API's (AWS::Serverless::HttpApi, HttpApi events)
    payload_format: str = "1.0"


@dataclass(frozen=True)
class SqsSource:
    function: str
    event: str
    queue_arn: str
    batch_size: int = 10
    report_batch_item_failures: bool = False
    filter_patterns: tuple[str, ...] = ()
    batching_window_seconds: float = 0.0


@dataclass(frozen=True)
class FunctionSpec:
    logical_id: str
    name: str
    arn: str
    code_dir: Path
    handler: str
    runtime: str
    memory_mb: int
    timeout_s: int
    environment: dict[str, str]
    layer_dirs: tuple[Path, ...]
    api_routes: tuple[ApiRoute, ...] = ()
    sqs_sources: tuple[SqsSource, ...] = ()
    rule_events: tuple[tuple[str, dict[str, Any]], ...] = field(default=(), repr=False)


def merge_globals(global_values: Mapping[str, Any], own: Mapping[str, Any]) -> dict[str, Any]:
    """SAM's Globals semantics: maps merge, lists append to the global entries, scalars override."""
    merged = dict(global_values)
    for key, value in own.items():
        base = merged.get(key)
        if isinstance(base, dict) and isinstance(value, dict) and not (intrinsic(base) or intrinsic(value)):
            merged[key] = merge_globals(base, value)
        elif isinstance(base, list) and isinstance(value, list):
            merged[key] = base + value
        else:
            merged[key] = value
    return merged


def _globals(template: Mapping[str, Any], section: str) -> Mapping[str, Any]:
    return (template.get("Globals") or {}).get(section) or {}


def _env_value(value: Any) -> str:
    if isinstance(value, dict | list):
        raise TemplateError(f"environment values must be scalars, got {value!r}")
    return to_str(value)


class FunctionReader:
    def __init__(self, provisioner: Provisioner, base_dir: Path) -> None:
        self.provisioner = provisioner
        self.evaluator = provisioner.evaluator
        self.template = provisioner.template
        self.base_dir = base_dir

    def read_all(self) -> list[FunctionSpec]:
        specs = []
        for logical_id in self.provisioner.logical_ids(SERVERLESS_FUNCTION):
            spec = self.read(logical_id)
            if spec is not None:
                specs.append(spec)
        return specs

    def merged_properties(self, logical_id: str) -> dict[str, Any]:
        own = self.provisioner.resources[logical_id].get("Properties") or {}
        return merge_globals(_globals(self.template, "Function"), own)

    def read(self, logical_id: str) -> FunctionSpec | None:
        raw = self.merged_properties(logical_id)
        resolve = self.evaluator.resolve
        if to_str(resolve(raw.get("PackageType", "Zip"))) != "Zip":
            self.provisioner.warn_once(f"image:{logical_id}", f"{logical_id}: image functions are not run")
            return None
        runtime = to_str(resolve(raw.get("Runtime", "")))
        if not runtime.startswith("python"):
            self.provisioner.warn_once(
                f"runtime:{logical_id}", f"{logical_id}: runtime {runtime!r} is not run locally"
            )
            return None
        code_uri = resolve(raw.get("CodeUri"))
        if not isinstance(code_uri, str):
            raise TemplateError(f"{logical_id}: CodeUri must be a local folder, got {code_uri!r}")
        code_dir = (self.base_dir / code_uri).resolve()
        if not code_dir.is_dir():
            raise TemplateError(f"{logical_id}: CodeUri {code_dir} is not a folder")
        handler = to_str(resolve(raw.get("Handler", "")))
        if "." not in handler:
            raise TemplateError(f"{logical_id}: Handler {handler!r} is not module.function")
        variables = ((raw.get("Environment") or {}).get("Variables")) or {}
        resolved_variables = resolve(variables)
        environment = {key: _env_value(value) for key, value in resolved_variables.items()}
        routes: list[ApiRoute] = []
        sqs_sources: list[SqsSource] = []
        rule_events: list[tuple[str, dict[str, Any]]] = []
        for event_name, event in (raw.get("Events") or {}).items():
            self._read_event(logical_id, event_name, event, routes, sqs_sources, rule_events)
        return FunctionSpec(
            logical_id=logical_id,
            name=self.provisioner.function_name(logical_id),
            arn=self.provisioner.function_arn(logical_id),
            code_dir=code_dir,
            handler=handler,
            runtime=runtime,
            memory_mb=int(to_str(resolve(raw.get("MemorySize", DEFAULT_MEMORY_MB)))),
            timeout_s=int(to_str(resolve(raw.get("Timeout", DEFAULT_TIMEOUT_S)))),
            environment=environment,
            layer_dirs=self._layer_dirs(logical_id, raw.get("Layers") or []),
            api_routes=tuple(routes),
            sqs_sources=tuple(sqs_sources),
            rule_events=tuple(rule_events),
        )

    def _layer_dirs(self, logical_id: str, layers: list[Any]) -> tuple[Path, ...]:
        folders: list[Path] = []
        for layer in layers:
            call = intrinsic(layer)
            target = call[1] if call is not None and call[0] == "Ref" else None
            if not isinstance(target, str) or self.provisioner.kind_or_none(target) not in _LAYER_TYPES:
                self.provisioner.warn_once(
                    f"layer:{layer!r}",
                    f"{logical_id}: layer {layer!r} is not in this template; relying on the venv instead",
                )
                continue
            layer_properties = self.provisioner.properties(target)
            content = layer_properties.get("ContentUri")
            if not isinstance(content, str):
                raise TemplateError(f"{target}: ContentUri must be a local folder, got {content!r}")
            folder = (self.base_dir / content).resolve()
            built = (self.provisioner.resources[target].get("Metadata") or {}).get("BuildMethod")
            # Without a BuildMethod the folder is zipped as is, so Lambda finds the code in python/.
            if not built and (folder / "python").is_dir():
                folder = folder / "python"
            folders.append(folder)
        return tuple(folders)

    def _api_stage(self, api: str) -> str:
        if api == IMPLICIT_API:
            return "Prod"
        if api == IMPLICIT_HTTP_API:
            return "$default"
        own = self.provisioner.resources[api].get("Properties") or {}
        http = self.provisioner.kind_or_none(api) == SERVERLESS_HTTP_API
        properties = merge_globals(_globals(self.template, "HttpApi" if http else "Api"), own)
        # an HTTP API without a StageName has only $default, whose URL has no stage in it
        return to_str(self.evaluator.resolve(properties.get("StageName", "$default" if http else "Prod")))

    def _read_event(
        self,
        logical_id: str,
        event_name: str,
        event: Mapping[str, Any],
        routes: list[ApiRoute],
        sqs_sources: list[SqsSource],
        rule_events: list[tuple[str, dict[str, Any]]],
    ) -> None:
        kind = event.get("Type")
        raw_properties = event.get("Properties") or {}
        label = f"{logical_id}.{event_name}"
        if kind == "Api":
            rest_api = raw_properties.get("RestApiId")
            call = intrinsic(rest_api)
            if rest_api is None:
                api = IMPLICIT_API
            elif call is not None and call[0] == "Ref" and isinstance(call[1], str):
                api = call[1]
            else:
                raise TemplateError(f"{label}: RestApiId must be a Ref to an Api of this template")
            if api != IMPLICIT_API and self.provisioner.kind_or_none(api) != SERVERLESS_API:
                raise TemplateError(f"{label}: {api} is not an AWS::Serverless::Api")
            properties = self.evaluator.resolve(raw_properties)
            method = to_str(properties["Method"]).upper()
            routes.append(
                ApiRoute(
                    function=logical_id,
                    event=event_name,
                    path=to_str(properties["Path"]),
                    method="ANY" if method in ("ANY", "X-AMAZON-APIGATEWAY-ANY-METHOD") else method,
                    api=api,
                    api_id=self.provisioner.api_id(api),
                    stage=self._api_stage(api),
                )
            )
        elif kind == "HttpApi":
            self._read_http_api_event(logical_id, label, raw_properties, routes)
        elif kind == "SQS":
            properties = self.evaluator.resolve(raw_properties)
            if properties.get("Enabled") in (False, "false"):
                return
            filters = (properties.get("FilterCriteria") or {}).get("Filters") or []
            sqs_sources.append(
                SqsSource(
                    function=logical_id,
                    event=event_name,
                    queue_arn=to_str(properties["Queue"]),
                    batch_size=int(to_str(properties.get("BatchSize", 10))),
                    batching_window_seconds=float(
                        to_str(properties.get("MaximumBatchingWindowInSeconds", 0))
                    ),
                    report_batch_item_failures="ReportBatchItemFailures"
                    in (properties.get("FunctionResponseTypes") or []),
                    filter_patterns=tuple(
                        f["Pattern"] if isinstance(f["Pattern"], str) else json.dumps(f["Pattern"])
                        for f in filters
                        if "Pattern" in f
                    ),
                )
            )
        elif kind in ("EventBridgeRule", "CloudWatchEvent"):
            rule_events.append((event_name, self.evaluator.resolve(raw_properties)))
        elif kind in ("Schedule", "ScheduleV2"):
            # Schedules never fire locally; `python -m devstack invoke <function>` runs one on demand.
            expression = to_str(self.evaluator.resolve(raw_properties.get("ScheduleExpression", "")))
            log.info("%s: schedule %s does not fire locally; invoke it on demand", label, expression)
        else:
            self.provisioner.warn_once(
                f"event:{kind}", f"{label}: {kind} events are not emulated locally; the event is ignored"
            )

    def _read_http_api_event(
        self, logical_id: str, label: str, raw_properties: Mapping[str, Any], routes: list[ApiRoute]
    ) -> None:
        """An HttpApi event: a route of an AWS::Serverless::HttpApi, payload format 2.0 unless the
        event says 1.0 (https://docs.aws.amazon.com/serverless-application-model/latest/developerguide/sam-property-function-httpapi.html)."""
        http_api = raw_properties.get("ApiId")
        call = intrinsic(http_api)
        if http_api is None:
            api = IMPLICIT_HTTP_API
        elif call is not None and call[0] == "Ref" and isinstance(call[1], str):
            api = call[1]
        else:
            raise TemplateError(f"{label}: ApiId must be a Ref to an HttpApi of this template")
        if api != IMPLICIT_HTTP_API and self.provisioner.kind_or_none(api) != SERVERLESS_HTTP_API:
            raise TemplateError(f"{label}: {api} is not an AWS::Serverless::HttpApi")
        properties = self.evaluator.resolve(raw_properties)
        if "Path" not in properties or "Method" not in properties:
            self.provisioner.warn_once(
                f"http-default:{label}", f"{label}: the $default route is not emulated locally; ignored"
            )
            return
        method = to_str(properties["Method"]).upper()
        routes.append(
            ApiRoute(
                function=logical_id,
                event=label.rpartition(".")[2],
                path=to_str(properties["Path"]),
                method="ANY" if method in ("ANY", "X-AMAZON-APIGATEWAY-ANY-METHOD") else method,
                api=api,
                api_id=self.provisioner.api_id(api),
                stage=self._api_stage(api),
                payload_format=to_str(properties.get("PayloadFormatVersion", "2.0")),
            )
        )
