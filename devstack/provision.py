"""Creates the template's plain resources in the embedded AWS, and answers Ref/GetAtt for every resource.

Resources are created with boto3 calls rather than moto's CloudFormation, whose SAM handling breaks on
this kind of template (see the reference notes). Types that the local stack does not create (IAM,
alarms, layers...) still get plausible Ref/GetAtt values so that function environments resolve.
"""

from __future__ import annotations

import hashlib
import json
import logging
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any, Final

from devstack.aws import AwsClients
from devstack.cfn import Evaluator, PseudoParameters, TemplateError, references, to_str

log = logging.getLogger("devstack")

SERVERLESS_FUNCTION: Final = "AWS::Serverless::Function"
SERVERLESS_API: Final = "AWS::Serverless::Api"
SERVERLESS_HTTP_API: Final = "AWS::Serverless::HttpApi"
IMPLICIT_API: Final = "ServerlessRestApi"
IMPLICIT_HTTP_API: Final = "ServerlessHttpApi"

# Handled by the local stack itself (worker processes, the HTTP server, sys.path), not created in moto.
_EMULATED: Final = frozenset(
    {
        SERVERLESS_FUNCTION,
        SERVERLESS_API,
        SERVERLESS_HTTP_API,
        "AWS::Serverless::LayerVersion",
        "AWS::Lambda::LayerVersion",
    }
)

_QUEUE_ATTRIBUTES: Final = (
    "DelaySeconds",
    "MaximumMessageSize",
    "MessageRetentionPeriod",
    "ReceiveMessageWaitTimeSeconds",
    "VisibilityTimeout",
    "ContentBasedDeduplication",
    "DeduplicationScope",
    "FifoThroughputLimit",
)

# Long enough that a message being handled is not handed out twice; pollers settle every message
# explicitly, so the value only matters if the local stack dies mid-invocation.
_ASYNC_QUEUE_VISIBILITY_TIMEOUT: Final = 900


@dataclass(frozen=True)
class AsyncTarget:
    """A queue that stands in for an asynchronous Lambda invocation by an EventBridge rule.

    moto cannot invoke functions without Docker (and fails put_events for Lambda targets), so the
    rule targets this queue instead and a poller invokes the function with each event.
    """

    function: str
    queue_url: str
    queue_arn: str
    source: str


@dataclass
class _Resource:
    ref: Any
    attributes: dict[str, Any] = field(default_factory=dict)


def _bool(value: Any) -> bool:
    return value is True or (isinstance(value, str) and value.lower() == "true")


def _int(value: Any) -> int:
    return int(to_str(value))


def _pick(source: Mapping[str, Any], *keys: str) -> dict[str, Any]:
    return {key: source[key] for key in keys if key in source}


def _short_hash(text: str, length: int = 10) -> str:
    return hashlib.sha256(text.encode()).hexdigest()[:length]


