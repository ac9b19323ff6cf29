"""The sandbox page in a real browser: headless Debian Chromium, driven by
Selenium through /usr/bin/chromedriver, against the flow stack's sandbox, n8n
and the fake LLM. It lives with the flow tests so the session shares their one
n8n. Without Chromium it fails (`make test` installs it; `make chromium`)."""
from __future__ import annotations

import pytest

from .chromium import WAIT_SECONDS, chromium
from .helpers import FakeLLMControl, new_chat, wait_for

pytestmark = [pytest.mark.flow, pytest.mark.browser]


@pytest.fixture
def browser(tmp_path):
    with chromium(tmp_path) as driver:
        yield driver


def open_the_sandbox_on(browser, wait, stack, chat) -> None:
    """The sandbox page with the tenant's phone and the chat's customer number chosen on it."""
    from selenium.webdriver.common.by import By
    from selenium.webdriver.common.keys import Keys
    from selenium.webdriver.support.ui import Select

    browser.get(stack.url("sandbox") + "/")
    wait.until(lambda d: d.find_elements(By.CSS_SELECTOR, f"#instance-select option[value='{chat.instance}']"),
               "the tenant's instance in the list")
    Select(browser.find_element(By.CSS_SELECTOR, "[data-testid=instance-select]")).select_by_value(chat.instance)
    number = browser.find_element(By.CSS_SELECTOR, "[data-testid=number-input]")
    number.clear()
    number.send_keys(chat.number, Keys.TAB)
    wait.until(lambda d: chat.number in d.find_element(By.ID, "owner-title").text, "the customer number taken")


def test_on_the_sandbox_page_the_bot_answers_the_customer_and_goes_quiet_when_the_owner_writes(
        flow_stack, browser, tmp_path):
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support.ui import WebDriverWait

    FakeLLMControl(flow_stack.fake_llm_url).reset()  # the default answer: "fake reply to: <text>"
    chat = new_chat(flow_stack, settings={"debounce_seconds": 0, "typing": False})
    wait = WebDriverWait(browser, WAIT_SECONDS, poll_frequency=0.2)

    def testid(name):
        return browser.find_element(By.CSS_SELECTOR, f"[data-testid={name}]")

    def messages(phone, author):
        """The texts of one phone's bubbles by one author (without the author tag and the clock)."""
        return browser.execute_script(
            "return [...document.querySelectorAll(arguments[0])].map(e => [...e.childNodes]"
            ".filter(n => n.nodeType === Node.TEXT_NODE).map(n => n.textContent).join(''))",
            f"[data-testid={phone}-messages] [data-testid=message][data-author={author}]")

    try:
        open_the_sandbox_on(browser, wait, flow_stack, chat)

        testid("customer-input").send_keys("Do you open on Sundays?")
        testid("customer-send").click()
        wait.until(lambda d: messages("customer", "customer") == ["Do you open on Sundays?"], "the customer's message")
        wait.until(lambda d: messages("customer", "bot"), "the bot's reply")
        assert len(messages("customer", "bot")) == 1
        reply = messages("customer", "bot")[0]
        assert reply == "fake reply to: Do you open on Sundays?", reply
        wait.until(lambda d: messages("owner", "bot") == [reply], "the reply on the owner's phone too")
        assert testid("paused-marker").get_attribute("data-paused") != "true"

        testid("owner-input").send_keys("Hi, João from the shop here: yes, 10 to 4.")
        testid("owner-send").click()
        wait.until(lambda d: messages("owner", "owner") == ["Hi, João from the shop here: yes, 10 to 4."],
                   "the owner's message")
        wait.until(lambda d: d.find_element(By.ID, "paused-marker").get_attribute("data-paused") == "true",
                   "the chat marked paused")
        assert testid("paused-marker").is_displayed()
        assert testid("bot-state").get_attribute("data-paused") == "true"
        # HybridFlow's own state, not just the page's
        wait_for("the session paused in the database", lambda: (chat.session() or {}).get("paused"))
        shot = tmp_path / "sandbox-page.png"
        browser.save_screenshot(str(shot))
        print(f"screenshot of the sandbox page: {shot}")
    except Exception:
        shot = tmp_path / "sandbox-page-failure.png"
        browser.save_screenshot(str(shot))
        print(f"screenshot of the sandbox page at the failure: {shot}")
        raise


def test_on_the_sandbox_page_a_voice_note_and_a_photo_get_answers(flow_stack, browser, tmp_path):
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support.ui import WebDriverWait

    FakeLLMControl(flow_stack.fake_llm_url).reset()
    # OpenAI: the fake server transcribes ("fake transcript of <file>") and sees images
    chat = new_chat(flow_stack, provider="openai", settings={"debounce_seconds": 0, "typing": False})
    wait = WebDriverWait(browser, WAIT_SECONDS * 2, poll_frequency=0.2)

    def testid(name):
        return browser.find_element(By.CSS_SELECTOR, f"[data-testid={name}]")

    def bot_texts():
        return [e.text for e in browser.find_elements(
            By.CSS_SELECTOR, "[data-testid=customer-messages] [data-testid=message][data-author=bot]")]

    try:
        open_the_sandbox_on(browser, wait, flow_stack, chat)

        testid("customer-voice-sample").click()
        wait.until(lambda d: len(bot_texts()) == 1, "the answer to the voice note")
        assert "fake transcript of" in bot_texts()[0], bot_texts()
        testid("customer-photo-sample").click()
        wait.until(lambda d: len(bot_texts()) == 2, "the answer to the photo")
        wait_for("the photo reached the model as an image",
                 lambda: any(r.get("images") for r in FakeLLMControl(flow_stack.fake_llm_url).requests()))
        shot = tmp_path / "sandbox-media.png"
        browser.save_screenshot(str(shot))
        print(f"screenshot of the sandbox page with media: {shot}")
    except Exception:
        browser.save_screenshot(str(tmp_path / "sandbox-media-failure.png"))
        raise
