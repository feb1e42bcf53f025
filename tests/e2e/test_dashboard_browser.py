"""The dashboard in headless Chromium through the gateway: local assets, the API's numbers, live refresh.

The page is opened with a read-only key: every tenant panel works with it. The queue panel is
the suite operator's: hidden without the operator credential, shown with it (``#operator=``),
hidden again without a prompt when the credential is refused. Keys live in sessionStorage only.

Chromium is driven over the DevTools protocol on its websocket (``websocket-client``). Without
Chromium or the client the tests skip locally and fail in CI (``CI`` set).
"""
from __future__ import annotations

import base64
import importlib.util
import json
import os
import shutil
import signal
import subprocess
import uuid
from pathlib import Path
from typing import Any, Iterator
from urllib.parse import quote

import pytest
import requests

from support_shared.testing.helpers import wait_until

pytestmark = pytest.mark.e2e

CHROMIUM = os.environ.get("CHROMIUM", "/usr/bin/chromium")
SCREENSHOTS = Path(__file__).resolve().parents[2] / "var" / "screenshots"
API = {"summary": "/api/dashboard/summary", "routing": "/api/dashboard/routing",
       "performance": "/api/analytics/performance", "trends": "/api/analytics/trends?days=14",
       "agents": "/api/analytics/agents"}
OPERATOR_API = {"queues": "/api/dashboard/queues"}
KEY_STORAGE = "ticket-triage.dashboard.api-key"
QUEUE_FIELDS = ("messages_ready", "messages_unacknowledged", "consumers", "dead_letters")
UNITS = {"ms": 0.001, "s": 1.0, "min": 60.0, "h": 3600.0, "d": 86400.0}
TICKETS = [
    ("Cannot log in to VPN", "My VPN client rejects my password and I cannot reach the network drive."),
    ("Parental leave request", "I would like to take parental leave from March; which forms does HR need?"),
    ("Air conditioning broken", "The air conditioning in the meeting room is broken and it is very hot."),
]


def _site(running) -> str:
    """Where the page and the numbers it shows are read: the gateway, as a user sees them."""
    return running.base_url


def _suite_key(running) -> str:
    """The API key the suite's requests carry, if the gateway wants one ("" otherwise)."""
    auth = running.http.headers.get("Authorization", "")
    if auth.lower().startswith("bearer "):
        return auth[len("bearer "):].strip()
    return running.http.headers.get("X-API-Key", "")


def _page_url(running, key: str = "", operator: str = "") -> str:
    """/dashboard, handing the page a key (and the operator credential) in the fragment (never
    sent to the server)."""
    key = key or _suite_key(running)
    fragment = "&".join(f"{name}={quote(value, safe='')}"
                        for name, value in (("key", key), ("operator", operator)) if value)
    return _site(running) + "/dashboard" + (f"#{fragment}" if fragment else "")


def _unavailable(why: str) -> None:
    if os.environ.get("CI"):
        pytest.fail(why)
    pytest.skip(why)


