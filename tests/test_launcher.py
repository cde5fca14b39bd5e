"""app.launcher: flags, and what a started studio shares with the outside world."""

from __future__ import annotations

from app.launcher import make_app, parse_args


def test_gradio_analytics_are_off_unless_a_flag_asks_for_them():
    """Issue 32, bug 8: classroom machines and Spaces send nothing to Gradio's analytics by default."""
    assert parse_args([]).analytics is False and parse_args(["--analytics"]).analytics is True
    demo, _ = make_app("tiny", "cpu")  # builds the page only: the model loads on first use
    assert demo.get_config_file()["analytics_enabled"] is False
    demo, _ = make_app("tiny", "cpu", analytics=True)
    assert demo.get_config_file()["analytics_enabled"] is True


def test_the_api_lists_only_the_studios_endpoints():
    """Issue 32, bug 10: no input-less `Session` endpoint (a gr.State's callable default) on the API page or MCP."""
    demo, _ = make_app("tiny", "cpu")
    assert sorted(demo.get_api_info()["named_endpoints"]) == sorted(
        f"/{name}" for name in ("generate", "branch", "generate_batch", "compare", "preview_template", "export",
                                "explore", "inspect", "ground"))


def test_an_image_url_the_server_will_not_fetch_is_refused_by_name():
    """Issue 32, bug 9: MCP clients (and API callers) get a gr.Error naming the image, not Gradio's "the upstream
    app raised an exception" (the download fails before the endpoint runs)."""
    import asyncio

    import gradio as gr
    import pytest

    demo, _ = make_app("tiny", "cpu")
    generate = next(fn for fn in demo.fns.values() if fn.api_name == "generate")
    image = generate.inputs[0]
    with pytest.raises(gr.Error, match="image: .*127.0.0.1"):
        asyncio.run(image.async_move_resource_to_block_cache("http://127.0.0.1:9/picture.png"))
