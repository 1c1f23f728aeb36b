"""The page that `dvc plots show` and `dvc plots diff` write (.dvc/plots.html, DVC's
`plots.html_template`), with vega, vega-lite and vega-embed inline: its charts render with
no network.

DVC's own page loads the three from a CDN through its `{scripts}` placeholder; the
template leaves that placeholder out and carries them in one `<script id="vega-bundle">`
element instead. The bundle is vl-convert-python's, the Vega project's converter, which
ships the three libraries with their dependencies as one self-contained script and says
which versions it holds; pip pins it by hash like every other package, where the npm
packages would need npm and a bundler besides. `make plots-template` installs it beside the
project and runs `python -m facegan.plots_page .dvc/plots.html`.
"""
from __future__ import annotations

import re
import sys
from pathlib import Path

VEGA_LITE = "5.21"  # DVC's chart templates are vega-lite 5 specs
BUNDLE_ELEMENT = re.compile(r'<script id="vega-bundle"[^>]*>.*?</script>', re.S)
DVC_PLACEHOLDERS = ("{scripts}", "{plot_divs}", "{refresh_tag}")  # DVC replaces these anywhere in the page


def with_bundle(template: str, bundle: str, versions: str) -> str:
    """`template` with its vega-bundle element holding `bundle` (whose `versions` it records)."""
    if not BUNDLE_ELEMENT.search(template):
        raise ValueError('the template has no <script id="vega-bundle"> element to hold the bundle')
    if "</script" in bundle.lower() or any(placeholder in bundle for placeholder in DVC_PLACEHOLDERS):
        raise ValueError("the bundle holds text that would end its <script> element or that DVC would replace")
    element = f'<script id="vega-bundle" data-versions="{versions}">{bundle}</script>'
    return BUNDLE_ELEMENT.sub(lambda _: element, template, count=1)


def write_bundle(template: Path) -> str:
    """Put vl-convert-python's bundle into the `template` file; returns the versions it holds."""
    import vl_convert

    versions = (f"vega {vl_convert.get_vega_version()}, vega-lite {VEGA_LITE}, "
                f"vega-embed {vl_convert.get_vega_embed_version()} (vl-convert-python {vl_convert.__version__})")
    bundle = vl_convert.javascript_bundle(vl_version=VEGA_LITE)
    template.write_text(with_bundle(template.read_text(), bundle, versions))
    return versions


if __name__ == "__main__":
    print(f"{sys.argv[1]}: {write_bundle(Path(sys.argv[1]))}")