class Browser:
    """One headless Chromium page, driven over the DevTools protocol."""

    def __init__(self, profile: Path) -> None:
        import websocket  # websocket-client; imported here so a missing package skips

        self.log = open(profile.parent / "chromium.log", "ab")
        self.proc = subprocess.Popen(
            [CHROMIUM, "--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
             "--disable-component-update", "--disable-sync", "--no-first-run", "--disable-quic",
             f"--user-data-dir={profile}", "--remote-debugging-port=0", "--window-size=1366,768",
             "about:blank"],
            stdout=subprocess.DEVNULL, stderr=self.log, start_new_session=True,
        )
        self.events: list[dict[str, Any]] = []
        self._next_id = 0
        try:
            port_file = profile / "DevToolsActivePort"
            wait_until(lambda: port_file.exists() and len(port_file.read_text().splitlines()) >= 2,
                       timeout=30, message="Chromium's DevTools port")
            port = port_file.read_text().splitlines()[0]
            pages = requests.get(f"http://127.0.0.1:{port}/json/list", timeout=5).json()
            url = next(t["webSocketDebuggerUrl"] for t in pages if t["type"] == "page")
            self.ws = websocket.create_connection(url, timeout=30, suppress_origin=True)
        except BaseException:
            self._stop()
            raise
        for domain in ("Page", "Runtime", "Log", "Network"):
            self.send(f"{domain}.enable")

    def send(self, method: str, **params: Any) -> dict[str, Any]:
        """Call ``method``; events that arrive meanwhile are kept in ``events``."""
        self._next_id += 1
        self.ws.send(json.dumps({"id": self._next_id, "method": method, "params": params}))
        while True:
            message = json.loads(self.ws.recv())
            if message.get("id") == self._next_id:
                if "error" in message:
                    raise RuntimeError(f"{method}: {message['error']}")
                return message["result"]
            if "method" in message:
                self.events.append(message)

    def js(self, expression: str) -> Any:
        result = self.send("Runtime.evaluate", expression=expression, returnByValue=True,
                           awaitPromise=True)
        if "exceptionDetails" in result:
            raise AssertionError(f"{expression}: {result['exceptionDetails']}")
        return result["result"].get("value")

    def viewport(self, width: int, height: int) -> None:
        self.send("Emulation.setDeviceMetricsOverride", width=width, height=height,
                  deviceScaleFactor=1, mobile=False)

    def screenshot(self, path: Path, full_page: bool = False) -> None:
        params: dict[str, Any] = {"format": "png"}
        if full_page:
            height = self.js("document.documentElement.scrollHeight")
            width = self.js("document.documentElement.clientWidth")
            params.update(captureBeyondViewport=True,
                          clip={"x": 0, "y": 0, "width": width, "height": height, "scale": 1})
        path.write_bytes(base64.b64decode(self.send("Page.captureScreenshot", **params)["data"]))

    def problems(self) -> list[str]:
        """Console errors, uncaught exceptions and failed or 4xx/5xx loads seen so far."""
        self.js("0")  # flush: events sent before this answer have been read
        found = []
        for event in self.events:
            method, params = event["method"], event["params"]
            if method == "Runtime.consoleAPICalled" and params["type"] in ("error", "assert"):
                found.append(f"console.{params['type']}: {params['args']}")
            elif method == "Runtime.exceptionThrown":
                found.append(f"exception: {params['exceptionDetails']}")
            elif method == "Log.entryAdded" and params["entry"]["level"] == "error":
                found.append(f"log: {params['entry']['text']} {params['entry'].get('url', '')}")
            elif method == "Network.loadingFailed":
                found.append(f"load failed: {params.get('errorText')}")
            elif method == "Network.responseReceived" and params["response"]["status"] >= 400:
                found.append(f"HTTP {params['response']['status']}: {params['response']['url']}")
        return found

    def requests(self, since: int = 0) -> list[dict[str, Any]]:
        """The requests the page sent (url, headers, ...) from event number ``since`` on."""
        self.js("0")
        return [e["params"]["request"] for e in self.events[since:]
                if e["method"] == "Network.requestWillBeSent"]

    def close(self) -> None:
        try:
            self.ws.close()
        finally:
            self._stop()

    def _stop(self) -> None:
        """Stop the browser's process group (its renderer and helper processes too)."""
        try:
            os.killpg(self.proc.pid, signal.SIGTERM)
            self.proc.wait(timeout=10)
        except ProcessLookupError:
            pass
        except subprocess.TimeoutExpired:
            os.killpg(self.proc.pid, signal.SIGKILL)
            self.proc.wait(timeout=10)
        self.log.close()


@pytest.fixture(scope="module")
def browser(tmp_path_factory) -> Iterator[Browser]:
    if not (shutil.which(CHROMIUM) or Path(CHROMIUM).exists()):
        _unavailable(f"Chromium not found at {CHROMIUM} (apt-get install chromium)")
    if importlib.util.find_spec("websocket") is None:
        _unavailable("websocket-client is not installed (pip install websocket-client==1.9.2)")
    profile = tmp_path_factory.mktemp("chromium") / "profile"
    profile.mkdir()
    chromium = Browser(profile)
    yield chromium
    chromium.close()


