"""The "Bookinfo split" tab in a real headless Chromium: the page loads, the tab shows the shares.

Screenshots of the tab and of the live chart page are written to artifacts/ (gitignored). Skipped only when
no Chromium is installed (Debian package `chromium`, installed by .ci/run).
"""

from __future__ import annotations

import json
import re
import subprocess
import time
import urllib.request

from _locustlab import ARTIFACTS, apply_scenario, free_port, locust_command, locust_env
from chromium_support import chromium, needs_chromium, text

pytestmark = needs_chromium


def _wait_json(url: str, ready, timeout_s: float = 20.0):  # type: ignore[no-untyped-def]
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        try:
            with urllib.request.urlopen(url, timeout=5) as response:
                data = json.loads(response.read())
            if ready(data):
                return data
        except OSError:
            pass
        time.sleep(0.1)
    raise TimeoutError(url)


def test_tab_shows_live_shares_and_verdict(lab, tmp_path) -> None:  # type: ignore[no-untyped-def]
    apply_scenario(lab, "reviews-v3", setup=False)
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    locust = subprocess.Popen(
        locust_command(
            "--web-host",
            "127.0.0.1",
            "--web-port",
            str(port),
            "--autostart",
            "-u",
            "2",
            "-r",
            "2",
            "--host",
            lab.gateway_url,
            "--expect",
            "v3=1.0",
        ),
        env=locust_env(),
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        # 66 leak-free pages decide an "all" split; 3 s of history give the chart points to draw.
        split = _wait_json(
            base + "/bookinfo/split.json", lambda d: d["decided"] and len(d["identities"][0]["history"]) >= 3
        )
        assert split["identities"][0]["verdict"]["status"] == "PASS"
        ARTIFACTS.mkdir(exist_ok=True)

        dom = chromium(tmp_path / "p1", "--virtual-time-budget=5000", "--dump-dom", base + "/?tab=bookinfo")
        shown = text(dom)
        assert "Bookinfo split" in shown, shown[:2000]
        match = re.search(r"anonymous v3 (\d+) 1\.000 \[0\.\d+, 1\.000\] 1\.000 PASS", shown)
        assert match and int(match.group(1)) >= 76, shown[:3000]  # 10 gated + 66 decisive pages at least
        assert "PASS: every share within +-0.1 of expected after 66 requests" in shown

        shot = ARTIFACTS / "locust-bookinfo-tab.png"
        shot.unlink(missing_ok=True)
        chromium(
            tmp_path / "p2",
            "--virtual-time-budget=5000",
            "--window-size=1400,900",
            f"--screenshot={shot}",
            base + "/?tab=bookinfo",
        )
        assert shot.exists() and shot.stat().st_size > 10_000

        dom = chromium(tmp_path / "p3", "--virtual-time-budget=3000", "--dump-dom", base + "/bookinfo/")
        assert 'data-loaded="1"' in dom and "<svg" in dom and "<path" in dom
        assert re.search(r'data-version="v3".*?100\.0%', dom, flags=re.S)
        chart = ARTIFACTS / "locust-bookinfo-chart.png"
        chart.unlink(missing_ok=True)
        chromium(
            tmp_path / "p4",
            "--virtual-time-budget=3000",
            "--window-size=1000,700",
            f"--screenshot={chart}",
            base + "/bookinfo/",
        )
        assert chart.exists() and chart.stat().st_size > 5_000
    finally:
        locust.terminate()
        try:
            locust.wait(timeout=20)
        except subprocess.TimeoutExpired:
            locust.kill()
            locust.wait()