class Provisioner:
    def __init__(
        self,
        template: Mapping[str, Any],
        parameters: Mapping[str, str | list[str]],
        pseudo: PseudoParameters,
        clients: AwsClients | None = None,
    ) -> None:
        self.template = template
        self.pseudo = pseudo
        self.clients = clients
        self.resources: Mapping[str, Mapping[str, Any]] = template.get("Resources") or {}
        self.evaluator = Evaluator(template, parameters, pseudo, resources=self)
        self.queues_by_arn: dict[str, str] = {}
        self.async_targets: list[AsyncTarget] = []
        self._created: dict[str, _Resource] = {}
        self._warned: set[str] = set()
        self._creators: dict[str, Callable[[str, dict[str, Any]], _Resource]] = {
            "AWS::DynamoDB::Table": self._create_table,
            "AWS::Serverless::SimpleTable": self._create_simple_table,
            "AWS::SQS::Queue": self._create_queue,
            "AWS::Events::EventBus": self._create_event_bus,
            "AWS::Events::Rule": self._create_rule,
            "AWS::SSM::Parameter": self._create_ssm_parameter,
            "AWS::Logs::LogGroup": self._create_log_group,
            "AWS::SNS::Subscription": self._create_subscription,
        }
        self._logs: Any = None

    # -- naming and lookup ------------------------------------------------------------------------

    def warn_once(self, key: str, message: str) -> None:
        if key not in self._warned:
            self._warned.add(key)
            log.warning("%s", message)

    def default_name(self, logical_id: str, max_length: int = 64) -> str:
        name = f"{self.pseudo.stack_name}-{logical_id}"
        if len(name) <= max_length:
            return name
        # Keep names unique when truncating, as CloudFormation's generated names are.
        suffix = "-" + _short_hash(name, 8)
        return name[: max_length - len(suffix)] + suffix

    def kind(self, logical_id: str) -> str:
        if logical_id in self.resources:
            return str(self.resources[logical_id].get("Type", ""))
        # Resources that SAM generates and templates may refer to.
        if logical_id == IMPLICIT_API:
            return SERVERLESS_API
        if logical_id == IMPLICIT_HTTP_API:
            return SERVERLESS_HTTP_API
        base = logical_id.removesuffix("Role")
        if base != logical_id and self.kind_or_none(base) == SERVERLESS_FUNCTION:
            return "AWS::IAM::Role"
        raise TemplateError(f"unknown resource or parameter {logical_id}")

    def kind_or_none(self, logical_id: str) -> str | None:
        declaration = self.resources.get(logical_id)
        return None if declaration is None else str(declaration.get("Type", ""))

    def enabled(self, logical_id: str) -> bool:
        declaration = self.resources.get(logical_id)
        return declaration is None or self.evaluator.enabled(declaration)

    def logical_ids(self, kind: str) -> list[str]:
        return [
            logical_id
            for logical_id, declaration in self.resources.items()
            if declaration.get("Type") == kind and self.evaluator.enabled(declaration)
        ]

    def properties(self, logical_id: str) -> dict[str, Any]:
        """The resource's properties with every intrinsic function resolved."""
        resolved = self.evaluator.resolve(self.resources[logical_id].get("Properties") or {})
        if not isinstance(resolved, dict):
            raise TemplateError(f"{logical_id}: Properties is not a mapping")
        return resolved

    def _property(self, logical_id: str, name: str) -> Any:
        raw = (self.resources.get(logical_id, {}).get("Properties") or {}).get(name)
        return None if raw is None else self.evaluator.resolve(raw)

    def function_name(self, logical_id: str) -> str:
        name = self._property(logical_id, "FunctionName")
        return to_str(name) if name is not None else self.default_name(logical_id, 64)

    def function_arn(self, logical_id: str) -> str:
        return (
            f"arn:{self.pseudo.partition}:lambda:{self.pseudo.region}:{self.pseudo.account_id}:"
            f"function:{self.function_name(logical_id)}"
        )

    def api_id(self, logical_id: str) -> str:
        """A stable stand-in for the (REST or HTTP) API id that API Gateway would generate."""
        return _short_hash(f"{self.pseudo.stack_name}/{logical_id}")

    def queue_url(self, queue_arn: str) -> str:
        if queue_arn in self.queues_by_arn:
            return self.queues_by_arn[queue_arn]
        if self.clients is None:
            raise TemplateError(f"no queue {queue_arn}")
        return self.clients.sqs.get_queue_url(QueueName=queue_arn.rsplit(":", 1)[-1])["QueueUrl"]

    # -- ResourceAttributes -----------------------------------------------------------------------

    def ref(self, logical_id: str) -> Any:
        return self._lookup(logical_id).ref

    def get_att(self, logical_id: str, attribute: str) -> Any:
        resource = self._lookup(logical_id)
        value = resource.attributes.get(attribute)
        if value is None:
            raise TemplateError(f"GetAtt {logical_id}.{attribute}: no such attribute in the local stack")
        return value

    def _lookup(self, logical_id: str) -> _Resource:
        kind = self.kind(logical_id)
        if not self.enabled(logical_id):
            condition = self.resources[logical_id].get("Condition")
            raise TemplateError(f"{logical_id} is not created: its condition {condition} is false")
        if logical_id in self._created:
            return self._created[logical_id]
        if kind in self._creators:
            raise TemplateError(f"{logical_id} is referred to before it is created (circular reference?)")
        return self._virtual(logical_id, kind)

    def _virtual(self, logical_id: str, kind: str) -> _Resource:
        region, account, partition = self.pseudo.region, self.pseudo.account_id, self.pseudo.partition
        if kind in (SERVERLESS_FUNCTION, "AWS::Lambda::Function"):
            name = self.function_name(logical_id)
            return _Resource(name, {"Arn": self.function_arn(logical_id)})
        if kind in (
            SERVERLESS_API,
            "AWS::ApiGateway::RestApi",
            SERVERLESS_HTTP_API,
            "AWS::ApiGatewayV2::Api",
        ):
            api_id = self.api_id(logical_id)
            return _Resource(
                api_id,
                {
                    "RootResourceId": _short_hash(api_id),
                    "ApiEndpoint": f"https://{api_id}.execute-api.{region}.{self.pseudo.url_suffix}",
                },
            )
        name = self.default_name(logical_id)
        if kind in ("AWS::Serverless::LayerVersion", "AWS::Lambda::LayerVersion"):
            return _Resource(f"arn:{partition}:lambda:{region}:{account}:layer:{name}:1")
        if kind == "AWS::IAM::Role":
            return _Resource(
                name, {"Arn": f"arn:{partition}:iam::{account}:role/{name}", "RoleId": _short_hash(name)}
            )
        if kind == "AWS::SNS::Topic":
            arn = f"arn:{partition}:sns:{region}:{account}:{name}"
            return _Resource(arn, {"TopicArn": arn, "TopicName": name})
        service = kind.split("::")[1].lower() if kind.count("::") == 2 else "unknown"
        return _Resource(name, {"Arn": f"arn:{partition}:{service}:{region}:{account}:{name}", "Name": name})

    # -- creation ---------------------------------------------------------------------------------

    def provision(self) -> None:
        """Creates every enabled resource of a supported type, dependencies first."""
        for kind in sorted({str(d.get("Type")) for d in self.resources.values()}):
            if kind not in self._creators and kind not in _EMULATED:
                ids = ", ".join(i for i, d in self.resources.items() if d.get("Type") == kind)
                self.warn_once(kind, f"not emulated locally, skipped: {kind} ({ids})")
        for logical_id in self._creation_order():
            kind = self.kind(logical_id)
            try:
                self._created[logical_id] = self._creators[kind](logical_id, self.properties(logical_id))
            except TemplateError:
                raise
            except Exception as error:
                raise TemplateError(f"creating {logical_id} ({kind}) failed: {error}") from error
            log.debug("created %s %s -> %s", kind, logical_id, self._created[logical_id].ref)

    def _creation_order(self) -> list[str]:
        wanted = [
            logical_id
            for logical_id, declaration in self.resources.items()
            if declaration.get("Type") in self._creators and self.evaluator.enabled(declaration)
        ]
        wanted_set = set(wanted)
        order: list[str] = []
        state: dict[str, str] = {}

        def visit(logical_id: str, chain: tuple[str, ...]) -> None:
            if state.get(logical_id) == "done":
                return
            if state.get(logical_id) == "visiting":
                raise TemplateError("circular references: " + " -> ".join((*chain, logical_id)))
            state[logical_id] = "visiting"
            declaration = self.resources[logical_id]
            depends_on = declaration.get("DependsOn") or []
            dependencies = set(references(declaration.get("Properties") or {}))
            dependencies.update([depends_on] if isinstance(depends_on, str) else depends_on)
            for dependency in sorted(dependencies & wanted_set):
                visit(dependency, (*chain, logical_id))
            state[logical_id] = "done"
            order.append(logical_id)

        for logical_id in wanted:
            visit(logical_id, ())
        return order

    def _aws(self) -> AwsClients:
        if self.clients is None:
            raise TemplateError("no AWS endpoint to create resources in")
        return self.clients

    def _name(self, logical_id: str, properties: Mapping[str, Any], key: str, max_length: int) -> str:
        name = properties.get(key)
        return to_str(name) if name is not None else self.default_name(logical_id, max_length)

    def _create_table(self, logical_id: str, properties: dict[str, Any]) -> _Resource:
        name = self._name(logical_id, properties, "TableName", 255)
        billing = to_str(properties.get("BillingMode", "PROVISIONED"))
        provisioned = billing == "PROVISIONED"

        def throughput(source: Mapping[str, Any]) -> dict[str, int]:
            given = source.get("ProvisionedThroughput") or {}
            return {
                "ReadCapacityUnits": _int(given.get("ReadCapacityUnits", 5)),
                "WriteCapacityUnits": _int(given.get("WriteCapacityUnits", 5)),
            }

        def index(source: Mapping[str, Any], with_throughput: bool) -> dict[str, Any]:
            result = _pick(source, "IndexName", "KeySchema", "Projection")
            if with_throughput:
                result["ProvisionedThroughput"] = throughput(source)
            return result

        request: dict[str, Any] = {
            "TableName": name,
            "AttributeDefinitions": properties["AttributeDefinitions"],
            "KeySchema": properties["KeySchema"],
            "BillingMode": billing,
        }
        if provisioned:
            request["ProvisionedThroughput"] = throughput(properties)
        if properties.get("GlobalSecondaryIndexes"):
            request["GlobalSecondaryIndexes"] = [
                index(gsi, provisioned) for gsi in properties["GlobalSecondaryIndexes"]
            ]
        if properties.get("LocalSecondaryIndexes"):
            request["LocalSecondaryIndexes"] = [
                index(lsi, False) for lsi in properties["LocalSecondaryIndexes"]
            ]
        stream = properties.get("StreamSpecification")
        if stream and stream.get("StreamViewType"):
            request["StreamSpecification"] = {
                "StreamEnabled": True,
                "StreamViewType": stream["StreamViewType"],
            }
        dynamodb = self._aws().dynamodb
        description = dynamodb.create_table(**request)["TableDescription"]
        ttl = properties.get("TimeToLiveSpecification")
        if ttl and _bool(ttl.get("Enabled")):
            dynamodb.update_time_to_live(
                TableName=name,
                TimeToLiveSpecification={"AttributeName": to_str(ttl["AttributeName"]), "Enabled": True},
            )
        return _Resource(
            name, {"Arn": description.get("TableArn"), "StreamArn": description.get("LatestStreamArn")}
        )

    def _create_simple_table(self, logical_id: str, properties: dict[str, Any]) -> _Resource:
        key = properties.get("PrimaryKey") or {"Name": "id", "Type": "String"}
        key_type = {"String": "S", "Number": "N", "Binary": "B"}[to_str(key.get("Type", "String"))]
        table: dict[str, Any] = {
            "AttributeDefinitions": [{"AttributeName": key["Name"], "AttributeType": key_type}],
            "KeySchema": [{"AttributeName": key["Name"], "KeyType": "HASH"}],
            "BillingMode": "PROVISIONED" if properties.get("ProvisionedThroughput") else "PAY_PER_REQUEST",
            **_pick(properties, "TableName", "ProvisionedThroughput"),
        }
        return self._create_table(logical_id, table)

    def _create_queue(self, logical_id: str, properties: dict[str, Any]) -> _Resource:
        fifo = _bool(properties.get("FifoQueue", False))
        if properties.get("QueueName") is not None:
            name = to_str(properties["QueueName"])
        else:
            name = self.default_name(logical_id, 75 if fifo else 80) + (".fifo" if fifo else "")
        attributes: dict[str, str] = {
            key: to_str(properties[key]) for key in _QUEUE_ATTRIBUTES if key in properties
        }
        if fifo:
            attributes["FifoQueue"] = "true"
        for key in ("RedrivePolicy", "RedriveAllowPolicy"):
            policy = properties.get(key)
            if isinstance(policy, str):
                policy = json.loads(policy)
            if policy is None:
                continue
            if "maxReceiveCount" in policy:
                policy = {**policy, "maxReceiveCount": _int(policy["maxReceiveCount"])}
            attributes[key] = json.dumps(policy)
        sqs = self._aws().sqs
        url = sqs.create_queue(QueueName=name, Attributes=attributes)  # type: ignore[arg-type]
        queue_url = url["QueueUrl"]
        arn = sqs.get_queue_attributes(QueueUrl=queue_url, AttributeNames=["QueueArn"])["Attributes"][
            "QueueArn"
        ]
        self.queues_by_arn[arn] = queue_url
        return _Resource(queue_url, {"Arn": arn, "QueueName": name, "QueueUrl": queue_url})

    def _create_event_bus(self, logical_id: str, properties: dict[str, Any]) -> _Resource:
        name = to_str(properties["Name"])
        arn = self._aws().events.create_event_bus(Name=name)["EventBusArn"]
        return _Resource(name, {"Name": name, "Arn": arn})

    def _create_rule(self, logical_id: str, properties: dict[str, Any]) -> _Resource:
        name = self._name(logical_id, properties, "Name", 64)
        bus = to_str(properties.get("EventBusName", "default")).rsplit("event-bus/", 1)[-1]
        arn = self.put_rule(
            name,
            bus,
            properties,
            targets=properties.get("Targets") or [],
            label=logical_id,
        )
        # CloudFormation's Ref of a rule on a custom bus is "bus|rule".
        return _Resource(name if bus == "default" else f"{bus}|{name}", {"Arn": arn})

    def put_rule(
        self,
        name: str,
        bus: str,
        properties: Mapping[str, Any],
        *,
        targets: list[dict[str, Any]],
        label: str,
    ) -> str:
        """Creates a rule and its targets; targets that are functions become async-invoke queues."""
        events = self._aws().events
        request: dict[str, Any] = {"Name": name, "EventBusName": bus, "State": "ENABLED"}
        if "State" in properties:
            request["State"] = to_str(properties["State"])
        if "Description" in properties:
            request["Description"] = to_str(properties["Description"])
        pattern = properties.get("EventPattern")
        if pattern is not None:
            request["EventPattern"] = pattern if isinstance(pattern, str) else json.dumps(pattern)
        if "ScheduleExpression" in properties:
            request["ScheduleExpression"] = to_str(properties["ScheduleExpression"])
            self.warn_once(f"schedule:{label}", f"{label}: schedules never fire in the local stack")
        arn = events.put_rule(**request)["RuleArn"]
        functions = {self.function_arn(fid): fid for fid in self.logical_ids(SERVERLESS_FUNCTION)}
        moto_targets: list[dict[str, Any]] = []
        for target in targets:
            target_arn = to_str(target["Arn"])
            entry: dict[str, Any] = {
                "Id": to_str(target["Id"]),
                "Arn": target_arn,
                **_pick(
                    target,
                    "Input",
                    "InputPath",
                    "InputTransformer",
                    "SqsParameters",
                    "RetryPolicy",
                    "DeadLetterConfig",
                ),
            }
            if "Input" in target or "InputPath" in target:
                # moto delivers the whole event regardless; say so instead of silently differing.
                self.warn_once(
                    f"input:{label}", f"{label}: moto ignores Input/InputPath; targets get the whole event"
                )
            service = target_arn.split(":")[2] if target_arn.count(":") >= 5 else ""
            if target_arn in functions:
                entry["Arn"] = self.async_queue(
                    functions[target_arn], f"{label}-{entry['Id']}", f"rule {name}"
                )
            elif service == "lambda":
                self.warn_once(
                    f"target:{target_arn}", f"{label}: no local function {target_arn}; target skipped"
                )
                continue
            elif service not in ("sqs", "events", "logs"):
                # moto's put_events raises for any other target type, which would break every publisher.
                self.warn_once(
                    f"target:{target_arn}", f"{label}: {service} targets are not emulated; skipped"
                )
                continue
            moto_targets.append(entry)
        if moto_targets:
            events.put_targets(Rule=name, EventBusName=bus, Targets=moto_targets)  # type: ignore[arg-type]
        return arn

    def async_queue(self, function_logical_id: str, hint: str, source: str) -> str:
        name = self.default_name(f"{hint}-async", 80)
        sqs = self._aws().sqs
        url = sqs.create_queue(
            QueueName=name, Attributes={"VisibilityTimeout": str(_ASYNC_QUEUE_VISIBILITY_TIMEOUT)}
        )["QueueUrl"]
        arn = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
        self.queues_by_arn[arn] = url
        self.async_targets.append(AsyncTarget(function_logical_id, url, arn, source))
        return arn

    def _create_log_group(self, logical_id: str, properties: dict[str, Any]) -> _Resource:
        # Nothing writes to it locally; it exists so that its name and retention are the template's.
        name = self._name(logical_id, properties, "LogGroupName", 512)
        if self._logs is None:
            self._logs = self._aws().client("logs")
        self._logs.create_log_group(logGroupName=name)
        if "RetentionInDays" in properties:
            self._logs.put_retention_policy(
                logGroupName=name, retentionInDays=_int(properties["RetentionInDays"])
            )
        pseudo = self.pseudo
        arn = f"arn:{pseudo.partition}:logs:{pseudo.region}:{pseudo.account_id}:log-group:{name}:*"
        return _Resource(name, {"Arn": arn})

    def _create_subscription(self, logical_id: str, properties: dict[str, Any]) -> _Resource:
        """A queue's subscription to a topic the template takes as existing (a parameter's ARN):
        locally the topic is created in moto when missing, so that it can be published to."""
        topic_arn = to_str(properties["TopicArn"])
        protocol = to_str(properties["Protocol"])
        pseudo = self.pseudo
        _, partition, _, region, account, name = topic_arn.split(":", 5)
        if (partition, region, account) != (pseudo.partition, pseudo.region, pseudo.account_id):
            self.warn_once(
                logical_id,
                f"{logical_id} skipped: {topic_arn} is not in the local stack's region and account",
            )
            return _Resource(topic_arn, {})
        sns = self._aws().client("sns")
        sns.create_topic(Name=name)  # idempotent: the topic's ARN for its name
        attributes = {key: to_str(properties[key]) for key in ("RawMessageDelivery",) if key in properties}
        arn = sns.subscribe(
            TopicArn=topic_arn,
            Protocol=protocol,
            Endpoint=to_str(properties["Endpoint"]),
            Attributes=attributes,
            ReturnSubscriptionArn=True,
        )["SubscriptionArn"]
        return _Resource(str(arn), {"Arn": str(arn)})

    def _create_ssm_parameter(self, logical_id: str, properties: dict[str, Any]) -> _Resource:
        name = self._name(logical_id, properties, "Name", 2048)
        kind = to_str(properties.get("Type", "String"))
        value = properties["Value"]
        text = ",".join(to_str(v) for v in value) if isinstance(value, list) else to_str(value)
        extra = {
            key: to_str(properties[key])
            for key in ("Description", "AllowedPattern", "Tier", "DataType")
            if key in properties
        }
        self._aws().ssm.put_parameter(Name=name, Value=text, Type=kind, Overwrite=True, **extra)  # type: ignore[arg-type]
        return _Resource(name, {"Type": kind, "Value": text})

    def put_secrets(self, prefix: str, names_and_values: Mapping[str, str]) -> None:
        ssm = self._aws().ssm
        for name, value in names_and_values.items():
            if not value:
                # SSM rejects empty values; a missing parameter is what the handler would see on AWS.
                log.warning("%s is empty in the env file: no SSM parameter created", name)
                continue
            ssm.put_parameter(Name=name, Value=value, Type="SecureString", Overwrite=True)
        log.debug("put %d SecureString parameters under /%s", len(names_and_values), prefix.strip("/"))