def _api(running, operator: bool = False) -> dict[str, Any]:
    answers = {}
    sources = [(name, path, running.http) for name, path in API.items()]
    if operator:
        sources += [(name, path, running.operator().http) for name, path in OPERATOR_API.items()]
    for name, path, http in sources:
        resp = http.get(_site(running) + path, timeout=10)
        assert resp.status_code == 200, (path, resp.text)
        answers[name] = resp.json()
    return answers


@pytest.fixture(scope="module")
def reader(running):
    """A read-only key of the tenant whose numbers the page shows."""
    return running.tenant("read", tenant_id="default")


@pytest.fixture(scope="module")
def dashboard(browser, running, reader) -> Browser:
    """The gateway's /dashboard open in the browser, after a few tickets went through the suite."""
    before = running.get("/api/dashboard/routing").json()["total_routed"]
    for title, description in TICKETS:
        resp = running.post("/api/tickets", json={"title": title, "description": description,
                                                  "user_name": "Dana Kim",
                                                  "user_email": "dana.kim@example.com"})
        assert resp.status_code == 201, resp.text
    wait_until(lambda: running.get("/api/dashboard/routing").json()["total_routed"]
               >= before + len(TICKETS), timeout=20, message="tickets routed and counted")
    page = running.http.get(_site(running) + "/dashboard", timeout=10)
    assert page.status_code == 200, f"GET /dashboard through the gateway: {page.status_code} {page.text}"
    browser.viewport(1366, 768)
    _open(browser, _page_url(running, reader.key))
    return browser


def _open(browser: Browser, url: str) -> None:
    browser.send("Page.navigate", url=url)
    wait_until(lambda: browser.js("Number(document.body && document.body.dataset.refreshes) || 0") >= 1,
               timeout=20, message="first dashboard refresh")


def _js_number(value: Any) -> str:
    """What JavaScript's String() shows for a JSON number (1.0 is "1")."""
    if value is None:
        return "–"
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value)


def _expected(api: dict[str, Any]) -> dict[str, tuple[Any, str | None]]:
    """metric -> (API value, how the page shows it: count/number/duration, None = not as text)."""
    s, r, p = api["summary"], api["routing"], api["performance"]
    out: dict[str, tuple[Any, str | None]] = {
        f"summary.{k}": (s[k], "number")
        for k in ("total_tickets", "created_last_24h", "resolved_last_24h", "needs_review")}
    for group in ("by_status", "by_priority", "by_department"):
        out.update({f"summary.{group}.{k}": (v, "count") for k, v in s[group].items()})
    out["routing.total_routed"] = (r["total_routed"], "number")
    out["routing.average_confidence"] = (r["average_confidence"], "number")
    out.update({f"routing.confidence_distribution.{b['bucket']}": (b["count"], "count")
                for b in r["confidence_distribution"]})
    out.update({f"routing.by_categorization_method.{k}": (v, "count")
                for k, v in r["by_categorization_method"].items()})
    for key, stats in p.items():
        out[f"performance.{key}.count"] = (stats["count"], "count")
        out.update({f"performance.{key}.{f}": (stats[f], "duration")
                    for f in ("avg_seconds", "p50_seconds", "p95_seconds", "max_seconds")})
    out.update({f"trends.{d['date']}.{series}": (d[series], None)
                for d in api["trends"]["trends"] for series in ("created", "routed", "resolved")})
    agents = api["agents"]
    out.update({f"agents.agents.{a['name'] or 'agent %d' % a['agent_id']}": (a["open_tickets"],
                                                                            "count")
                for a in agents["agents"]})
    if agents["unassigned_open"]:
        out["agents.agents.(unassigned)"] = (agents["unassigned_open"], "count")
    if "queues" not in api:
        return out
    q = api["queues"]
    totals = q.get("totals", {})
    out["queues.totals.messages"] = (totals.get("messages"), "number")
    out["queues.totals.dead_letters"] = (totals.get("dead_letters"), "number")
    if q["available"]:
        out.update({f"queues.{row['name']}.{f}": (row[f], "count")
                    for row in q["queues"] for f in QUEUE_FIELDS})
        out["queues.unroutable.messages"] = (q["unroutable"]["messages"], "count")
    return out


