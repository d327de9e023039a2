"""Rendering: what lands where in a frame (people in their colours, floor, shadows, caption, occlusion), the
following camera, videos decode with the right frame count and size, gifs need no ffmpeg, stills, errors,
atomic writes, and the `intermamba data` commands."""

import numpy as np
import pytest

from intermamba import render
from intermamba.cli import main
from intermamba.data.synthetic import generate
from intermamba.skeleton import JOINT_INDEX, rest_pose

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
    (np.where(np.arange(3)[None, :, None, None] == 2, np.nan, np.zeros((2, 3, 22, 3))), "NaN or infinite"),
])
def test_bad_joints_are_clear_errors(bad, message, tmp_path):
    with pytest.raises(ValueError, match=message) as err:
        render.render_video(bad, tmp_path / "x.mp4")
    assert "\n" not in str(err.value)                 # one line
    assert list(tmp_path.iterdir()) == []              # no half-written video


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


# ------------------------------------------------------------------------------------------- the picture
def _walk_apart(seconds: float = 7.0, speed: float = 0.5):
    """Two rest-pose people starting 1 m apart and walking away from each other along x, (2, T, 22, 3)."""
    base = rest_pose().numpy()
    T = round(seconds * 30)
    step = speed * np.arange(T)[:, None] / 30
    one = np.repeat(base[None], T, 0)
    two = one.copy()
    one[..., 0] -= 0.5 + step
    two[..., 0] += 0.5 + step
    return np.stack([one, two]).astype(np.float32)


def _hue(pixel) -> str:
    r, g, b = (int(c) for c in pixel)
    if b > r + 60:
        return "blue"
    if r > b + 60:
        return "red"
    if max(r, g, b) - min(r, g, b) < 40 and min(r, g, b) > 120:
        return "grey"
    return "other"


def test_people_in_their_colours_on_a_grey_floor(pair):
    scene = render._Scene(pair, title=None, size=render.VIDEO_SIZE, trajectory=False)
    image = scene.frame(0)
    assert image.shape == (480, 640, 3) and image.dtype == np.uint8
    x, y, _ = scene.camera.project(pair[:, :1, 0].transpose(1, 0, 2), [0])     # both pelvises, frame 0
    assert [_hue(image[int(y[0, p]), int(x[0, p])]) for p in range(2)] == ["blue", "red"]
    assert _hue(image[-5, 5]) == _hue(image[-5, -5]) == "grey"                    # the floor in the corners
    # the public one-frame function draws the same picture
    assert np.array_equal(render.render_frame(pair, 0), image)


def test_one_person_is_drawn(pair):
    scene = render._Scene(render._as_people(pair[0]), title=None, size=render.VIDEO_SIZE, trajectory=False)
    image = scene.frame(3)
    x, y, _ = scene.camera.project(pair[0, 3:4, :1], [3])
    assert _hue(image[int(y[0, 0]), int(x[0, 0])]) == "blue"
    assert not any(_hue(p) == "red" for p in image.reshape(-1, 3)[::97])


def test_a_nearer_capsule_hides_a_farther_one_whatever_the_order(pair):
    """Two capsules crossing at the frame's centre, one 2 m nearer: the nearer one's colour wins either way."""
    scene = render._Scene(pair, title=None, size=render.VIDEO_SIZE, trajectory=False)
    blue, red = 0, len(scene.radii)                   # the first capsule of person 1 and of person 2
    horizontal = (blue, 220.0, 240.0, 3.0, 420.0, 240.0, 3.0)   # screen x, y, depth of both ends
    vertical = (red, 320.0, 140.0, 5.0, 320.0, 340.0, 5.0)
    for first, second in ((horizontal, vertical), (vertical, horizontal)):
        image = np.full((480 * 640, 3), 200, dtype=np.uint8)
        zbuf = np.full(480 * 640, np.inf, dtype=np.float32)
        scene._capsule(image, zbuf, *first)
        scene._capsule(image, zbuf, *second)
        image = image.reshape(480, 640, 3)
        assert _hue(image[240, 320]) == "blue"                 # the crossing: the nearer (blue) one
        assert _hue(image[160, 320]) == "red"                  # the far one where nothing covers it
        assert _hue(image[240, 250]) == "blue"


def test_camera_follows_people_walking_apart():
    """Over 7 s the two walk from 1 m to 8 m apart: every frame holds both pelvises and heads, below the
    caption, and the camera moves smoothly."""
    people = _walk_apart()
    scene = render._Scene(people, title="two people walk away from each other", size=render.VIDEO_SIZE,
                          trajectory=False)
    band = scene.caption[0].shape[0]
    head = JOINT_INDEX["head"]
    x, y, depth = scene.camera.project(people[:, :, [0, head]].transpose(1, 0, 2, 3).reshape(-1, 4, 3))
    assert (depth > 0).all()
    assert ((x > 0) & (x < 640)).all() and ((y > band) & (y < 480)).all()
    step = np.linalg.norm(np.diff(scene.camera.position, axis=0), axis=1)
    assert step.max() < 0.1                            # metres per frame: no jumps
    assert np.abs(np.diff(step)).max() < 0.01          # and no jitter
    # the frames show it too: blue on the left half, red on the right (or the other way), at the start and end
    for t in (0, people.shape[1] - 1):
        image = scene.frame(t)
        colours = {_hue(image[int(y[t, p * 2]), int(x[t, p * 2])]) for p in range(2)}
        assert colours == {"blue", "red"}


def test_caption_is_drawn_into_the_frame(pair):
    plain = render.render_frame(pair, 0)
    titled = render.render_frame(pair, 0, title="two people stand apart and then sway gently " * 3)
    def dark(image):                                   # text-dark pixels in the top rows
        return (image[:60].astype(int).sum(-1) < 200).sum()

    assert dark(titled) > dark(plain) + 200
    lines = np.flatnonzero(((titled[:120].astype(int).sum(-1) < 200).sum(1) > 0))
    assert np.diff(lines).max() > 1                    # the long caption is wrapped onto more than one line


def test_contact_shadow_under_the_feet(pair):
    """The floor under a standing person's feet is darker than the floor a metre to the side."""
    scene = render._Scene(render._as_people(pair[0]), title=None, size=render.VIDEO_SIZE, trajectory=False)
    floor = np.empty((480 - scene.horizon, 640, 3), dtype=np.uint8)
    scene._floor(0, floor)
    feet = pair[0, 0, [JOINT_INDEX["l_foot"], JOINT_INDEX["r_foot"]]].copy()
    feet[:, 1] = scene.floor
    aside = feet + scene.camera.right * 1.0
    brightness = []
    for points in (feet, aside):
        x, y, _ = scene.camera.project(points[None], [0])
        brightness.append([floor[int(y[0, k]) - scene.horizon, int(x[0, k])].astype(int).sum() for k in range(2)])
    under, side = np.array(brightness)
    assert (under < 0.8 * side).all(), (under, side)


def test_render_benchmark_reports_its_numbers():
    from intermamba.bench import format_render, render_benchmark

    result = render_benchmark(seconds=0.2, repeats=1)
    assert result["frames"] == 6 and result["ms_per_frame"] > 0 and result["seconds_per_clip"] > 0
    assert "ms per 640x480 frame" in format_render(result)
