"""Stick-figure pictures of two people: mp4 / gif videos and still PNG strips, with matplotlib's 3D axes.

    render_video(joints, "out.mp4", title="two people shake hands")   # joints (2, T, 22, 3), metres, Y up
    render_frames_png(joints, "out.png", title=..., num=5)           # key frames side by side

One figure is built per call and its line artists are updated in place for every frame (set_data_3d), then
the canvas is copied into the writer, so a 300-frame video takes seconds. mp4 goes through imageio-ffmpeg;
gif needs only pillow (which merges identical consecutive frames into one longer frame). Files are written to a temporary name beside the target and renamed when complete.
"""

from __future__ import annotations

import textwrap
from pathlib import Path
from typing import Optional, Sequence, Union

import numpy as np

from .fileio import atomic_path
from .skeleton import FPS, KINEMATIC_CHAINS, NUM_JOINTS

PERSON_COLORS = ("#1f6fd1", "#e0482b", "#2a9d4a", "#8e44ad")  # person 1 blue, person 2 red, then more
FIGURE_INCHES = 5.0
VIDEO_DPI = 96          # 480 x 480 pixels: a multiple of 16, as H.264 encoders want
GIF_DPI = 64            # gifs are stored whole by pillow: keep them small
FLOOR_STEP = 0.5        # metres between floor grid lines
TITLE_WIDTH = 60        # characters per title line
ELEVATION = 15.0        # camera elevation (degrees)
OBLIQUE = 30.0          # degrees the camera turns away from square-on, so that people in a row do not hide each other
MIN_HALF_WIDTH = 1.6    # metres from the window's centre to its edge, at least
HEIGHT_RATIO = 0.65     # the window's height over its width (equal scale on all axes)
ZOOM = 1.5              # matplotlib leaves wide margins around 3D axes; fill the panel instead


def _as_people(joints) -> np.ndarray:
    """(P, T, 22, 3) from (P, T, 22, 3) or a single person's (T, 22, 3); anything else is an error."""
    arr = np.asarray(joints, dtype=np.float32)
    if arr.ndim == 3:
        arr = arr[None]
    if arr.ndim != 4 or arr.shape[-2:] != (NUM_JOINTS, 3) or arr.shape[1] == 0:
        raise ValueError(f"joints must have shape (people, T, {NUM_JOINTS}, 3) or (T, {NUM_JOINTS}, 3) with T > 0, "
                         f"got {tuple(np.shape(joints))}")
    if not np.isfinite(arr).all():
        raise ValueError("joints contain NaN or infinite values; nothing to draw")
    return arr


