"""Trigger types: output = payload; config declarations validated."""

from __future__ import annotations

from typing import Any

import pydantic
import pytest

from nodes.triggers import (
    TRIGGER_TYPES,
    ErrorTrigger,
    ManualTrigger,
    ScheduleTrigger,
    TelegramTrigger,
    WebhookTrigger,
)
from tests.nodes.fakes import FakeContext, run_node


def test_trigger_type_names_and_flags() -> None:
    assert [t.name for t in TRIGGER_TYPES] == [
        "trigger_manual",
        "trigger_chat",
        "trigger_webhook",
        "trigger_schedule",
        "trigger_workflow",
        "trigger_error",
        "trigger_telegram",
    ]
    for t in TRIGGER_TYPES:
        assert t.is_trigger and t.category == "trigger" and t.inputs == ()


MINIMAL: dict[str, dict[str, Any]] = {
    "trigger_schedule": {"interval_s": 60},
    "trigger_error": {"workflows": ["*"]},
    "trigger_telegram": {"credential": "bot"},
}


@pytest.mark.parametrize("trigger", TRIGGER_TYPES, ids=lambda t: t.name)
@pytest.mark.parametrize(
    ("payload", "expected"),
    [
        ({"text": "hi", "user": "u1"}, {"text": "hi", "user": "u1"}),
        ("plain", {"output": "plain"}),
        ([1, 2], {"output": [1, 2]}),
    ],
)
def test_output_is_the_payload(trigger: Any, payload: Any, expected: Any) -> None:
    result = run_node(trigger, MINIMAL.get(trigger.name, {}), FakeContext(), input=payload)
    assert result.output == expected
    assert result.route is None


def test_manual_sample_payload_used_without_input() -> None:
    out = run_node(ManualTrigger, {"sample_payload": {"x": 1}}, FakeContext()).output
    assert out == {"x": 1}
    assert run_node(ManualTrigger, {"sample_payload": {"x": 1}}, input={"y": 2}).output == {"y": 2}


def test_webhook_config() -> None:
    cfg = WebhookTrigger.Config.model_validate({})
    assert cfg.auth == "none" and cfg.mode == "async"
    hmac = WebhookTrigger.Config.model_validate(
        {"auth": "hmac", "secret": "hook_secret", "dedupe_header": "X-Event-Id", "mode": "sync"}
    )
    assert hmac.header_name == "X-Plait-Signature"
    header = WebhookTrigger.Config.model_validate({"auth": "header", "secret": "tok"})
    assert header.header_name == "X-Plait-Token"
    for bad in (
        {"auth": "hmac"},  # no secret
        {"auth": "basic", "secret": "x"},
        {"header_name": "bad header"},
        {"replay_window_s": 0},
        {"mode": "later"},
        {"sync_timeout_s": -1},
        {"unknown": 1},
    ):
        with pytest.raises(pydantic.ValidationError):
            WebhookTrigger.Config.model_validate(bad)


def test_schedule_config() -> None:
    cron = ScheduleTrigger.Config.model_validate(
        {"cron": "0 9 * * 1-5", "timezone": "Europe/Paris", "catch_up": "run_once", "repeats": 3}
    )
    assert cron.cron == "0 9 * * 1-5"
    for bad in (
        {},  # neither
        {"interval_s": 60, "cron": "* * * * *"},  # both
        {"cron": "61 * * * *"},
        {"cron": "not a cron"},
        {"interval_s": 60, "timezone": "Mars/Olympus"},
        {"interval_s": 0},
        {"interval_s": 60, "catch_up": "sometimes"},
        {"interval_s": 60, "repeats": 0},
    ):
        with pytest.raises(pydantic.ValidationError):
            ScheduleTrigger.Config.model_validate(bad)


def test_schedule_output_run_by_hand_is_payload_and_scheduled_at() -> None:
    config = {"interval_s": 60, "timezone": "Asia/Tokyo", "payload": {"k": 1}}
    out = run_node(ScheduleTrigger, config, FakeContext()).output
    assert out["k"] == 1 and out["scheduled_at"].endswith("+09:00")
    fired = {"k": 1, "scheduled_at": "2026-01-01T09:00:00+09:00"}  # as the scheduler sends it
    assert run_node(ScheduleTrigger, config, FakeContext(), input=fired).output == fired
    cfg = ScheduleTrigger.Config.model_validate({"cron": "0 9 * * *"})
    assert (cfg.overlap, cfg.max_retries) == ("skip", 3)
    for bad in ({"interval_s": 5, "overlap": "queue"}, {"interval_s": 5, "max_retries": -1}):
        with pytest.raises(pydantic.ValidationError):
            ScheduleTrigger.Config.model_validate(bad)


def test_error_trigger_config() -> None:
    assert ErrorTrigger.Config.model_validate({"workflows": ["billing", "*"]})
    bad_configs: list[dict[str, Any]] = [{}, {"workflows": []}, {"workflows": ["Bad Slug"]}]
    for bad in bad_configs:
        with pytest.raises(pydantic.ValidationError):
            ErrorTrigger.Config.model_validate(bad)


def test_telegram_config() -> None:
    cfg = TelegramTrigger.Config.model_validate(
        {"credential": "tg", "base_url": "http://127.0.0.1:8081", "mode": "webhook"}
    )
    assert cfg.base_url == "http://127.0.0.1:8081"
    for bad in ({}, {"credential": "tg", "base_url": "ftp://x"}, {"credential": "tg", "mode": "x"}):
        with pytest.raises(pydantic.ValidationError):
            TelegramTrigger.Config.model_validate(bad)
