"""The console in a real browser (issue #14's "Done when"): headless Debian
Chromium through /usr/bin/chromedriver, reaching the console through the
door, with the real n8n, services, the sandbox as WhatsApp and the fake LLM
(the flow stack). Every wait for a change is made on a page that is not
reloaded: the inbox and the chat follow by themselves (htmx polling).

The last test writes a screenshot of each page at desktop and phone width
into docs/console/ (docs/console/README.md lists them)."""
from __future__ import annotations

from datetime import UTC

import pytest
import requests

from python_services.common.config import PROJECT_ROOT

from .chromium import chromium
from .console_driver import DESKTOP, PHONE, Console, add_person
from .helpers import Chat, new_chat, wait_for

pytestmark = [pytest.mark.flow, pytest.mark.browser]

SHOTS = PROJECT_ROOT / "docs/console"
PAGES = ("inbox", "chat", "settings", "hours", "usage", "connection", "team", "knowledge")


@pytest.fixture
def console(flow_stack, tmp_path):
    with chromium(tmp_path) as driver:
        page = Console(driver, flow_stack)
        try:
            yield page
        finally:
            # the last page seen, for whoever reads a failure
            driver.save_screenshot(str(tmp_path / "console-last-page.png"))
            print(f"last console page: {driver.current_url} ({tmp_path / 'console-last-page.png'})")


def chat_path(chat: Chat) -> str:
    return f"/t/{chat.tenant['id']}/chats/{chat.session()['id']}"


def test_after_logging_in_the_inbox_shows_a_new_customer_chat_as_active_without_a_reload(flow_stack, console):
    chat = new_chat(flow_stack)
    console.log_in(add_person(flow_stack, chat.tenant["id"], "agent"))
    assert console.row_state(chat.number) is None
    console.mark_page()

    chat.customer_says("Hello, are you open today?")
    console.until("the customer's chat in the inbox, active", lambda: console.row_state(chat.number) == "active")
    assert console.same_page(), "the inbox was reloaded"


def test_the_chat_turns_paused_when_the_owner_writes_and_resume_brings_the_bot_back(flow_stack, console):
    chat = new_chat(flow_stack)
    console.log_in(add_person(flow_stack, chat.tenant["id"], "agent"))
    chat.customer_says("Do you deliver?")
    chat.wait_for_bot_replies(1)
    console.open_chat(chat.number)
    assert console.chat_state() == "active"
    console.mark_page()

    chat.owner_says("Hi, Ana from the shop: yes, on Fridays.")
    console.until("the chat shown paused", lambda: console.chat_state() == "paused")
    paused_until = wait_for("the pause's end", lambda: (chat.session() or {}).get("paused_until"))
    detail = console.text("[data-testid=chat-state-detail]") or ""
    # the reason and the end, in the tenant's clock (UTC: the default timezone)
    assert "a person wrote" in detail and paused_until.astimezone(UTC).strftime("%H:%M") in detail, detail
    console.until("the takeover in the timeline",
                  lambda: console.find("[data-testid=timeline-entry][data-decision=human_takeover]"))
    assert console.same_page(), "the chat page was reloaded"

    console.click("resume-chat")
    console.until("the chat shown active", lambda: console.chat_state() == "active")
    assert not chat.session()["paused"]
    chat.customer_says("Great, can you bring it tomorrow?")
    replies = chat.wait_for_bot_replies(2)
    assert replies[-1] == "fake reply to: Great, can you bring it tomorrow?", replies
    console.until("the answered message in the timeline",
                  lambda: len(console.find("[data-testid=timeline-entry][data-decision=reply]")) == 2)


def test_a_viewer_sees_no_pause_or_resume_and_a_forged_post_changes_nothing(flow_stack, console):
    chat = new_chat(flow_stack)
    chat.customer_says("Is the blue one in stock?")
    chat.owner_says("Checking for you now.")
    wait_for("the chat paused by the owner", lambda: (chat.session() or {}).get("paused"))
    before = chat.session()
    console.log_in(add_person(flow_stack, chat.tenant["id"], "viewer"))
    console.open_chat(chat.number)

    assert console.chat_state() == "paused"
    for button in ("pause-chat", "resume-chat", "bot-off-chat"):
        assert not console.find(f"[data-testid={button}]"), f"a viewer sees {button}"

    resume = chat_path(chat) + "/resume"
    # the viewer's own cookies: without the CSRF token, the request is refused before anything
    forged = console.post(resume, data={})
    assert forged.status_code == 400, forged.text
    # with a valid token, the role is what refuses it
    token = console.csrf_token()
    as_viewer = console.post(resume, data={"csrf_token": token}, headers={"X-CSRFToken": token})
    assert as_viewer.status_code == 403, as_viewer.text
    off = console.post(chat_path(chat) + "/off", data={"csrf_token": token})
    assert off.status_code == 403, off.text

    after = chat.session()
    assert (after["paused"], after["pause_reason"], after["paused_until"]) == \
        (before["paused"], before["pause_reason"], before["paused_until"])
    assert not chat.query("SELECT 1 FROM events WHERE tenant_id = %s AND chat_id = %s AND event_type LIKE %s",
                          chat.tenant["id"], chat.chat_id, "hybridflow.chat_%")


