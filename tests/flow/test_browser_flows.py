"""Each flow of flows/ in n8n's own editor, in a real browser: headless Debian
Chromium through /usr/bin/chromedriver, signed in to the flow stack's n8n
(its editor, on n8n's own port, never through the door) as the owner the
stack makes from N8N_OWNER_EMAIL / N8N_OWNER_PASSWORD. The editor must draw
every node of the file and flag none (no issue, no missing credentials, no
unknown node type): what an operator sees on opening the flow. A control
scenario makes sure a node with an issue would be seen.

Each flow's canvas, zoomed to fit in a 1600 x 1000 window, is written at
twice the pixels to docs/flows/<file stem>.png, cropped to the flow and
without the buttons over the canvas (docs/flows/README.md lists them),
overwritten on each run.

n8n 2.41.1's canvas, as the tests read it: a node is
[data-test-id=canvas-node] with data-node-name and data-node-type; a sticky
note is [data-node-type=n8n-nodes-base.stickyNote] with [data-test-id=sticky]
inside; a node's flags sit inside it as [data-test-id=node-issues],
[data-test-id=node-setup-required], [data-test-id=node-not-installed] or
[data-test-id=node-restricted]."""
from __future__ import annotations

import base64
import json
import time

import pytest
import requests

from python_services.common.config import PROJECT_ROOT

from .chromium import WAIT_SECONDS, chromium

pytestmark = [pytest.mark.flow, pytest.mark.browser]

FLOWS = sorted((PROJECT_ROOT / "flows").glob("*.json"))
SHOTS = PROJECT_ROOT / "docs/flows"
STICKY = "n8n-nodes-base.stickyNote"
# how n8n's canvas marks a node that needs attention
FLAGS = ("node-issues", "node-setup-required", "node-not-installed", "node-restricted")
# the screenshots' viewport; at twice the pixels, so the inbound flow's labels and
# sticky notes stay legible once the whole flow is zoomed to fit
VIEWPORT = {"width": 1600, "height": 1000, "deviceScaleFactor": 2, "mobile": False}
# what floats over the canvas and is left out of the pictures: the Editor / Executions
# tabs, the execute button, the buttons on the right, the zoom buttons
OVERLAYS = (".tab-bar-container", "[class*=_executionButtons_]", "[class*=_nodeButtonsWrapper_]",
            "[data-test-id=canvas-controls]")