def _shown(text: str, value: Any, fmt: str | None, metric: str) -> bool:
    if fmt is None:
        return True
    if fmt == "duration":
        if value is None:
            return text == "–"
        number, unit = text.split(" ")
        decimals = len(number.partition(".")[2])
        return abs(float(number) * UNITS[unit] - value) <= 0.5 * 10 ** -decimals * UNITS[unit] + 1e-9
    if value is None and metric.startswith("queues.totals."):
        return text == "n/a"
    return text == _js_number(value)


def _mismatches(browser: Browser, running, operator: bool = False) -> list[str]:
    """What the page's visible figures say differently from the API (hidden ones are left out:
    without the operator credential the queue panel must be hidden)."""
    expected = _expected(_api(running, operator))
    shown = browser.js("""Array.from(document.querySelectorAll('[data-metric]'))
        .filter((n) => n.closest('[hidden]') === null).map(
        (n) => [n.dataset.metric, n.dataset.value, n.dataset.format || null, n.textContent])""")
    seen = {metric: (json.loads(value), fmt, text) for metric, value, fmt, text in shown}
    problems = [f"{m}: not on the page" for m in expected.keys() - seen.keys()]
    problems += [f"{m}: on the page, not in the API" for m in seen.keys() - expected.keys()]
    for metric in expected.keys() & seen.keys():
        value, fmt = expected[metric]
        got, got_fmt, text = seen[metric]
        if got != value or got_fmt != fmt or not _shown(text, value, fmt, metric):
            problems.append(f"{metric}: API {value!r} ({fmt}), page {got!r} ({got_fmt}) {text!r}")
    return problems


def test_page_loads_from_the_gateway_without_errors_or_remote_requests(dashboard, running,
                                                                        reader):
    assert dashboard.problems() == []
    sent = dashboard.requests()
    urls = [r["url"] for r in sent]
    site = _site(running)
    assert urls and all(u.startswith(site + "/") for u in urls), urls
    assert {u[len(site):] for u in urls} >= {
        "/dashboard", "/dashboard/static/dashboard.css", "/dashboard/static/dashboard.js",
        "/dashboard/static/charts.js", *API.values()}
    assert OPERATOR_API["queues"] not in {u[len(site):] for u in urls}   # a read key: not asked
    assert all(r["headers"].get("Authorization") == f"Bearer {reader.key}"
               for r in sent if "/api/" in r["url"])
    assert dashboard.js("document.getElementById('status').dataset.state") == "ok"
    assert dashboard.js("document.getElementById('panel-queues').hidden") is True
    assert dashboard.js("document.getElementById('banner').hidden") is True
    assert dashboard.js(f"localStorage.getItem('{KEY_STORAGE}')") is None
    assert dashboard.js(f"sessionStorage.getItem('{KEY_STORAGE}')") == reader.key


def test_page_and_swagger_refuse_framing_and_sniffing(running):
    for path in ("/dashboard", "/docs"):
        resp = running.anonymous().get(path)
        assert resp.status_code == 200, path
        assert "frame-ancestors 'none'" in resp.headers["Content-Security-Policy"], path
        assert resp.headers["X-Frame-Options"] == "DENY", path
        assert resp.headers["X-Content-Type-Options"] == "nosniff", path


def test_every_figure_holds_the_number_the_api_returns(dashboard, running):
    last: list[str] = []

    def agree() -> bool:  # the page polls: compare until one refresh matches the API's answer
        last[:] = _mismatches(dashboard, running)
        return not last

    try:
        wait_until(agree, timeout=20, interval=0.5, message="page numbers equal to the API's")
    except AssertionError:
        pytest.fail("page and API disagree:\n" + "\n".join(sorted(last)))
    assert int(dashboard.js("document.querySelector('[data-metric=\"summary.total_tickets\"]')"
                            ".textContent")) >= len(TICKETS)
    assert dashboard.js("document.querySelectorAll('#chart-trends circle').length") == 14 * 3


