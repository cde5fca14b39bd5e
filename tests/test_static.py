"""The studio's static files (app/static/) and its one colour table (app/canvas/colours.py).

Every colour the studio shows is named once, in colours.COLOURS: the
stylesheets say var(--dm-<name>), the browser's grid, the GIF and the plots
read the table by name. These tests hold that (a colour literal anywhere else
in app/ fails), that every name a stylesheet uses exists, that the colours
reach each place a stylesheet is installed, and that the static files are
read from the package and all used.
"""

from __future__ import annotations

import re

from conftest import ROOT
from app import static
from app.canvas import colours, dense, export, render
from fake_assistant import make_trajectory

APP = ROOT / "app"
STATIC = APP / "static"
# a hex colour, rgb()/hsl() with a number, or an RGB tuple of two- or three-digit numbers
COLOUR_LITERAL = re.compile(r"#[0-9a-fA-F]{3,8}\b|\b(?:rgba?|hsla?)\(\s*\d|\(\s*\d{2,3}\s*,\s*\d{2,3}\s*,\s*\d{2,3}\s*\)")
# app/inputs.py lays a transparent upload over white before the model sees it: image data, not a colour on screen
NOT_A_SHOWN_COLOUR = {("inputs.py", "(255, 255, 255)")}


def _sources():
    return sorted(APP.rglob("*.py")) + sorted(STATIC.glob("*.css")) + sorted(STATIC.glob("*.js"))


def test_no_colour_literal_is_written_outside_the_colour_table():
    found = []
    for path in _sources():
        if path == APP / "canvas" / "colours.py":
            continue
        for match in COLOUR_LITERAL.finditer(path.read_text(encoding="utf-8")):
            if (path.name, match.group()) not in NOT_A_SHOWN_COLOUR:
                found.append(f"{path.relative_to(ROOT)}: {match.group()}")
    assert not found, found


def test_the_literal_pattern_sees_each_way_a_colour_is_written():
    for written in ("color: #3b4cca;", "#fff", "rgb(10, 20, 30)", "hsl(120,78%,72%)", "fill=(31, 35, 48)"):
        assert COLOUR_LITERAL.search(written), written
    for not_a_colour in ("#dm-canvas", "to_rgb(img)", "add_subplot(1, 1, 1)", "# 0.9 threshold"):
        assert not COLOUR_LITERAL.search(not_a_colour), not_a_colour


def test_every_colour_a_stylesheet_names_is_in_the_table():
    used = {name for path in STATIC.glob("*.css") for name in re.findall(r"var\(--dm-([\w-]+)\)", path.read_text())}
    assert used and used <= set(colours.COLOURS), used - set(colours.COLOURS)


def test_the_table_names_each_colour_once():
    values = [c.lower() for c in colours.COLOURS.values()]
    assert len(values) == len(set(values))
    assert all(re.fullmatch(r"#[0-9a-f]{6}([0-9a-f]{2})?", c) for c in values)


def test_the_canvas_css_carries_the_table_and_the_page_css_puts_it_on_root():
    from app.page import launch_options

    assert render.CANVAS_CSS.startswith(colours.declarations())
    assert "--dm-mask: #e6e8ef;" in colours.declarations()
    page_css = launch_options()["css"]
    assert page_css.startswith(":root { " + colours.declarations())
    assert "var(--dm-violet)" in page_css  # the page's own stylesheets are there, reading the table


def test_the_grid_palette_and_the_gif_take_their_colours_from_the_table():
    assert dense.PALETTE["m"]["bg"] == colours.COLOURS["mask"]
    assert dense.PALETTE["picked"]["border"] == colours.COLOURS["accent"]
    first = export.gif_frames(make_trajectory(8))[0]  # step 0: every slot masked
    assert first.getpixel((2, 2)) == colours.rgb("card")
    assert first.getpixel((20, 54)) == colours.rgb("mask")  # inside the first slot (margin 14, top 44)


def test_rgb_reads_a_table_colour_without_its_alpha():
    assert colours.rgb("card") == (251, 251, 253)
    assert colours.rgb("accent-soft") == colours.rgb("accent")


def test_static_files_are_read_from_the_package_and_cached():
    assert static.HERE == STATIC
    assert static.text("canvas.css") is static.text("canvas.css")
    assert static.joined("page.css", "lessons.css") == static.text("page.css") + static.text("lessons.css")


def test_every_static_file_is_used_by_the_app():
    code = "\n".join(p.read_text(encoding="utf-8") for p in APP.rglob("*.py"))
    unused = [p.name for p in STATIC.iterdir() if p.suffix in (".css", ".js") and f'"{p.name}"' not in code]
    assert not unused, unused


def test_the_canvas_script_gets_its_settings_and_the_click_script():
    from app.canvas import client

    script = client.component("").js_on_load
    assert "__SETTINGS__" not in script and '"palette"' in script
    assert script.rstrip().endswith(static.text("slot_click.js").rstrip())