class Editor:
    """One browser signed in to the n8n editor."""

    def __init__(self, driver, stack):
        self.driver, self.stack = driver, stack
        self.base = stack.url("n8n")

    def until(self, what: str, check, timeout: float = WAIT_SECONDS):
        from selenium.common.exceptions import StaleElementReferenceException
        from selenium.webdriver.support.ui import WebDriverWait

        wait = WebDriverWait(self.driver, timeout, poll_frequency=0.2,
                             ignored_exceptions=(StaleElementReferenceException,))
        return wait.until(lambda d: check(), what)

    def find(self, css: str) -> list:
        from selenium.webdriver.common.by import By

        return self.driver.find_elements(By.CSS_SELECTOR, css)

    def sign_in(self) -> None:
        """Through the editor's sign-in page, as the owner."""
        self.driver.get(self.base + "/signin")
        email = self.until("the sign-in form", lambda: self.find("[data-test-id=emailOrLdapLoginId] input"))[0]
        email.send_keys(self.stack.n8n_owner_email)
        self.find("[data-test-id=password] input")[0].send_keys(self.stack.env["N8N_OWNER_PASSWORD"])
        self.find("[data-test-id=form-submit-button]")[0].click()
        self.until("the editor past the sign-in page", lambda: "/signin" not in self.driver.current_url)

    def open_flow(self, flow_id: str) -> None:
        self.driver.get(f"{self.base}/workflow/{flow_id}")
        self.until("the canvas", lambda: self.find("[data-test-id=canvas]"))

    def canvas(self) -> dict:
        """What the canvas draws: the nodes' names, the sticky notes' count and each flagged node's flags."""
        return self.driver.execute_script("""
            const flags = arguments[0];
            const nodes = [...document.querySelectorAll('[data-test-id=canvas-node][data-node-name]')];
            const flagged = {};
            for (const node of nodes) {
                const found = flags.filter(f => node.querySelector(`[data-test-id="${f}"]`));
                if (found.length) flagged[node.dataset.nodeName] = found;
            }
            return {
                nodes: nodes.map(n => n.dataset.nodeName),
                stickies: document.querySelectorAll(
                    '[data-node-type="n8n-nodes-base.stickyNote"] [data-test-id=sticky]').length,
                flagged,
            };""", list(FLAGS))

    def drawn(self, names: set[str], stickies: int) -> dict:
        """The canvas once every node and sticky note is drawn and nothing more changes for a second
        (n8n works out a node's issues after drawing it)."""
        last, since = None, time.monotonic()

        def settled():
            nonlocal last, since
            now = self.canvas()
            if now != last:
                last, since = now, time.monotonic()
            complete = set(now["nodes"]) >= names and now["stickies"] >= stickies
            return now if complete and time.monotonic() - since >= 1.0 else None

        try:
            return self.until("every node and sticky note drawn", settled)
        except Exception:
            print(f"the canvas at the timeout: {last}")
            raise

    def zoom_to_fit(self) -> None:
        """The canvas's own zoom-to-fit button, then until the view stops moving."""
        self.find("[data-test-id=zoom-to-fit]")[0].click()
        last, since = None, time.monotonic()

        def still():
            nonlocal last, since
            now = self.driver.execute_script(
                "const v = document.querySelector('.vue-flow__transformationpane'); return v && v.style.transform")
            if now != last:
                last, since = now, time.monotonic()
            return now and time.monotonic() - since >= 0.6

        self.until("the view zoomed to fit", still)

    def shoot_canvas(self, path) -> None:
        """The part of the canvas the flow takes (plus a margin), without what
        floats over the canvas (hidden for this page only)."""
        self.driver.execute_script(
            "const style = document.createElement('style');"
            "style.textContent = arguments[0] + ' { visibility: hidden !important }';"
            "document.head.appendChild(style)", ", ".join(OVERLAYS))
        # the nodes' and sticky notes' boxes, the labels under the nodes (up to
        # 90 units below, 40 to the sides at zoom 1), a margin of 40 px, in the canvas
        clip = self.driver.execute_script("""
            const canvas = document.querySelector('[data-test-id=canvas]').getBoundingClientRect();
            const zoom = new DOMMatrix(getComputedStyle(
                document.querySelector('.vue-flow__transformationpane')).transform).a;
            let [left, top, right, bottom] = [Infinity, Infinity, -Infinity, -Infinity];
            for (const node of document.querySelectorAll('.vue-flow__node')) {
                const box = node.getBoundingClientRect();
                [left, top] = [Math.min(left, box.left), Math.min(top, box.top)];
                [right, bottom] = [Math.max(right, box.right), Math.max(bottom, box.bottom)];
            }
            [left, top] = [Math.max(canvas.left, left - 40 - 40 * zoom), Math.max(canvas.top, top - 40)];
            [right, bottom] = [Math.min(canvas.right, right + 40 + 80 * zoom),
                               Math.min(canvas.bottom, bottom + 40 + 90 * zoom)];
            return {x: left, y: top, width: right - left, height: bottom - top, scale: 1};""")
        shot = self.driver.execute_cdp_cmd("Page.captureScreenshot", {"format": "png", "clip": clip})
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(base64.b64decode(shot["data"]))