def test_a_new_ticket_shows_up_without_a_reload(dashboard, running):
    marker = uuid.uuid4().hex
    dashboard.js(f"window.__notReloaded = '{marker}'")
    total = "Number(document.querySelector('[data-metric=\"summary.total_tickets\"]').dataset.value)"
    api_total = _api(running)["summary"]["total_tickets"]
    wait_until(lambda: dashboard.js(total) == api_total, timeout=15, message="page caught up")
    resp = running.post("/api/tickets", json={"title": "Printer jam on floor 3",
                                              "description": "The printer jams on every page.",
                                              "user_name": "Ann Lee", "user_email": "ann@example.com"})
    assert resp.status_code == 201, resp.text
    wait_until(lambda: dashboard.js(total) == api_total + 1, timeout=15, interval=0.2,
               message="new ticket counted on the open page")
    assert dashboard.js("window.__notReloaded") == marker
    assert dashboard.problems() == []


@pytest.mark.parametrize("width,height", [(1366, 768), (1920, 1080)])
def test_screenshot_fits_a_laptop_screen(dashboard, tmp_path, width, height):
    dashboard.viewport(width, height)
    fits = ("(() => { const svg = document.getElementById('chart-trends');"
            " return Number(svg.getAttribute('width')) === Math.floor(svg.parentElement.clientWidth); })()")
    wait_until(lambda: dashboard.js(fits), timeout=5, message="charts redrawn for the viewport")
    assert dashboard.js("document.documentElement.scrollWidth") <= width  # no sideways scrolling
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    shot = tmp_path / f"dashboard-{width}x{height}.png"
    dashboard.screenshot(shot)
    assert shot.stat().st_size > 10_000
    full = tmp_path / f"dashboard-{width}-full.png"
    dashboard.screenshot(full, full_page=True)
    name = "dashboard.png" if width == 1366 else shot.name
    shutil.copyfile(shot, SCREENSHOTS / name)
    shutil.copyfile(full, SCREENSHOTS / full.name)
    assert dashboard.problems() == []


def _answer_paused(browser: Browser, answer, count: int) -> list[dict[str, Any]]:
    """Hand intercepted requests to ``answer`` until ``count`` were; returns those requests."""
    handled: list[dict[str, Any]] = []

    def step() -> bool:
        browser.js("0")
        for event in [e for e in browser.events if e["method"] == "Fetch.requestPaused"]:
            browser.events.remove(event)
            handled.append(event["params"]["request"])
            answer(event["params"]["requestId"])
        return len(handled) >= count

    wait_until(step, timeout=15, interval=0.1, message=f"{count} intercepted requests")
    return handled


def test_the_operator_sees_the_queue_panel(dashboard, running, reader):
    seen = len(dashboard.events)
    dashboard.send("Page.navigate", url="about:blank")
    token = running.env["GATEWAY_OPERATOR_TOKEN"]
    _open(dashboard, _page_url(running, reader.key, token))
    assert dashboard.js("window.location.hash") == ""
    wait_until(lambda: dashboard.js("document.getElementById('panel-queues').hidden") is False,
               timeout=10, message="the queue panel shown to the operator")
    last: list[str] = []

    def agree() -> bool:
        last[:] = _mismatches(dashboard, running, operator=True)
        return not last

    try:
        wait_until(agree, timeout=20, interval=0.5, message="queue numbers equal to the API's")
    except AssertionError:
        pytest.fail("page and API disagree:\n" + "\n".join(sorted(last)))
    sent = [r for r in dashboard.requests(since=seen) if "/api/" in r["url"]]
    for request in sent:
        operator = request["url"].endswith(OPERATOR_API["queues"])
        assert ("X-Operator-Token" in request["headers"]) == operator, request
        assert ("Authorization" in request["headers"]) == (not operator), request
    assert dashboard.js("Object.keys(localStorage).length") == 0


