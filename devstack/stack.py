"""The local stack: the template's resources in an embedded AWS, its functions in worker processes,
its API on a local port and its queues polled, all on one machine and without Docker.

    with DevStack("template.yaml", "local.env", port=0) as stack:
        httpx.post(stack.api_url + "/webhooks/whatsapp", ...)
        stack.wait_until_idle()
        table = stack.physical_id("Table")
"""

from __future__ import annotations

import dataclasses
import logging
import os
import threading
import time
import urllib.request
from collections.abc import Mapping
from pathlib import Path
from types import TracebackType
from typing import Any, Final, Self, TextIO

from devstack.apigw import ApiGateway, localize_urls
from devstack.aws import AwsClients, AwsEndpoint
from devstack.cfn import (
    PseudoParameters,
    TemplateError,
    load_template,
    parameter_for_env_key,
    resolve_parameters,
    to_str,
)
from devstack.envfile import NAMED_SECRETS_KEY, named_secrets, parse_env_file, secret_parameter_name
from devstack.functions import FunctionReader, FunctionSpec
from devstack.motoserver import MotoMode, MotoServer, start_moto
from devstack.pollers import Activity, PollerConfig, QueuePoller
from devstack.provision import Provisioner
from devstack.runtime import FunctionWorker, Invocation, lambda_environment
from devstack.standins import DEFAULT_URL as STANDINS_DEFAULT_URL
from devstack.standins import StandIns

log = logging.getLogger("devstack")

DEFAULT_STACK_NAME: Final = "wa-conversions-local"
# The batching window tests and the demo keep (batching_window_cap): a Meta batch gathers for a
# second, not the template's 20, and still grows past the 10 messages one receive returns.
QUICK_BATCHING_WINDOW: Final = 1.0
SECRETS_PREFIX_PARAMETER: Final = "ParameterPrefix"


def default_region() -> str:
    return os.environ.get("AWS_REGION") or os.environ.get("AWS_DEFAULT_REGION") or "us-east-1"


