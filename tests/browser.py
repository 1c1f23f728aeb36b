"""Headless Chromium (Debian's `chromium` package) on a local page with no network: every
host name resolves to nothing, so a page that needs a CDN shows its charts blank."""
from __future__ import annotations

import os
import re
import shutil
import subprocess
from pathlib import Path

import pytest


def chromium() -> str:
    """The browser's path; without one the test skips, or fails where CI requires it
    (FACEGAN_REQUIRE_BROWSER, set by .ci/run, which installs it)."""
    found = shutil.which("chromium")
    if found is None:
        if os.environ.get("FACEGAN_REQUIRE_BROWSER"):
            pytest.fail("chromium is required here (FACEGAN_REQUIRE_BROWSER): install it with `make system-packages`")
        pytest.skip("no chromium (Debian's package): `make system-packages` installs it")
    return found


def rendered(page: Path, screenshot: Path | None = None) -> str:
    """The page's DOM once its scripts have run (vega-embed's charts drawn), and a
    screenshot where asked."""
    profile = page.parent / ".chromium-profile"  # its own: tests run in parallel
    flags = [chromium(), "--headless", "--no-sandbox", "--disable-gpu", f"--user-data-dir={profile}",
             "--host-resolver-rules=MAP * ~NOTFOUND", "--virtual-time-budget=10000"]
    try:
        if screenshot:
            subprocess.run([*flags, f"--screenshot={screenshot}", "--window-size=1400,2400", page.as_uri()],
                           capture_output=True, timeout=120, check=True)
        return subprocess.run([*flags, "--dump-dom", page.as_uri()], capture_output=True, text=True, timeout=120,
                              check=True).stdout
    finally:
        shutil.rmtree(profile, ignore_errors=True)


def charts(dom: str) -> dict[str, str]:
    """Each vega chart's SVG in a rendered page of `dvc plots`, by its div's id."""
    return dict(re.findall(r'<div id="([^"]+)"[^>]*class="vega-embed[^"]*"[^>]*>.*?(<svg.*?</svg>)', dom, re.S))