def test_a_refused_operator_credential_hides_the_panel_without_asking(dashboard, running, reader):
    dashboard.send("Page.navigate", url="about:blank")
    _open(dashboard, _page_url(running, reader.key, "not-the-operator-token-at-all"))
    wait_until(lambda: dashboard.js("document.getElementById('panel-queues').hidden"),
               timeout=10, message="queue panel hidden after the refusal")
    assert dashboard.js("document.getElementById('banner').hidden") is True
    assert dashboard.js("document.getElementById('key-form').hidden") is True
    assert dashboard.js("document.getElementById('status').dataset.state") == "ok"
    assert dashboard.js("sessionStorage.getItem('ticket-triage.dashboard.operator-token')") is None


def test_api_key_asked_for_on_401_typed_or_in_the_fragment_goes_out_as_bearer(dashboard, running):
    """Last test (it leaves a key behind): 401s are faked by intercepting the page's fetches."""
    dashboard.js("sessionStorage.clear(); localStorage.clear()")
    dashboard.send("Fetch.enable", patterns=[{"urlPattern": "*/api/*"}])
    refusal = base64.b64encode(json.dumps({"error": {"code": "unauthorized", "details": None,
                                                     "message": "an API key is required"}}).encode())
    dashboard.send("Page.navigate", url=_site(running) + "/dashboard")
    refused = _answer_paused(dashboard, lambda rid: dashboard.send(
        "Fetch.fulfillRequest", requestId=rid, responseCode=401, body=refusal.decode(),
        responseHeaders=[{"name": "Content-Type", "value": "application/json"}]), len(API))
    assert all("Authorization" not in r["headers"] for r in refused)
    wait_until(lambda: dashboard.js("document.getElementById('banner').hidden") is False, timeout=5,
               message="the banner asking for a key")
    assert "an API key is required" in dashboard.js("document.getElementById('banner').textContent")
    assert dashboard.js("document.getElementById('status-text').textContent") == "API key needed"
    assert dashboard.js("document.getElementById('key-form').hidden") is False
    key = _suite_key(running) or "typed-key"
    dashboard.js(f"document.getElementById('api-key').value = {json.dumps(key)};"
                 " document.getElementById('key-form').requestSubmit()")
    sent = _answer_paused(dashboard, lambda rid: dashboard.send("Fetch.continueRequest", requestId=rid),
                          len(API))
    dashboard.send("Fetch.disable")
    assert all(r["headers"].get("Authorization") == f"Bearer {key}" for r in sent)
    wait_until(lambda: dashboard.js("document.getElementById('banner').hidden"), timeout=10,
               message="banner gone once the key works")

    key = _suite_key(running) or "fragment-key"  # a gateway without keys ignores it
    dashboard.send("Page.navigate", url="about:blank")  # the key arrives with a fresh load
    seen = len(dashboard.events)
    _open(dashboard, _page_url(running, key))
    assert dashboard.js("window.location.hash") == ""  # not left in the address bar
    assert dashboard.js(f"sessionStorage.getItem('{KEY_STORAGE}')") == key
    assert dashboard.js(f"localStorage.getItem('{KEY_STORAGE}')") is None
    sent = [r for r in dashboard.requests(since=seen) if "/api/" in r["url"]]
    assert len(sent) >= len(API)
    assert all(r["headers"].get("Authorization") == f"Bearer {key}" for r in sent), sent


def test_swagger_ui_renders_under_its_policy(browser, running):
    seen = len(browser.events)
    browser.send("Page.navigate", url=_site(running) + "/docs")
    wait_until(lambda: browser.js("document.querySelectorAll('.opblock').length") > 20,
               timeout=20, message="Swagger UI listing the operations")
    violations = [e for e in browser.events[seen:] if e["method"] in (
        "Runtime.exceptionThrown", "Log.entryAdded") and "Content Security Policy" in json.dumps(e)]
    assert violations == []