class DevStack:
    """Runs a SAM template locally. Use it as a context manager, or call start() and stop().

    Everything runs in this process (moto in a thread unless moto="process", the HTTP server and the
    queue pollers in threads) except the functions, which each get a worker process. os.environ is
    left alone: clients made by the caller need `endpoint_url=stack.aws_endpoint`, or
    `stack.client(...)`.
    """

    def __init__(
        self,
        template: str | Path = "template.yaml",
        env_file: str | Path | None = "local.env",
        *,
        port: int = 0,
        host: str = "127.0.0.1",
        region: str | None = None,
        stack_name: str = DEFAULT_STACK_NAME,
        parameter_overrides: Mapping[str, str] | None = None,
        moto: MotoMode = "thread",
        reload: bool = False,
        log_stream: TextIO | None = None,
        standins_port: int | None = None,
        batching_window_cap: float | None = None,
    ) -> None:
        """
        Args:
            template: the SAM template; CodeUri and ContentUri paths are relative to its folder.
            env_file: KEY=VALUE settings: each becomes a SecureString under /<ParameterPrefix>/, and
                keys that name a template parameter (DEFAULT_COUNTRY -> DefaultCountry) override it.
            port: the API's port; 0 picks a free one (see api_url).
            parameter_overrides: parameter values that win over the env file and the defaults.
            moto: "thread" runs moto in this process; "process" isolates its state in a child process
                (use that next to tests that use moto's in-process mock_aws).
            reload: restart a function's worker when a .py file of its code or layers changed.
            log_stream: where function output goes, prefixed with the function's name; stderr by default.
            standins_port: port of the destinations' stand-ins (devstack.standins); None: 3001, or a
                free port when `port` is 0. Parameters whose value starts with the stand-ins' default
                URL (http://127.0.0.1:3001, as local.env writes them) are pointed at the real port.
            batching_window_cap: the longest batching window (seconds) an SQS poller keeps; None: each
                the template's MaximumBatchingWindowInSeconds, as Lambda does (Meta's is 20 s).
        """
        self.template_path = Path(template).resolve()
        self.env_file = Path(env_file) if env_file is not None else None
        self.host = host
        self.requested_port = port
        self.region = region or default_region()
        self.stack_name = stack_name
        self.parameter_overrides = dict(parameter_overrides or {})
        self.moto_mode: MotoMode = moto
        self.reload = reload
        self.log_stream = log_stream
        # the template's batching windows, as Lambda keeps them, unless capped (tests: a quick stack)
        self._window_cap = batching_window_cap if batching_window_cap is not None else float("inf")
        self.standins = StandIns(host, standins_port if standins_port is not None else (3001 if port else 0))

        self.template: dict[str, Any] = {}
        self.env_values: dict[str, str] = {}
        self.parameters: dict[str, str | list[str]] = {}
        self.functions: dict[str, FunctionSpec] = {}
        self.outputs: dict[str, Any] = {}
        self.secrets: dict[str, str] = {}
        self.activity = Activity()

        self._moto: MotoServer | None = None
        self._clients: AwsClients | None = None
        self._provisioner: Provisioner | None = None
        self._gateway: ApiGateway | None = None
        self._api_url = ""
        self._workers: dict[str, FunctionWorker] = {}
        self._pollers: list[QueuePoller] = []
        self._lifecycle = threading.RLock()
        self._started = False

    # -- lifecycle --------------------------------------------------------------------------------

    def __enter__(self) -> Self:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.stop()

    def start(self) -> Self:
        """Creates everything; returns when the API answers and every worker process is running."""
        with self._lifecycle:
            if self._started:
                return self
            self._started = True
            try:
                self._start()
            except BaseException:
                self.stop()
                raise
            return self

    def _start(self) -> None:
        began = time.monotonic()
        self.template = load_template(self.template_path)
        self.env_values = parse_env_file(self.env_file) if self.env_file is not None else {}
        self.standins.start()
        self.parameters = resolve_parameters(self.template, self._overrides())

        self._moto = start_moto(self.moto_mode, self.host)
        self._clients = AwsClients(AwsEndpoint(self._moto.url, self.region))
        self._provision()

        routes = [route for spec in self.functions.values() for route in spec.api_routes]
        self._gateway = ApiGateway(routes, self.invoke, region=self.region)
        bound_host, bound_port = self._gateway.bind(self.host, self.requested_port)
        self._api_url = f"http://{bound_host}:{bound_port}"
        self.outputs = self._resolve_outputs()

        self._start_workers()
        self._start_pollers()
        self._gateway.serve_in_background()
        log.info(
            "local stack up in %.1f s: %d function(s), %d route(s), %d poller(s)",
            time.monotonic() - began,
            len(self.functions),
            len(routes),
            len(self._pollers),
        )
        for route in routes:
            log.info("  %-6s %s%s -> %s", route.method, self._api_url, route.path, route.function)

    def stop(self) -> None:
        """Stops what start() started, in reverse order. Safe to call more than once."""
        with self._lifecycle:
            # Pollers take up to a long poll to notice; let them wind down while the API stops.
            for poller in self._pollers:
                poller.stop()
            if self._gateway is not None:
                self._gateway.stop()
                self._gateway = None
            self._stop_pollers()
            self._stop_workers()
            self.standins.stop()
            if self._moto is not None:
                self._moto.stop()
                self._moto = None
            self._clients = None
            self._started = False

    def reset(self) -> None:
        """Empties the embedded AWS and starts over: resources, secrets, fresh worker processes.

        The API keeps its URL and the queues their names; running invocations get two seconds.
        """
        with self._lifecycle:
            self._require_started()
            self._stop_pollers()
            for worker in self._workers.values():
                worker.stop()
            self._workers = {}
            request = urllib.request.Request(f"{self.aws_endpoint}/moto-api/reset", method="POST")  # noqa: S310 - our own local endpoint
            with urllib.request.urlopen(request, timeout=10):  # noqa: S310
                pass
            self._provision()
            self.outputs = self._resolve_outputs()
            self._start_workers()
            self._start_pollers()

    def _overrides(self) -> dict[str, str]:
        names = list((self.template.get("Parameters") or {}).keys())
        overrides: dict[str, str] = {}
        for key, value in self.env_values.items():
            parameter = parameter_for_env_key(key, names)
            if parameter is not None:
                overrides[parameter] = value
        if self.standins.url != STANDINS_DEFAULT_URL:
            for name, value in overrides.items():
                if value.startswith(STANDINS_DEFAULT_URL):
                    overrides[name] = self.standins.url + value[len(STANDINS_DEFAULT_URL) :]
        overrides.update(self.parameter_overrides)
        return overrides

    def _pseudo(self) -> PseudoParameters:
        return PseudoParameters(stack_name=self.stack_name, region=self.region)

    def _provision(self) -> None:
        assert self._clients is not None
        provisioner = Provisioner(self.template, self.parameters, self._pseudo(), self._clients)
        self._provisioner = provisioner
        provisioner.provision()
        specs = FunctionReader(provisioner, self.template_path.parent).read_all()
        self.functions = {spec.logical_id: spec for spec in specs}
        for spec in specs:
            for event_name, properties in spec.rule_events:
                self._put_function_rule(provisioner, spec, event_name, properties)
        self._put_secrets(provisioner)

    def _put_function_rule(
        self, provisioner: Provisioner, spec: FunctionSpec, event_name: str, properties: Mapping[str, Any]
    ) -> None:
        label = f"{spec.logical_id}{event_name}"
        target: dict[str, Any] = {
            "Id": properties.get("Target", {}).get("Id", f"{label}Target"),
            "Arn": spec.arn,
        }
        for key in ("Input", "InputPath", "InputTransformer"):
            if key in properties:
                target[key] = properties[key]
        rule = {"EventPattern": properties.get("Pattern")} if properties.get("Pattern") else {}
        if properties.get("State"):
            rule["State"] = properties["State"]
        elif properties.get("Enabled") in (False, "false"):
            rule["State"] = "DISABLED"
        name = to_str(properties.get("RuleName") or provisioner.default_name(label, 64))
        bus = to_str(properties.get("EventBusName", "default")).rsplit("event-bus/", 1)[-1]
        provisioner.put_rule(name, bus, rule, targets=[target], label=label)

    def _put_secrets(self, provisioner: Provisioner) -> None:
        prefix = self.parameters.get(SECRETS_PREFIX_PARAMETER)
        if not isinstance(prefix, str):
            prefix = self.stack_name
            if self.env_values:
                log.warning(
                    "the template has no %s parameter; secrets go under /%s", SECRETS_PREFIX_PARAMETER, prefix
                )
        self.secrets = {
            secret_parameter_name(prefix, key): value
            for key, value in self.env_values.items()
            if key != NAMED_SECRETS_KEY
        }
        self.secrets.update(named_secrets(prefix, self.env_values))
        provisioner.put_secrets(prefix, self.secrets)

    def _resolve_outputs(self) -> dict[str, Any]:
        assert self._provisioner is not None
        evaluator = self._provisioner.evaluator
        outputs: dict[str, Any] = {}
        for name, declaration in (self.template.get("Outputs") or {}).items():
            if not evaluator.enabled(declaration):
                continue
            try:
                value = evaluator.resolve(declaration.get("Value"))
            except TemplateError as error:
                log.warning("output %s cannot be resolved locally: %s", name, error)
                continue
            outputs[name] = self._localize(value) if isinstance(value, str) else value
        return outputs

    def _localize(self, text: str) -> str:
        routes = [route for spec in self.functions.values() for route in spec.api_routes]
        return localize_urls(text, routes, self.region, self._api_url)

    def _localized(self, spec: FunctionSpec) -> FunctionSpec:
        """The spec with API URLs in its variables pointing at the local API."""
        environment = {key: self._localize(value) for key, value in spec.environment.items()}
        return dataclasses.replace(spec, environment=environment)

    def _start_workers(self) -> None:
        aws_environment = self.aws_environment()
        for logical_id, spec in self.functions.items():
            environment = lambda_environment(self._localized(spec), aws_environment, os.environ)
            worker = FunctionWorker(spec, environment, reload=self.reload, log_stream=self.log_stream)
            self._workers[logical_id] = worker
            worker.start()

    def _stop_workers(self) -> None:
        for worker in self._workers.values():
            worker.stop()
        self._workers = {}

    def _start_pollers(self) -> None:
        assert self._clients is not None
        assert self._provisioner is not None
        provisioner = self._provisioner
        configs: list[PollerConfig] = []
        for spec in self.functions.values():
            for source in spec.sqs_sources:
                configs.append(
                    PollerConfig(
                        function=spec.logical_id,
                        queue_url=provisioner.queue_url(source.queue_arn),
                        queue_arn=source.queue_arn,
                        region=self.region,
                        label=f"{spec.logical_id}.{source.event}",
                        batch_size=source.batch_size,
                        report_batch_item_failures=source.report_batch_item_failures,
                        filter_patterns=source.filter_patterns,
                        batching_window_seconds=min(source.batching_window_seconds, self._window_cap),
                    )
                )
        for target in provisioner.async_targets:
            configs.append(
                PollerConfig(
                    function=target.function,
                    queue_url=target.queue_url,
                    queue_arn=target.queue_arn,
                    region=self.region,
                    label=f"{target.function} ({target.source})",
                    asynchronous=True,
                )
            )
        self._pollers = [
            QueuePoller(config, self._clients.sqs, self.invoke, self.activity) for config in configs
        ]
        for poller in self._pollers:
            poller.start()

    def _stop_pollers(self) -> None:
        for poller in self._pollers:
            poller.stop()
        for poller in self._pollers:
            poller.join(timeout=10)
        self._pollers = []

    # -- what callers use -------------------------------------------------------------------------

    def _require_started(self) -> None:
        if not self._started or self._moto is None:
            raise RuntimeError("the local stack is not running; call start() or use it in a with block")

    @property
    def api_url(self) -> str:
        """Base URL of the API, without a stage: routes are served at their template paths."""
        self._require_started()
        return self._api_url

    @property
    def aws_endpoint(self) -> str:
        self._require_started()
        assert self._moto is not None
        return self._moto.url

    @property
    def provisioner(self) -> Provisioner:
        self._require_started()
        assert self._provisioner is not None
        return self._provisioner

    def aws_environment(self) -> dict[str, str]:
        """AWS_ENDPOINT_URL, dummy credentials and region: what a process needs to use this stack."""
        return AwsEndpoint(self.aws_endpoint, self.region).environment()

    def client(self, service_name: str) -> Any:
        """A boto3 client bound to the embedded AWS."""
        self._require_started()
        assert self._clients is not None
        return self._clients.client(service_name)

    def physical_id(self, logical_id: str) -> str:
        """What CloudFormation's Ref returns: a table's or bus's name, a queue's URL, a function's name."""
        return to_str(self.provisioner.ref(logical_id))

    def attribute(self, logical_id: str, attribute: str) -> Any:
        """What Fn::GetAtt returns, e.g. attribute("WhatsAppIngestQueue", "Arn")."""
        return self.provisioner.get_att(logical_id, attribute)

    def function_environment(self, logical_id: str) -> dict[str, str]:
        """The variables the stack gives a function on top of the inherited environment."""
        return lambda_environment(self._localized(self.functions[logical_id]), self.aws_environment(), {})

    def worker(self, logical_id: str) -> FunctionWorker:
        return self._workers[logical_id]

    def invoke(self, logical_id: str, event: Any) -> Invocation:
        """Invokes a function synchronously (RequestResponse), as the API and pollers do."""
        if logical_id not in self._workers:
            raise KeyError(f"no function {logical_id} in the local stack")
        with self.activity.busy():
            return self._workers[logical_id].invoke(event)

    def polled_queue_urls(self) -> list[str]:
        return [poller.config.queue_url for poller in self._pollers]

    def _pending(self) -> dict[str, int]:
        assert self._clients is not None
        pending: dict[str, int] = {}
        if self.activity.in_flight:
            pending["invocations in flight"] = self.activity.in_flight
        for url in self.polled_queue_urls():
            attributes = self._clients.sqs.get_queue_attributes(
                QueueUrl=url,
                AttributeNames=[
                    "ApproximateNumberOfMessages",
                    "ApproximateNumberOfMessagesNotVisible",
                    "ApproximateNumberOfMessagesDelayed",
                ],
            )["Attributes"]
            count = sum(int(value) for value in attributes.values())
            if count:
                pending[url.rsplit("/", 1)[-1]] = count
        return pending

    def wait_until_idle(self, timeout: float = 30.0, interval: float = 0.05) -> None:
        """Returns once no invocation runs and every polled queue is empty, twice in a row.

        Messages a handler failed on count as pending until they are deleted or move to a DLQ (after
        the queue's visibility timeout). Raises TimeoutError, naming what is still pending.
        """
        self._require_started()
        deadline = time.monotonic() + timeout
        quiet_checks = 0
        while True:
            pending = self._pending()
            quiet_checks = 0 if pending else quiet_checks + 1
            if quiet_checks >= 2:
                return
            if time.monotonic() >= deadline:
                raise TimeoutError(f"the local stack is still busy after {timeout} s: {pending}")
            time.sleep(interval)