def test_a_system_prompt_saved_on_the_settings_page_is_what_the_model_gets_next(flow_stack, console, fake_llm):
    chat = new_chat(flow_stack)
    console.log_in(add_person(flow_stack, chat.tenant["id"], "owner"))
    console.testid("nav-settings").click()
    console.until("the settings form", lambda: console.find("[data-testid=settings-form]"))

    marker = f"console-prompt-{chat.number}"
    prompt = console.testid("settings-form").find_element("css selector", "textarea[name=system_prompt]")
    prompt.clear()
    prompt.send_keys(f"You are Zeta, the helper of {{business_name}}. Always polite. ({marker})")
    # the save button sits in a sticky bar: scrolled to, then pressed
    save = console.testid("settings-save")
    console.driver.execute_script("arguments[0].scrollIntoView({block: 'center'})", save)
    save.click()
    console.until("the saved notice", lambda: console.find("[data-testid=settings-saved]"))
    assert "Instructions for the assistant" in console.testid("settings-saved").text
    stored = chat.query("SELECT system_prompt FROM tenants WHERE id = %s", chat.tenant["id"])[0]["system_prompt"]
    assert marker in stored

    chat.customer_says("Who am I talking to?")
    chat.wait_for_bot_replies(1)
    sent = fake_llm.prompts_containing(marker)
    assert sent, "the new system prompt never reached the model"
    assert "You are Zeta, the helper of Flow Test Shop" in str(sent[-1]["body"])


def test_the_usage_chart_draws_the_day_s_messages_and_replies(flow_stack, console):
    chat = new_chat(flow_stack)
    # the count is known before sending: a reply fast enough to arrive before it was
    # counted made the old "replies so far + 1" wait for a reply that never comes
    for replies, text in enumerate(("First question", "Second question"), start=1):
        chat.customer_says(text)
        chat.wait_for_bot_replies(replies)
    wait_for("both replies recorded as sent",
             lambda: [t["state"] for t in chat.tokens()] == ["sent", "sent"])
    console.log_in(add_person(flow_stack, chat.tenant["id"], "viewer"))
    console.testid("nav-usage").click()

    drawn = console.until("the usage chart drawn", lambda: console.driver.execute_script("""
        const canvas = document.querySelector('[data-testid=usage-chart]');
        if (!canvas || canvas.dataset.drawn !== 'true' || !canvas.width || !canvas.height) return null;
        const box = canvas.getBoundingClientRect();
        const pixels = canvas.getContext('2d').getImageData(0, 0, canvas.width, canvas.height).data;
        let inked = 0;
        for (let i = 3; i < pixels.length; i += 4) if (pixels[i]) inked++;
        const sums = {};
        for (const set of Chart.getChart(canvas).data.datasets)
            sums[set.label] = set.data.reduce((a, b) => a + (b || 0), 0);
        return inked ? {width: box.width, height: box.height, inked, sums} : null;"""))
    assert drawn["width"] > 100 and drawn["height"] > 100, drawn
    assert drawn["sums"]["Messages from customers"] == 2, drawn
    assert drawn["sums"]["Replies sent by the assistant"] == 2, drawn


def test_a_chat_of_another_business_is_not_found_for_a_user_of_the_first(flow_stack, console):
    mine, theirs = new_chat(flow_stack), new_chat(flow_stack)
    mine.customer_says("Hello from my shop's customer")
    theirs.customer_says("Hello from the other shop's customer")
    console.log_in(add_person(flow_stack, mine.tenant["id"], "owner"))
    their_session = theirs.session()["id"]

    for path in (chat_path(theirs), f"/t/{mine.tenant['id']}/chats/{their_session}",
                 f"/t/{theirs.tenant['id']}/inbox"):
        console.open(path)
        assert console.error_status() == "404", path
        assert theirs.number not in console.driver.page_source
        assert console.get(path).status_code == 404, path
    console.open(f"/t/{mine.tenant['id']}/inbox")
    console.until("my chat in my inbox", lambda: console.row_state(mine.number))
    assert console.row_state(theirs.number) is None


