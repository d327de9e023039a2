"""Stick-figure rendering: videos decode with the right frame count, gifs need no ffmpeg, stills, errors,
atomic writes, and the `intermamba data` commands."""

import numpy as np
import pytest

from intermamba import render
from intermamba.cli import main
from intermamba.data.synthetic import generate
from intermamba.skeleton import rest_pose

T = 12  # frames: enough to check counts, quick to draw


@pytest.fixture(scope="module")
def pair():
    """Two people standing 1.5 m apart, the second one sliding sideways, (2, T, 22, 3).

    Every frame differs: pillow merges identical consecutive gif frames."""
    base = rest_pose().numpy()
    one = np.repeat(base[None], T, 0)
    two = one + [0.0, 0.0, 1.5]
    two[..., 0] += 0.04 * np.arange(T)[:, None]
    return np.stack([one, two]).astype(np.float32)


def test_mp4_decodes_with_the_expected_frame_count(pair, tmp_path):
    import imageio.v3 as iio

    path = render.render_video(pair, tmp_path / "pair.mp4", title="two people stand and sway " * 6)
    frames = iio.imread(path, plugin="pyav") if _has_pyav() else _ffmpeg_frames(path)
    assert len(frames) == T
    assert frames[0].shape[:2] == (480, 640)
    assert [p.name for p in tmp_path.iterdir()] == ["pair.mp4"]  # no temporary file left behind


def _has_pyav() -> bool:
    try:
        import av  # noqa: F401
    except ImportError:
        return False
    return True


def _ffmpeg_frames(path):
    import imageio.v2 as imageio

    with imageio.get_reader(path, format="FFMPEG") as reader:
        return [frame for frame in reader]


def test_gif_needs_no_ffmpeg(pair, tmp_path, monkeypatch):
    import imageio_ffmpeg
    from PIL import Image

    def no_ffmpeg(*args, **kwargs):
        raise RuntimeError("ffmpeg is not available")

    monkeypatch.setattr(imageio_ffmpeg, "get_ffmpeg_exe", no_ffmpeg)
    path = render.render_video(pair, tmp_path / "pair.gif", fps=30)
    with Image.open(path) as gif:
        assert gif.n_frames == T
    assert abs(_gif_seconds(path) - T / 30) <= 0.01  # centisecond delays, spread so the clip keeps its length


def _gif_seconds(path) -> float:
    from PIL import Image

    with Image.open(path) as gif:
        total = 0
        for i in range(gif.n_frames):
            gif.seek(i)
            total += gif.info["duration"]
    return total / 1000


def test_single_person_and_trajectory(pair, tmp_path):
    path = render.render_video(pair[0], tmp_path / "one.gif", trajectory=True)
    assert path.stat().st_size > 0


def test_still_png_of_key_frames(pair, tmp_path):
    from PIL import Image

    path = render.render_frames_png(pair, tmp_path / "keys.png", title="keys", num=4)
    with Image.open(path) as im:
        assert im.width > im.height  # panels side by side
    path = render.render_frames_png(pair, tmp_path / "two.png", frames=[0, T - 1])
    assert path.is_file()


@pytest.mark.parametrize("bad, message", [
    (np.zeros((2, 5, 21, 3)), r"joints must have shape \(people, T, 22, 3\)"),
    (np.zeros((2, 0, 22, 3)), "with T > 0"),
    (np.full((2, 3, 22, 3), np.nan), "NaN or infinite"),
])
def test_bad_joints_are_clear_errors(bad, message, tmp_path):
    with pytest.raises(ValueError, match=message):
        render.render_video(bad, tmp_path / "x.gif")


def test_bad_paths_and_frames_are_clear_errors(pair, tmp_path):
    with pytest.raises(ValueError, match="unsupported video format '.avi'"):
        render.render_video(pair, tmp_path / "x.avi")
    with pytest.raises(ValueError, match="out of range"):
        render.render_frames_png(pair, tmp_path / "x.png", frames=[0, T])
    with pytest.raises(ValueError, match="writes PNG files"):
        render.render_frames_png(pair, tmp_path / "x.jpg")
    assert list(tmp_path.iterdir()) == []


def test_existing_file_is_replaced_only_when_complete(pair, tmp_path, monkeypatch):
    target = tmp_path / "old.gif"
    target.write_bytes(b"previous")

    def broken(*args, **kwargs):
        raise RuntimeError("encoder crashed")

    monkeypatch.setattr(render, "_write_gif", broken)
    with pytest.raises(RuntimeError):
        render.render_video(pair, target)
    assert target.read_bytes() == b"previous"
    assert [p.name for p in tmp_path.iterdir()] == ["old.gif"]


def test_cli_data_preview_and_stats(tmp_path, monkeypatch, capsys):
    monkeypatch.setenv("INTERMAMBA_CACHE", str(tmp_path / "cache"))
    out = tmp_path / "preview"
    assert main(["data", "preview", "--num", "1", "--kind", "kick", "--format", "gif", "--png",
                 "--out", str(out)]) == 0
    sample = generate(0, kind="kick")
    gif = out / f"{sample.name}_kick.gif"
    assert abs(_gif_seconds(gif) - sample.positions.shape[1] / 30) < 0.02  # still frames merge, time adds up
    assert (out / f"{sample.name}_kick.png").is_file()

    assert main(["data", "stats", "--items", "40"]) == 0
    text = capsys.readouterr().out
    assert "dataset: synthetic" in text and "kinds (18)" in text
    assert main(["data", "stats", "--items", "40", "--split", "val"]) == 0

    assert main(["data", "preview", "--kind", "nope", "--out", str(out)]) == 2
    assert "unknown synthetic kind 'nope'" in capsys.readouterr().err
    assert main(["data", "stats", "interhuman"]) == 2
    assert "needs its folder" in capsys.readouterr().err