@pytest.fixture(scope="module")
def editor(flow_stack, tmp_path_factory):
    """One browser and one sign-in for every flow."""
    folder = tmp_path_factory.mktemp("n8n-editor")
    with chromium(folder) as driver:
        driver.execute_cdp_cmd("Emulation.setDeviceMetricsOverride", VIEWPORT)
        driver.execute_cdp_cmd("Emulation.setEmulatedMedia", {
            "features": [{"name": "prefers-reduced-motion", "value": "reduce"}]})
        page = Editor(driver, flow_stack)
        try:
            page.sign_in()
            yield page
        finally:
            driver.save_screenshot(str(folder / "n8n-editor-last-page.png"))
            (folder / "n8n-editor-last-page.html").write_text(driver.page_source)
            print(f"last editor page: {driver.current_url} ({folder / 'n8n-editor-last-page.png'}, .html)")


@pytest.mark.parametrize("flow_file", FLOWS, ids=lambda p: p.stem)
def test_the_n8n_editor_opens_every_flow_with_every_node_and_no_node_flagged(editor, flow_file):
    flow = json.loads(flow_file.read_text())
    names = {n["name"] for n in flow["nodes"] if n["type"] != STICKY}
    stickies = sum(n["type"] == STICKY for n in flow["nodes"])

    editor.open_flow(flow["id"])
    canvas = editor.drawn(names, stickies)

    assert sorted(canvas["nodes"]) == sorted(names), f"{flow_file.name}: the editor draws other nodes"
    assert canvas["stickies"] == stickies, f"{flow_file.name}: {canvas['stickies']} sticky notes drawn"
    assert canvas["flagged"] == {}, f"{flow_file.name}: nodes flagged in the editor: {canvas['flagged']}"
    assert flow["name"] in editor.driver.title, editor.driver.title

    editor.zoom_to_fit()
    shot = SHOTS / f"{flow_file.stem}.png"
    editor.shoot_canvas(shot)
    assert shot.stat().st_size > 10_000, shot
    print(f"the {flow_file.stem} flow's canvas: {shot}")


def test_the_editor_check_sees_a_node_flagged_when_one_has_an_issue(editor, flow_stack):
    """The control: a workflow whose HTTP Request node has no URL is drawn with
    that node flagged, so the scenario above cannot pass by looking for a flag
    n8n no longer draws."""
    n8n = requests.Session()
    signed_in = n8n.post(editor.base + "/rest/login", timeout=30, json={
        "emailOrLdapLoginId": flow_stack.n8n_owner_email, "password": flow_stack.env["N8N_OWNER_PASSWORD"]})
    assert signed_in.status_code == 200, signed_in.text
    made = n8n.post(editor.base + "/rest/workflows", timeout=30, json={
        "name": "editor check: a node without its URL",
        "nodes": [
            {"id": "0c3d5f0e-6c1b-4a9e-9d3e-1f0a2b3c4d01", "name": "Every minute", "position": [0, 0],
             "type": "n8n-nodes-base.scheduleTrigger", "typeVersion": 1.2,
             "parameters": {"rule": {"interval": [{"field": "minutes"}]}}},
            {"id": "0c3d5f0e-6c1b-4a9e-9d3e-1f0a2b3c4d02", "name": "Call nowhere", "position": [240, 0],
             "type": "n8n-nodes-base.httpRequest", "typeVersion": 4.2, "parameters": {"url": ""}},
        ],
        "connections": {"Every minute": {"main": [[{"node": "Call nowhere", "type": "main", "index": 0}]]}},
        "settings": {}, "active": False})
    assert made.status_code == 200, made.text
    workflow_id = made.json()["data"]["id"]
    try:
        editor.open_flow(workflow_id)
        canvas = editor.drawn({"Every minute", "Call nowhere"}, 0)
        assert list(canvas["flagged"]) == ["Call nowhere"], canvas
    finally:
        n8n.post(f"{editor.base}/rest/workflows/{workflow_id}/archive", timeout=30)
        n8n.delete(f"{editor.base}/rest/workflows/{workflow_id}", timeout=30)