def test_each_page_is_photographed_at_desktop_and_phone_width_for_the_docs(flow_stack, console, fake_llm):
    """docs/console/<page>-desktop.png and <page>-phone.png, overwritten on each run."""
    chat = demo_business(flow_stack, fake_llm)
    tid = chat.tenant["id"]
    waits = {
        "inbox": "[data-testid=chat-row]", "chat": "[data-testid=timeline-entry]",
        "settings": "[data-testid=settings-form]", "hours": "[data-testid=hours-form]", "usage": "[data-testid=usage-chart][data-drawn=true]",
        "connection": "[data-testid=connection-state]", "team": "[data-testid=person]",
        "knowledge": "[data-testid=knowledge-entry]",
    }
    paths = {page: f"/t/{tid}/{page}" for page in PAGES} | {"chat": chat_path(chat)}
    shots = []
    for size, metrics in (("desktop", DESKTOP), ("phone", PHONE)):
        console.viewport(metrics)
        console.open("/login")
        console.until("the login form", lambda: console.find("[data-testid=login-email]"))
        shots.append(console.shoot(SHOTS / f"login-{size}.png"))
    console.log_in(chat.owner_email)
    for size, metrics in (("desktop", DESKTOP), ("phone", PHONE)):
        console.viewport(metrics)
        for page in PAGES:
            console.open(paths[page])
            console.until(f"the {page} page", lambda css=waits[page]: console.find(css))
            assert console.error_status() is None, page
            shots.append(console.shoot(SHOTS / f"{page}-{size}.png"))
            if metrics is PHONE:
                # a phone page never scrolls sideways (a too-wide table or form would)
                wide = console.driver.execute_script("return document.documentElement.scrollWidth")
                assert wide <= PHONE["width"], f"the {page} page is {wide} px wide on a phone"
    assert len(shots) == 2 * (len(PAGES) + 1) and all(p.stat().st_size > 1000 for p in shots)
    print("screenshots:", *shots, sep="\n  ")


def demo_business(stack, fake_llm) -> Chat:
    """A small shop with a few chats (one paused by the owner), knowledge and a team, for the screenshots."""
    chat = new_chat(stack)
    tid = chat.tenant["id"]
    resp = stack.admin("PATCH", f"/api/tenants/{tid}", json={
        "business_name": "Padaria Flor",
        "system_prompt": "You are the friendly assistant of {business_name}, a neighbourhood bakery. Answer in"
                         " a sentence or two; for orders, say that a person will confirm them."})
    assert resp.status_code == 200, resp.text
    fake_llm.script(rules=[
        {"when": "sourdough", "text": "Yes! The sourdough comes out of the oven at 10:00. Shall I keep one for you?"},
        {"when": "saturday", "text": "On Saturdays we are open from 8:00 to 14:00."},
    ])
    for title, content in (("Opening hours", "Mon-Fri 7:00-19:00, Sat 8:00-14:00, closed on Sundays."),
                           ("Delivery", "We deliver within 3 km on Fridays; orders by Thursday 18:00.")):
        made = stack.admin("POST", f"/api/tenants/{tid}/knowledge", json={"title": title, "content": content})
        assert made.status_code == 201, made.text
    for role, name in (("agent", "joao"), ("viewer", "bia")):
        add_person(stack, tid, role, f"{name}@padaria-flor.example")
    token = stack.admin("POST", f"/api/tenants/{tid}/tokens", json={"name": "shop website", "role": "viewer"})
    assert token.status_code == 201, token.text
    other = Chat(stack, chat.tenant, chat.secret, "5511987654321")
    customer_named(other, "Carlos Lima", "What time do you close on Saturday?")
    other.wait_for_bot_replies(1)
    customer_named(chat, "Maria Souza", "Good morning! Do you have sourdough today?")
    chat.wait_for_bot_replies(1)
    chat.owner_says("Hi, Ana here: I set one aside for you.")
    wait_for("the chat paused by the owner", lambda: (chat.session() or {}).get("paused"))
    chat.owner_email = add_person(stack, tid, "owner", "ana@padaria-flor.example")
    return chat


def customer_named(chat: Chat, name: str, text: str) -> None:
    """The customer writes with a WhatsApp name (Chat.customer_says sends the sandbox's default one)."""
    resp = requests.post(f"{chat.stack.url('sandbox')}/sandbox/customer", timeout=60, json={
        "instance": chat.instance, "number": chat.number, "text": text, "name": name, "wait": True})
    assert resp.status_code == 201, resp.text