def _to_plot(xyz: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """World (x, y up, z) to matplotlib's (X, Y, Z up) as a proper rotation: X = x, Y = -z, Z = y."""
    return xyz[..., 0], -xyz[..., 2], xyz[..., 1]


class _Scene:
    """One figure with a floor, a stick figure per person and optional root trails, updated per frame."""

    def __init__(self, people: np.ndarray, *, title: Optional[str], dpi: int, trajectory: bool,
                 axes_count: int = 1):
        import matplotlib
        matplotlib.use("Agg", force=False)
        from matplotlib.figure import Figure
        from matplotlib.backends.backend_agg import FigureCanvasAgg

        self.people = people
        self.floor = float(people[..., 1].min())
        width = FIGURE_INCHES * (0.6 * axes_count + 0.4 if axes_count > 1 else 1.0)
        self.fig = Figure(figsize=(width, FIGURE_INCHES), dpi=dpi)
        self.canvas = FigureCanvasAgg(self.fig)
        if title:
            self.fig.suptitle("\n".join(textwrap.wrap(title, TITLE_WIDTH * max(1, axes_count // 2 + 1))),
                              fontsize=10)
        self.axes = [self.fig.add_subplot(1, axes_count, i + 1, projection="3d") for i in range(axes_count)]
        # 3D axes keep a wide empty margin above the floor box: let them overflow the figure top instead.
        self.fig.subplots_adjust(left=0, right=1, bottom=-0.12, top=1.25 if title else 1.35, wspace=0)
        # The camera follows the people's centre and widens with their distance (both smoothed over 1 s).
        roots = people[:, :, 0]                                               # (P, T, 3)
        spread = np.linalg.norm(roots[:, None, :, [0, 2]] - roots[None, :, :, [0, 2]], axis=-1).max((0, 1))  # (T,)
        X, Y, _ = _to_plot(roots.mean(0))
        self.half = np.maximum(MIN_HALF_WIDTH, 0.5 * _smooth(spread) + 0.8)
        self.centres = np.stack([_smooth(X), _smooth(Y)], -1)
        # Look from the side of the main axis the roots spread along (the line joining two people facing
        # each other, or the way they walk), so that the action happens across the picture.
        pts = np.stack(_to_plot(roots.reshape(-1, 3))[:2], -1)
        pts = pts - pts.mean(0)
        if len(pts) > 1 and np.abs(pts).max() > 1e-3:
            evals, evecs = np.linalg.eigh(pts.T @ pts)
            main = evecs[:, -1]
            self.azim = float(np.degrees(np.arctan2(main[1], main[0]))) - 90.0 + OBLIQUE
        else:
            self.azim = -60.0
        self.lines, self.grids, self.trails = [], [], []
        for ax in self.axes:
            self._setup_axes(ax)
            self.lines.append([[ax.plot([], [], [], color=PERSON_COLORS[p % len(PERSON_COLORS)], lw=2.2,
                                        solid_capstyle="round")[0] for _ in KINEMATIC_CHAINS]
                               for p in range(len(people))])
            if trajectory:
                self.trails.append([ax.plot([], [], [], color=PERSON_COLORS[p % len(PERSON_COLORS)], lw=1,
                                            alpha=0.5)[0] for p in range(len(people))])

    def _setup_axes(self, ax) -> None:
        ax.set_box_aspect((1, 1, HEIGHT_RATIO), zoom=ZOOM)
        ax.set_axis_off()
        ax.view_init(elev=ELEVATION, azim=self.azim)
        n = int(np.ceil(2 * self.half.max() / FLOOR_STEP)) + 2
        grid = [ax.plot([], [], [], color="0.82", lw=0.6)[0] for _ in range(2 * n)]
        self.grids.append(grid)

    def _window(self, frame: int) -> tuple[float, float, float]:
        """The plot-space centre (X, Y) and half width the camera shows at `frame`."""
        return float(self.centres[frame, 0]), float(self.centres[frame, 1]), float(self.half[frame])

    def draw(self, frame: int, axes_index: int = 0) -> None:
        ax = self.axes[axes_index]
        cx, cy, h = self._window(frame)
        ax.set_xlim(cx - h, cx + h)
        ax.set_ylim(cy - h, cy + h)
        ax.set_zlim(self.floor, self.floor + 2 * h * HEIGHT_RATIO)
        # Floor grid anchored to the world, re-laid inside the moving window.
        xs = (np.floor((cx - h) / FLOOR_STEP) + np.arange(1, len(self.grids[axes_index]) // 2 + 1)) * FLOOR_STEP
        ys = (np.floor((cy - h) / FLOOR_STEP) + np.arange(1, len(self.grids[axes_index]) // 2 + 1)) * FLOOR_STEP
        xs, ys = xs[xs < cx + h], ys[ys < cy + h]
        z = [self.floor, self.floor]
        grid = self.grids[axes_index]
        for i, line in enumerate(grid[:len(grid) // 2]):
            line.set_data_3d(*(([xs[i]] * 2, [cy - h, cy + h], z) if i < len(xs) else ([], [], [])))
        for i, line in enumerate(grid[len(grid) // 2:]):
            line.set_data_3d(*(([cx - h, cx + h], [ys[i]] * 2, z) if i < len(ys) else ([], [], [])))
        for p, person_lines in enumerate(self.lines[axes_index]):
            X, Y, Z = _to_plot(self.people[p, frame])
            for line, chain in zip(person_lines, KINEMATIC_CHAINS):
                line.set_data_3d(X[list(chain)], Y[list(chain)], Z[list(chain)])
        for p, trail in enumerate(self.trails[axes_index] if self.trails else []):
            X, Y, _ = _to_plot(self.people[p, :frame + 1, 0])
            trail.set_data_3d(X, Y, np.full_like(X, self.floor))

    def rgb(self) -> np.ndarray:
        self.canvas.draw()
        return np.asarray(self.canvas.buffer_rgba())[..., :3].copy()


def _smooth(x: np.ndarray, width: int = FPS) -> np.ndarray:
    """Moving average over `width` frames with edge padding (same length as x)."""
    padded = np.pad(x, (width // 2, width - 1 - width // 2), mode="edge")
    return np.convolve(padded, np.ones(width) / width, "valid")


def render_video(joints, path: Union[str, Path], title: Optional[str] = None, fps: int = FPS, *,
                 trajectory: bool = False, progress: bool = False) -> Path:
    """Write a stick-figure video of joints (P, T, 22, 3) (or one person's (T, 22, 3)) to .mp4 or .gif."""
    people = _as_people(joints)
    path = Path(path)
    suffix = path.suffix.lower()
    if suffix not in (".mp4", ".gif"):
        raise ValueError(f"unsupported video format {path.suffix!r} for {path}; use .mp4 or .gif")
    if fps <= 0:
        raise ValueError(f"fps must be positive, got {fps}")
    scene = _Scene(people, title=title, dpi=GIF_DPI if suffix == ".gif" else VIDEO_DPI, trajectory=trajectory)
    frames = range(people.shape[1])
    if progress:
        from tqdm import tqdm
        frames = tqdm(frames, desc=f"render {path.name}", unit="frame", leave=False)
    with atomic_path(path) as tmp:
        if suffix == ".mp4":
            _write_mp4(scene, frames, tmp, fps)
        else:
            _write_gif(scene, frames, tmp, fps)
    return path


def _write_mp4(scene: _Scene, frames, tmp: Path, fps: int) -> None:
    import imageio.v2 as imageio

    with imageio.get_writer(tmp, format="FFMPEG", mode="I", fps=fps, codec="libx264", quality=7,
                            pixelformat="yuv420p", macro_block_size=16) as writer:
        for t in frames:
            scene.draw(t)
            writer.append_data(scene.rgb())


def _write_gif(scene: _Scene, frames, tmp: Path, fps: int) -> None:
    from PIL import Image

    images = []
    for t in frames:
        scene.draw(t)
        # Quantise each frame right away: a paletted frame is a third of the RGB one.
        images.append(Image.fromarray(scene.rgb()).quantize(colors=32, method=Image.Quantize.MEDIANCUT))
    # GIF delays are whole centiseconds: spread the rounding so that the clip keeps its length at any fps.
    ticks = np.round(np.arange(len(images) + 1) * 100.0 / fps)
    durations = (10 * np.maximum(np.diff(ticks), 1)).astype(int).tolist()
    images[0].save(tmp, format="GIF", save_all=True, append_images=images[1:], loop=0, duration=durations,
                   disposal=2)


def render_frames_png(joints, path: Union[str, Path], title: Optional[str] = None, *,
                      frames: Optional[Sequence[int]] = None, num: int = 5, dpi: int = VIDEO_DPI) -> Path:
    """A still PNG of key frames side by side (evenly spaced `num` frames unless `frames` lists them)."""
    people = _as_people(joints)
    T = people.shape[1]
    if frames is None:
        if num < 1:
            raise ValueError(f"num must be at least 1, got {num}")
        frames = np.linspace(0, T - 1, min(num, T)).round().astype(int).tolist()
    frames = list(frames)
    bad = [f for f in frames if not 0 <= f < T]
    if bad or not frames:
        raise ValueError(f"frames {bad or frames} are out of range for a motion of {T} frames")
    scene = _Scene(people, title=title, dpi=dpi, trajectory=False, axes_count=len(frames))
    for i, f in enumerate(frames):
        scene.draw(f, axes_index=i)
        scene.axes[i].set_title(f"t = {f / FPS:.1f} s", fontsize=8, y=0.0)
    path = Path(path)
    if path.suffix.lower() != ".png":
        raise ValueError(f"render_frames_png writes PNG files; got {path.name!r}")
    with atomic_path(path) as tmp:
        scene.fig.savefig(tmp, format="png")
    return path
