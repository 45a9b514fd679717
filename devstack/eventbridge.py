"""EventBridge's handling of a rule target that fails, which moto leaves out.

moto delivers a matching event to each target of a rule inside PutEvents, so a target that cannot take
it (a deleted queue, an oversized message) fails the publisher's PutEvents call. EventBridge instead
accepts the event, retries the target within its RetryPolicy, and then sends the event to the target's
DeadLetterConfig queue with attributes saying why, or drops it when there is none
(https://docs.aws.amazon.com/eventbridge/latest/userguide/eb-rule-dlq.html). `install()` makes moto's
rules do the same. Every failure moto can produce is a missing resource or a permanent error, which
EventBridge sends to the DLQ without retrying, so no retry happens here either.
"""

from __future__ import annotations

import copy
import json
import logging
from typing import Any, Final

log = logging.getLogger("devstack")

_INSTALLED_FLAG: Final = "_devstack_dead_letters"


def install() -> None:
    """Patches moto's Rule.send_to_targets once per process; later calls change nothing."""
    from moto.events.models import Rule

    if getattr(Rule, _INSTALLED_FLAG, False):
        return
    deliver = Rule.send_to_targets

    def send_to_targets(self: Any, original_event: Any, transform_input: bool = True) -> None:
        if not self.event_pattern.matches_event(original_event):
            return
        for target in list(self.targets):
            # One target at a time, on a copy of the rule, so one failure leaves the others delivered.
            single = copy.copy(self)
            single.targets = [target]
            try:
                deliver(single, copy.deepcopy(original_event), transform_input)
            except Exception as error:  # whatever the target raised, EventBridge goes on
                _dead_letter(self, target, original_event, error)

    setattr(send_to_targets, "__wrapped__", deliver)  # noqa: B010 - keeps the original reachable
    Rule.send_to_targets = send_to_targets  # type: ignore[method-assign]
    setattr(Rule, _INSTALLED_FLAG, True)


def error_code(error: Exception) -> str:
    """EventBridge's ERROR_CODE for a failure moto raised."""
    code = str(getattr(error, "code", "") or type(error).__name__)
    if "NonExistentQueue" in code or "DoesNotExist" in code or "NotFound" in code:
        return "RESOURCE_NOT_FOUND"
    if "AccessDenied" in code:
        return "NO_PERMISSIONS"
    return "SDK_CLIENT_ERROR"


def _dead_letter(rule: Any, target: dict[str, Any], event: Any, error: Exception) -> None:
    from moto.sqs.models import sqs_backends

    code = error_code(error)
    dead_letter_arn = str((target.get("DeadLetterConfig") or {}).get("Arn") or "")
    # Names and ids only: the event itself may carry personal data.
    summary = f"rule {rule.name} target {target.get('Id')}: {code}"
    if not dead_letter_arn:
        log.error("%s, no DeadLetterConfig: event %s dropped", summary, event.get("id"))
        return
    body = dict(event)
    if isinstance(body.get("time"), int | float):
        # As an SQS target receives it: moto keeps the time as epoch seconds until delivery.
        from moto.core.utils import iso_8601_datetime_without_milliseconds, utcfromtimestamp

        body["time"] = iso_8601_datetime_without_milliseconds(utcfromtimestamp(int(body["time"])))
    attributes = {
        "RULE_ARN": rule.arn,
        "TARGET_ARN": str(target.get("Arn", "")),
        "ERROR_CODE": code,
        "ERROR_MESSAGE": str(error)[:1000] or code,
        "RETRY_ATTEMPTS": "0",
    }
    account, region = dead_letter_arn.split(":")[4], dead_letter_arn.split(":")[3]
    try:
        sqs_backends[account][region].send_message(
            queue_name=dead_letter_arn.rsplit(":", 1)[-1],
            message_body=json.dumps(body),
            message_attributes={
                name: {"DataType": "String", "StringValue": value} for name, value in attributes.items()
            },
        )
    except Exception as dlq_error:  # EventBridge counts InvocationsFailedToBeSentToDLQ
        log.error(
            "%s, and its DLQ failed too (%s): event %s dropped",
            summary,
            error_code(dlq_error),
            event.get("id"),
        )
        return
    log.warning("%s: event %s sent to its DLQ", summary, event.get("id"))
