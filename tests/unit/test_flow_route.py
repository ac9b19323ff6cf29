"""The one key the inbound flow switches on (`route`, #18): the collision
service says what comes next, and the flow's "Route by decision" only follows it."""
from __future__ import annotations

import json

import pytest

from python_services.collision.recording import ROUTES, route_for
from python_services.common.config import PROJECT_ROOT
from python_services.core.decide import Verdict
from python_services.core.normalize import Event

TOKEN = {"id": "7d3c8f9e-0000-4000-8000-000000000001"}


def customer_message(kind: str | None = None) -> Event:
    return Event(instance="shop", event_type="messages.upsert", kind="message", chat_id="5511@s.whatsapp.net",
                 wa_message_id="ABC", from_me=False, author="customer", message_type="conversation",
                 media={"kind": kind} if kind else None)


@pytest.mark.parametrize("story, event, verdict, token, route", [
    ("a customer writes in an active chat -> the reply is written",
     customer_message(), Verdict("reply", "r", author="customer", reply=True), TOKEN, "reply"),
    ("a customer's voice note -> transcribed first, then the reply",
     customer_message("audio"), Verdict("reply", "r", author="customer", reply=True), TOKEN, "voice_note"),
    ("a photo is no voice note -> the plain reply",
     customer_message("image"), Verdict("reply", "r", author="customer", reply=True), TOKEN, "reply"),
    ("the shop is closed -> the away message goes now",
     customer_message(), Verdict("outside_hours", "r", author="customer", reply=True, fixed_text="Closed"), TOKEN,
     "away_message"),
    ("the owner took over -> the team is told, nothing is written",
     customer_message(), Verdict("human_takeover", "r", author="business", notify=True), None, "notify"),
    ("over today's budget, offline answers -> tell the owner and still reply",
     customer_message(), Verdict("over_budget", "r", author="customer", reply=True, notify=True,
                                 over_budget=True), TOKEN, "notify_and_reply"),
    ("a duplicate delivery -> nothing",
     customer_message(), Verdict("duplicate", "r"), None, "nothing"),
])
def test_the_service_names_the_flows_next_step(story, event, verdict, token, route):
    assert route_for(event, verdict, token) == route


def test_every_route_has_its_way_out_of_the_flows_switch():
    # a route the switch does not know would fall to "nothing to do" unseen
    wf = json.loads((PROJECT_ROOT / "flows/inbound.json").read_text())
    [switch] = [n for n in wf["nodes"] if n["name"] == "Route by decision"]
    switched = [c["rightValue"] for rule in switch["parameters"]["rules"]["values"]
                for c in rule["conditions"]["conditions"]]
    assert sorted(switched) == sorted(r for r in ROUTES if r != "nothing")
