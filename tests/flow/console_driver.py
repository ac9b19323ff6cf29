"""The console in a real browser, for tests/flow/test_browser_console.py:
people made through the admin API, a Selenium driver reaching the console
through the door (as people do), its data-testids (DESIGN.md), the page's
cookies for requests made outside the browser, and screenshots at a given
viewport."""
from __future__ import annotations

import itertools
import os
import time
from pathlib import Path

import requests

from .chromium import WAIT_SECONDS

PASSWORD = "a long console password"
_people = itertools.count(1)

# the viewports of the screenshots: a laptop, and a small Android phone
DESKTOP = {"width": 1280, "height": 900, "deviceScaleFactor": 1, "mobile": False}
PHONE = {"width": 360, "height": 740, "deviceScaleFactor": 1, "mobile": True}


def add_person(stack, tenant_id, role: str, email: str | None = None) -> str:
    """A new account with `role` in the tenant, through the admin API; its e-mail."""
    email = email or f"{role}-{next(_people)}-{os.getpid()}-{int(time.time() * 1000) % 100000}@console.test"
    resp = stack.admin("POST", f"/api/tenants/{tenant_id}/users",
                       json={"email": email, "password": PASSWORD, "role": role})
    assert resp.status_code == 201, resp.text
    return email


class Console:
    """One browser on the console, behind the door."""

    def __init__(self, driver, stack):
        self.driver, self.stack = driver, stack
        # the door's address (public_url ends with /); the console lives under /console/
        self.base = stack.public_url + "console"

    # ---- finding things ----
    def open(self, path: str) -> None:
        self.driver.get(self.base + path)

    def find(self, css: str) -> list:
        from selenium.webdriver.common.by import By

        return self.driver.find_elements(By.CSS_SELECTOR, css)

    def testid(self, name: str, within: str = ""):
        found = self.find(f"{within} [data-testid={name}]".strip())
        assert found, f"no [data-testid={name}] on {self.driver.current_url}"
        return found[0]

    def until(self, what: str, check, timeout: float = WAIT_SECONDS):
        """check() until truthy; an element htmx swapped out meanwhile is looked for again."""
        from selenium.common.exceptions import (
            NoSuchElementException,
            StaleElementReferenceException,
        )
        from selenium.webdriver.support.ui import WebDriverWait

        wait = WebDriverWait(self.driver, timeout, poll_frequency=0.2,
                             ignored_exceptions=(NoSuchElementException, StaleElementReferenceException))
        return wait.until(lambda d: check(), what)

    # the inbox and the chat swap their parts every few seconds (htmx polling), so what
    # is read of them is read in one script, never from an element found a moment before
    def attribute(self, css: str, name: str) -> str | None:
        return self.driver.execute_script(
            "const e = document.querySelector(arguments[0]); return e ? e.getAttribute(arguments[1]) : null",
            css, name)

    def text(self, css: str) -> str | None:
        return self.driver.execute_script(
            "const e = document.querySelector(arguments[0]); return e ? e.textContent : null", css)

    def click(self, name: str) -> None:
        """Presses [data-testid=name], again if htmx replaced it between finding and pressing."""
        self.until(f"{name} pressed", lambda: self.testid(name).click() or True)

    def row_state(self, number: str) -> str | None:
        """The state of a customer's row in the inbox (data-chat holds the digits), or None without one."""
        return self.attribute(f"[data-testid=chat-row][data-chat='{number}']", "data-state")

    def open_chat(self, number: str) -> None:
        """From the inbox, the chat page of a customer (the link the row holds)."""
        link = f"[data-testid=chat-row][data-chat='{number}'] a"
        path = self.until(f"the chat of {number} in the inbox", lambda: self.attribute(link, "href"))
        # the link as written: a path on the console's own address
        self.driver.get(self.stack.public_url.rstrip("/") + path)
        self.until("the chat page", lambda: self.chat_state())

    def chat_state(self) -> str | None:
        return self.attribute("[data-testid=chat-state]", "data-state")

    def error_status(self) -> str | None:
        found = self.find("[data-testid=error-page]")
        return found[0].get_attribute("data-status") if found else None

    # ---- people ----
    def log_in(self, email: str, password: str = PASSWORD) -> None:
        self.open("/login")
        self.testid("login-email").send_keys(email)
        self.testid("login-password").send_keys(password)
        self.testid("login-submit").click()
        self.until("the inbox after logging in", lambda: "/inbox" in self.driver.current_url)

    # ---- without a reload ----
    def mark_page(self) -> None:
        """A flag on this page's window: a reload or a navigation drops it."""
        self.driver.execute_script("window.hfSamePage = true")

    def same_page(self) -> bool:
        return bool(self.driver.execute_script("return window.hfSamePage === true"))

    # ---- outside the browser, as the same person ----
    def cookie_header(self) -> str:
        return "; ".join(f"{c['name']}={c['value']}" for c in self.driver.get_cookies())

    def csrf_token(self) -> str:
        return self.driver.execute_script("return document.querySelector('meta[name=csrf-token]').content")

    def post(self, path: str, **kwargs) -> requests.Response:
        headers = {"Cookie": self.cookie_header(), **kwargs.pop("headers", {})}
        return requests.post(self.base + path, headers=headers, allow_redirects=False, timeout=30, **kwargs)

    def get(self, path: str) -> requests.Response:
        return requests.get(self.base + path, headers={"Cookie": self.cookie_header()}, allow_redirects=False,
                            timeout=30)

    # ---- screenshots ----
    def viewport(self, metrics: dict) -> None:
        """The page's size as a device shows it (mobile: the viewport meta tag
        counts); motion reduced, so charts are drawn at once, not mid-animation."""
        self.driver.execute_cdp_cmd("Emulation.setDeviceMetricsOverride", metrics)
        self.driver.execute_cdp_cmd("Emulation.setEmulatedMedia", {
            "features": [{"name": "prefers-reduced-motion", "value": "reduce"}]})

    def shoot(self, path: Path) -> Path:
        # the page settled: fonts loaded, no htmx request under way
        self.until("the page settled", lambda: self.driver.execute_script(
            "return document.readyState === 'complete' && document.fonts.status === 'loaded'"
            " && !document.querySelector('.htmx-request')"))
        path.parent.mkdir(parents=True, exist_ok=True)
        assert self.driver.save_screenshot(str(path)), path
        return path
