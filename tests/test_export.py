"""app.canvas.export and app.inputs: JSON round trip, GIF frames, import errors, safe image and settings parsing."""

from __future__ import annotations

import json
import os

import pytest
from PIL import Image

from app.canvas import export
from app.inputs import check_prompt, load_image, make_config
from fake_assistant import END, MASK, VOCAB, make_trajectory


@pytest.fixture()
def folder():
    path = export.new_session_dir()
    yield path
    export.remove_session_dir(path)
    assert not os.path.exists(path)


def test_json_round_trip_replays(folder):
    traj = make_trajectory(16, template=[VOCAB["Answer"]] + [MASK] * 12 + [END])
    path = export.write_json(traj, folder, extra={"question": "what?"})
    assert os.path.dirname(path) == folder and path.endswith(".json")
    back = export.read_json(path)
    assert back.states() == traj.states()
    assert back.token_text == traj.token_text and back.fixed == traj.fixed
    assert json.load(open(path))["studio"]["question"] == "what?"


def test_session_folders_are_private_and_distinct():
    a, b = export.new_session_dir(), export.new_session_dir()
    try:
        assert a != b
        assert oct(os.stat(a).st_mode & 0o777) == "0o700"
    finally:
        export.remove_session_dir(a)
        export.remove_session_dir(b)
    export.remove_session_dir("/etc")  # refuses anything that is not a session folder
    assert os.path.isdir("/etc")


def test_gif_has_a_frame_per_step(folder):
    traj = make_trajectory(24, threshold=0.8)
    path = export.write_gif(traj, folder)
    with Image.open(path) as im:
        assert im.format == "GIF" and im.is_animated
        assert im.n_frames == traj.nfe + 1
        assert im.size[0] == 760


def test_gif_subsamples_long_runs():
    traj = make_trajectory(300, threshold=0.99, steps=300)
    frames = export.gif_frames(traj)
    assert len(frames) <= export.MAX_GIF_FRAMES + 1


@pytest.mark.parametrize("content,message", [
    (b"", "not valid JSON"),
    (b"{not json", "not valid JSON"),
    (b'{"format": "other"}', "not a Dimple trajectory"),
    (b"\xff\xfe\x00garbage", "not UTF-8"),
])
def test_import_refuses_what_is_not_a_trajectory(tmp_path, content, message):
    path = tmp_path / "x.json"
    path.write_bytes(content)
    with pytest.raises(ValueError, match=message):
        export.read_json(str(path))


def test_import_refuses_inconsistent_records(tmp_path):
    data = make_trajectory(8).to_dict()
    data["steps"][0]["positions"] = [99] * len(data["steps"][0]["positions"])
    path = tmp_path / "bad.json"
    path.write_text(json.dumps(data))
    with pytest.raises(ValueError, match="outside the canvas"):
        export.read_json(str(path))


def test_load_image_modes_and_errors(tmp_path):
    rgba = Image.new("RGBA", (20, 10), (255, 0, 0, 0))
    p = tmp_path / "a.png"
    rgba.save(p)
    img = load_image(str(p))
    assert img.mode == "RGB" and img.getpixel((0, 0)) == (255, 255, 255)
    for mode in ("L", "P", "CMYK", "I;16", "1"):
        q = tmp_path / f"m{mode.replace(';', '')}.{'tif' if mode in ('CMYK', 'I;16') else 'png'}"
        Image.new(mode, (8, 8)).save(q)
        assert load_image(str(q)).mode == "RGB"
    text = tmp_path / "t.png"
    text.write_text("hello")
    with pytest.raises(ValueError, match="not an image"):
        load_image(str(text))
    trunc = tmp_path / "trunc.png"
    Image.new("RGB", (64, 64), "red").save(trunc)
    trunc.write_bytes(trunc.read_bytes()[:60])
    with pytest.raises(ValueError, match="image"):
        load_image(str(trunc))
    assert load_image(None) is None


def test_settings_are_coerced_and_validated():
    cfg = make_config(alg_p_threshold="0.5", prefill=True, steps=8.0, max_new_tokens=8, top_p=1.0, top_k=0, seed=None)
    assert cfg.alg_p_threshold == 0.5 and cfg.steps == 8 and cfg.top_p is None and cfg.top_k is None and cfg.seed == 0
    for bad in (dict(alg_p_threshold=float("nan")), dict(steps=2.5), dict(steps=-1), dict(alg="beam"),
                dict(max_new_tokens=10**9), dict(temperature="hot")):
        with pytest.raises(ValueError):
            make_config(**bad)
    with pytest.raises(ValueError, match="max_new_tokens"):
        make_config(max_new_tokens=100, max_new_tokens_limit=64)
    with pytest.raises(ValueError, match="empty"):
        check_prompt("   ")


def test_prune_removes_only_old_exports(folder):
    traj = make_trajectory(8)
    old = export.write_json(traj, folder)
    os.utime(old, (1, 1))
    new = export.write_json(traj, folder)
    export.prune(folder, max_age_s=60)
    assert not os.path.exists(old) and os.path.exists(new)


def test_each_api_export_gets_a_fresh_private_folder():
    """Issue 32, bug 7: the API's docstring promises a fresh private folder per call, not one shared by callers."""
    import stat

    from app.api import Api
    from fake_assistant import FakeAssistant, make_trajectory

    api, traj = Api(FakeAssistant()), make_trajectory(8).to_json()
    first, second = api.export(traj), api.export(traj)
    folders = {os.path.dirname(path) for path in (*first, *second)}
    assert len(folders) == 2 and all(stat.S_IMODE(os.stat(f).st_mode) == 0o700 for f in folders)
    assert {os.path.dirname(p) for p in first} != {os.path.dirname(p) for p in second}
