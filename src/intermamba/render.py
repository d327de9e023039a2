"""Pictures of two people: mp4 / gif videos and still PNG strips, drawn by a small numpy software renderer.

    render_video(joints, "out.mp4", title="two people shake hands")   # joints (2, T, 22, 3), metres, Y up
    render_frames_png(joints, "out.png", title=..., num=5)           # key frames side by side
    render_frame(joints, 30, title=...)                              # one frame, (480, 640, 3) uint8

Each person is the capsule body of body.py (a capsule per bone with its radius, a head sphere, two hands) in
their own colour, shaded per pixel and depth-tested, standing on a checkered floor with soft contact shadows.
The camera is a perspective one at a slight elevation that looks across the people's main line of action;
its aim (the pelvises' centre) and distance (enough to hold every joint) are smoothed over a second so it
follows without jitter. The caption is drawn into the frame, wrapped to its width.

A capsule is drawn as an impostor: per pixel of its screen box, the nearest point of the projected axis gives
the distance to it, hence coverage (anti-aliased edge), a sphere-like normal for Lambert shading and a depth
for the z-buffer. The floor is one ray-plane intersection per pixel with precomputed ray slopes (the camera
turns only between clips, so each pixel's ray direction is fixed). Contact shadows are gaussian blobs under
the joints, darker the nearer a joint is to the floor, summed on a floor-space grid as one matrix product
(each blob is separable). Given triangle meshes instead (`meshes=`, e.g. SMPL bodies, smpl_body.py), every
front-facing triangle is rasterised at once in numpy: grouped by the size of its screen box, tested at that
box's pixel centres by its edge functions, shaded by interpolated vertex normals, resolved by a z-buffer.
mp4 goes through imageio-ffmpeg; gif needs only pillow. Files are written to a
temporary name beside the target and renamed when complete.
"""

from __future__ import annotations

from pathlib import Path
from typing import Optional, Sequence, Union

import numpy as np

from .body import HAND_LENGTH, HAND_RADIUS, HEAD_CENTRE, HEAD_RADIUS, bone_radii
from .fileio import atomic_path
from .skeleton import FPS, JOINT_INDEX, NUM_JOINTS, PARENTS

PERSON_COLORS = ("#1f6fd1", "#e0482b", "#2a9d4a", "#8e44ad")  # person 1 blue, person 2 red, then more
VIDEO_SIZE = (640, 480)     # width, height: multiples of 16, as H.264 encoders want
GIF_SIZE = (432, 320)       # gifs are stored whole by pillow: keep them small
PANEL_INCHES = 5.0          # render_frames_png: a panel is 5 inches high at `dpi` (480 px at 96 dpi) ...
PANEL_ASPECT = 0.75         # ... and 3/4 as wide
STILL_SUPERSAMPLE = 2       # stills are drawn this many times larger and shrunk: smoother edges
VIEW_ANGLE = 36.0           # vertical field of view (degrees)
ELEVATION = 16.0            # camera pitch below the horizon (degrees)
OBLIQUE = 30.0              # degrees the camera turns away from square-on, so that people in a row do not hide each other
AIM_HEIGHT = 0.8            # metres above the floor the camera aims at
MIN_HALF_WIDTH = 0.6        # metres visible either side of the aim, at least
MARGIN = 0.06               # fraction of the frame kept free around the people ...
BODY_PAD = 0.12             # ... beyond the joints, by this many metres of body
SMOOTH_FRAMES = FPS         # camera aim and distance: moving averages over a second
FLOOR_STEP = 0.5            # metres per floor tile
FOG_DISTANCE = 14.0         # metres over which the floor fades into the horizon colour (by 1/e)
SHADOW_SIGMA = 0.05         # metres: a contact shadow's blur on the floor ...
SHADOW_SPREAD = 0.3         # ... widening this much per metre of height ...
SHADOW_FALLOFF = 0.25       # ... and fading by 1/e over this height
SHADOW_STRENGTH = 0.3       # darkening of one joint on the floor (shadows add up, at most SHADOW_MAX)
SHADOW_MAX = 0.6
SHADOW_CELL = 0.02          # metres per cell of the shadow grid
AMBIENT, DIFFUSE = 0.42, 0.68
# toward the light, in the camera frame (x right, y up, z ahead): above left, in front
LIGHT_X, LIGHT_Y, LIGHT_Z = (np.array([-0.45, 0.65, -0.62]) / np.linalg.norm([-0.45, 0.65, -0.62])).tolist()
OUTLINE_PX = 1.4            # a capsule darkens over its last pixels: limbs stay apart where they cross
FLOOR_RGB = np.array([0.86, 0.85, 0.82])
FLOOR_CONTRAST = 0.05       # tiles differ by +- this much brightness
HORIZON_RGB = np.array([0.93, 0.94, 0.96])
SKY_TOP_RGB = np.array([0.80, 0.86, 0.93])
TEXT_RGB = np.array([0.12, 0.12, 0.14])
CAPTION_FONT = 0.0375       # caption text height over the frame height (18 px at 480)
CAPTION_LINES = 3           # longer captions end in "..."
CAPTION_ALPHA = 0.78        # opacity of the caption's white band


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


# ------------------------------------------------------------------------------------------- the bodies
def _unit(v: np.ndarray) -> np.ndarray:
    return v / np.maximum(np.linalg.norm(v, axis=-1, keepdims=True), 1e-9)


def _facing(people: np.ndarray) -> np.ndarray:
    """(P, T, 3) horizontal unit vectors each person faces: across the hips and shoulders, left to right, turned
    a quarter about Y (a rest-pose person faces +Z with their left on +X)."""
    j = JOINT_INDEX
    across = (people[..., j["l_hip"], :] - people[..., j["r_hip"], :]
              + people[..., j["l_shoulder"], :] - people[..., j["r_shoulder"], :])
    return _unit(np.stack([-across[..., 2], np.zeros_like(across[..., 0]), across[..., 0]], -1))


def _capsules(people: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Every person's capsules: ends a, b (P, T, C, 3) and radii (C,), C = 21 bones + 2 hands + the head.

    The radii and the hand and head placement are body.py's, so pictures, glb bodies and metrics agree."""
    j = JOINT_INDEX
    bones = np.arange(1, NUM_JOINTS)
    a, b, radii = [people[:, :, [PARENTS[k] for k in bones]]], [people[:, :, bones]], [bone_radii()[bones]]
    for side in "lr":
        wrist, elbow = people[:, :, j[f"{side}_wrist"]], people[:, :, j[f"{side}_elbow"]]
        a.append(wrist[:, :, None])
        b.append((wrist + HAND_LENGTH * _unit(wrist - elbow))[:, :, None])
        radii.append([HAND_RADIUS])
    head, neck = people[:, :, j["head"]], people[:, :, j["neck"]]
    centre = head + HEAD_CENTRE[1] * _unit(head - neck) + HEAD_CENTRE[2] * _facing(people)
    a.append(centre[:, :, None])
    b.append(centre[:, :, None])
    radii.append([HEAD_RADIUS])
    return np.concatenate(a, 2), np.concatenate(b, 2), np.concatenate(radii).astype(np.float64)


def _person_rgb(person: int) -> np.ndarray:
    code = PERSON_COLORS[person % len(PERSON_COLORS)].lstrip("#")
    return np.array([int(code[i:i + 2], 16) / 255 for i in (0, 2, 4)])


# ------------------------------------------------------------------------------------------- the camera
def _smooth(x: np.ndarray, width: int = SMOOTH_FRAMES) -> np.ndarray:
    """Moving average over `width` frames along axis 0 with edge padding (same length as x)."""
    pad = [(width // 2, width - 1 - width // 2)] + [(0, 0)] * (x.ndim - 1)
    windows = np.lib.stride_tricks.sliding_window_view(np.pad(x, pad, mode="edge"), width, axis=0)
    return windows.mean(-1)


def _running_max(x: np.ndarray, width: int = SMOOTH_FRAMES) -> np.ndarray:
    """Maximum over the same centred windows as _smooth: a moving average of it is never below x."""
    windows = np.lib.stride_tricks.sliding_window_view(
        np.pad(x, (width // 2, width - 1 - width // 2), mode="edge"), width)
    return windows.max(-1)


class _Camera:
    """A perspective camera with one orientation per clip and a position per frame.

    Orientation: looking across the main line the pelvises spread along (the line between two people facing
    each other, or the way they walk), turned by OBLIQUE, from the side the people face, pitched down by
    ELEVATION. Position: back from the smoothed aim along the view by the smoothed distance that holds every
    joint inside the frame (less `top` pixels kept for the caption), with MARGIN to spare.
    """

    def __init__(self, people: np.ndarray, floor: float, width: int, height: int, top: int = 0):
        self.width, self.height = width, height
        self.focal = 0.5 * height / np.tan(np.radians(VIEW_ANGLE / 2))
        roots = people[:, :, 0].astype(np.float64)                                    # (P, T, 3)
        facing = _facing(people).reshape(-1, 3).mean(0)
        spread = roots[..., [0, 2]].reshape(-1, 2) - roots[..., [0, 2]].reshape(-1, 2).mean(0)
        evals, evecs = np.linalg.eigh(spread.T @ spread / len(spread))
        if evals[-1] > 0.05 ** 2:                   # they move or stand apart: look across that line
            main = evecs[:, -1]
            view = np.array([-main[1], main[0]])
            if view @ facing[[0, 2]] > 0:           # from the side they face
                view = -view
        else:
            view = -facing[[0, 2]] if np.linalg.norm(facing[[0, 2]]) > 1e-6 else np.array([0.0, -1.0])
        turn = np.radians(OBLIQUE)
        view = np.array([np.cos(turn) * view[0] - np.sin(turn) * view[1],
                         np.sin(turn) * view[0] + np.cos(turn) * view[1]])
        view /= np.linalg.norm(view)
        pitch = np.radians(ELEVATION)
        self.forward = np.array([np.cos(pitch) * view[0], -np.sin(pitch), np.cos(pitch) * view[1]])
        self.right = _unit(np.cross(self.forward, [0.0, 1.0, 0.0]))
        self.up = np.cross(self.right, self.forward)
        self.pitch = pitch

        T = people.shape[1]
        aim = _smooth(roots.mean(0))                                                   # (T, 3)
        aim[:, 1] = floor + AIM_HEIGHT
        # points to keep in view: every joint, the head's top and the floor under each foot (its shadow)
        feet = people[:, :, [JOINT_INDEX[n] for n in ("l_foot", "r_foot", "l_ankle", "r_ankle")]].copy()
        feet[..., 1] = floor
        tops = people[:, :, [JOINT_INDEX["head"]]] + [0.0, HEAD_CENTRE[1] + HEAD_RADIUS, 0.0]
        points = np.concatenate([people, feet, tops], 2).transpose(1, 0, 2, 3).reshape(T, -1, 3)
        rel = points - aim[:, None]
        x, y, z = rel @ self.right, rel @ self.up, rel @ self.forward                    # (T, N) each
        half_x = (0.5 - MARGIN) * width / self.focal                                    # tangents of the free frame
        above = (0.5 - MARGIN) * height / self.focal - top / self.focal
        below = (0.5 - MARGIN) * height / self.focal
        # a point at (x, y, z) from the aim, seen from `dist` back, is inside when |x| / (z + dist) <= half_x, ...
        x = np.abs(x) + BODY_PAD                                                        # the body around the joints
        need = np.maximum.reduce([x / half_x - z, (y + BODY_PAD) / above - z, -y / below - z]).max(1)
        need = np.maximum(need, MIN_HALF_WIDTH / half_x)
        self.distance = _smooth(_running_max(need))                                    # (T,)
        self.position = aim - self.distance[:, None] * self.forward                    # (T, 3)

    def project(self, points: np.ndarray, frame: Union[int, slice, np.ndarray] = slice(None)):
        """World points (T', ..., 3) at frames `frame` -> pixel x, pixel y (down), depth, each (T', ...)."""
        pos = self.position[frame]
        rel = points - pos.reshape(pos.shape[:1] + (1,) * (points.ndim - 2) + (3,))
        depth = np.maximum(rel @ self.forward, 1e-3)
        x = 0.5 * self.width + self.focal * (rel @ self.right) / depth
        y = 0.5 * self.height - self.focal * (rel @ self.up) / depth
        return x, y, depth


# ------------------------------------------------------------------------------------------- the scene
class _Scene:
    """Everything about a clip that does not change per frame, and `frame(t)` -> (H, W, 3) uint8."""

    def __init__(self, people: np.ndarray, *, title: Optional[str], size: tuple[int, int], trajectory: bool,
                 caption: bool = True, meshes: Optional[tuple] = None):
        self.people = people
        self.meshes = meshes                        # (vertices (P, T, V, 3), faces (F, 3)) or None: capsules
        self.width, self.height = width, height = size
        self.floor = float(people[..., 1].min())
        self.trajectory = trajectory
        self.caption = _caption_layer(title, width, height) if (title and caption) else None
        top = self.caption[0].shape[0] if self.caption is not None else 0
        self.camera = cam = _Camera(people, self.floor, width, height, top)

        # bodies: capsule ends projected for every frame, drawn far to near
        a, b, self.radii = _capsules(people)                                            # (P, T, C, 3), (C,)
        P, T, C = a.shape[:3]
        a, b = a.transpose(1, 0, 2, 3).reshape(T, P * C, 3), b.transpose(1, 0, 2, 3).reshape(T, P * C, 3)
        self.ax, self.ay, self.az = cam.project(a)
        self.bx, self.by, self.bz = cam.project(b)
        self.cap_radius = np.tile(self.radii, P).tolist()                               # (P*C,)
        self._cols = np.arange(width, dtype=np.float32) + np.float32(0.5)                # pixel centres
        self._rows = (np.arange(height, dtype=np.float32) + np.float32(0.5))[:, None]
        colours = []
        for p in range(P):
            base = _person_rgb(p)
            # left limbs a touch lighter, right ones a touch darker: the sides read at a glance
            side = np.array([1.12 if n.startswith("l_") else 0.9 if n.startswith("r_") else 1.0
                             for n in _capsule_names()])
            colours.append(np.clip(base[None] * side[:, None], 0, 1))
        self.colours = (np.concatenate(colours) * 255.0).astype(np.float32)             # (P*C, 3)

        # floor: each pixel's ray slopes, fixed for the clip (the camera only moves)
        self.horizon = int(np.clip(np.ceil(0.5 * height - cam.focal * np.tan(cam.pitch)), 0, height))
        rows = np.arange(self.horizon, height) + 0.5
        u = (np.arange(width) + 0.5 - 0.5 * width) / cam.focal
        v = -(rows - 0.5 * height) / cam.focal
        ray = cam.forward + u[None, :, None] * cam.right + v[:, None, None] * cam.up      # (R, W, 3)
        down = np.maximum(-ray[..., 1], 1e-6)
        self.kx, self.kz = (ray[..., 0] / down).astype(np.float32), (ray[..., 2] / down).astype(np.float32)
        self.fog = (np.linalg.norm(ray, axis=-1) / down / FOG_DISTANCE).mean(1, keepdims=True).astype(np.float32)
        # metres of floor per pixel (per metre of camera height): the tiles' edges are blurred over one pixel
        gx = np.hypot(*np.gradient(self.kx.astype(np.float64))) if len(rows) > 1 else np.ones_like(self.kx)
        gz = np.hypot(*np.gradient(self.kz.astype(np.float64))) if len(rows) > 1 else np.ones_like(self.kz)
        self.sharpness = (FLOOR_STEP / np.pi / 1.5 / np.maximum(gx, gz)).astype(np.float32)
        sky = np.linspace(0, 1, max(self.horizon, 1))[:self.horizon, None]
        self.sky = (255 * (SKY_TOP_RGB * (1 - sky) + HORIZON_RGB * sky))[:, None, :].astype(np.uint8)

        # contact shadows: joints and bone middles
        shadow_points = np.concatenate([people, 0.5 * (people[:, :, 1:] + people[:, :, [PARENTS[k] for k in
                                                                                          range(1, NUM_JOINTS)]])], 2)
        self.shadow_points = shadow_points.transpose(1, 0, 2, 3).reshape(T, -1, 3).astype(np.float64)

    # ---------------------------------------------------------------- per frame
    def frame(self, t: int) -> np.ndarray:
        img = np.empty((self.height, self.width, 3), dtype=np.uint8)
        img[:self.horizon] = self.sky
        self._floor(t, img[self.horizon:])
        if self.trajectory:
            img = self._trails(img, t)
        zbuf = np.full(self.height * self.width, np.inf, dtype=np.float32)
        flat = img.reshape(-1, 3)
        if self.meshes is not None:
            self._meshes(flat, zbuf, t)
        else:
            ends = np.stack([self.ax[t], self.ay[t], self.az[t], self.bx[t], self.by[t], self.bz[t]], 1).tolist()
            for c in np.argsort(-(self.az[t] + self.bz[t])).tolist():                    # far to near
                self._capsule(flat, zbuf, c, *ends[c])
        if self.caption is not None:
            scale, offset = self.caption
            band = img[:scale.shape[0]]
            band[:] = band * scale + offset
        return img

    def _floor(self, t: int, out: np.ndarray) -> None:
        """Fill `out` (H - horizon, W, 3) uint8 with the floor: tiles, contact shadows, fog."""
        cx, cy, cz = self.camera.position[t].tolist()
        h = cy - self.floor
        X = cx + h * self.kx                              # (R, W) float32: where each pixel's ray meets the floor
        Z = cz + h * self.kz
        # a checker as sin * sin, sharpened to the tile edge but never beyond a pixel (no aliasing far away)
        lum = np.sin(X * (np.pi / FLOOR_STEP))
        lum *= np.sin(Z * (np.pi / FLOOR_STEP))
        lum *= self.sharpness
        lum *= 1.0 / h
        np.minimum(lum, 1.0, out=lum)
        np.maximum(lum, -1.0, out=lum)
        lum *= FLOOR_CONTRAST
        lum += 1.0
        self._shadows(lum, X, Z, t)
        fog = np.exp(-h * self.fog)                       # (R, 1): a row's rays are about as long
        for k, (floor, horizon) in enumerate(zip((255 * FLOOR_RGB).tolist(), (255 * HORIZON_RGB).tolist())):
            out[..., k] = lum * (floor * fog) + horizon * (1.0 - fog)  # per channel: (R, W, 3) broadcasts slowly

    def _shadows(self, lum: np.ndarray, X: np.ndarray, Z: np.ndarray, t: int) -> None:
        """Darken `lum` (R, W) in place under the joints: a gaussian per point, summed on a floor grid."""
        pts = self.shadow_points[t]
        height = np.maximum(pts[:, 1] - self.floor, 0.0)
        weight = SHADOW_STRENGTH * np.exp(-height / SHADOW_FALLOFF)
        keep = weight > 0.005
        if not keep.any():
            return
        pts, height, weight = pts[keep], height[keep], weight[keep]
        sigma = SHADOW_SIGMA + SHADOW_SPREAD * height
        lo = pts[:, [0, 2]].min(0) - 3 * sigma.max()
        hi = pts[:, [0, 2]].max(0) + 3 * sigma.max()
        gx = lo[0] + SHADOW_CELL * np.arange(int((hi[0] - lo[0]) / SHADOW_CELL) + 2)
        gz = lo[1] + SHADOW_CELL * np.arange(int((hi[1] - lo[1]) / SHADOW_CELL) + 2)
        fx = np.exp(-0.5 * ((gx[None] - pts[:, :1]) / sigma[:, None]) ** 2)            # (N, Gx)
        fz = np.exp(-0.5 * ((gz[None] - pts[:, 2:]) / sigma[:, None]) ** 2)            # (N, Gz)
        grid = np.zeros((len(gx) + 2, len(gz) + 2), dtype=np.float32)                   # a zero border
        grid[1:-1, 1:-1] = np.minimum((weight[:, None] * fx).T @ fz, SHADOW_MAX)
        # only the screen rectangle that the grid covers is looked up
        corners = np.array([[x, self.floor, z] for x in (lo[0], hi[0]) for z in (lo[1], hi[1])])
        sx, sy, _ = self.camera.project(corners[None], [t])
        r0 = max(int(sy.min()) - self.horizon - 1, 0)
        r1 = max(int(np.ceil(sy.max())) - self.horizon + 2, 0)
        c0, c1 = max(int(sx.min()) - 1, 0), min(int(np.ceil(sx.max())) + 2, self.width)
        if r0 >= lum.shape[0] or c0 >= c1:
            return
        # bilinear look-up (nearest shows the cells as a grid of steps)
        fx = (X[r0:r1, c0:c1] - float(lo[0])) * (1.0 / SHADOW_CELL) + 1.0     # float32: no numpy scalars
        fz = (Z[r0:r1, c0:c1] - float(lo[1])) * (1.0 / SHADOW_CELL) + 1.0
        np.clip(fx, 0.0, grid.shape[0] - 1.001, out=fx)
        np.clip(fz, 0.0, grid.shape[1] - 1.001, out=fz)
        ix, iz = fx.astype(np.intp), fz.astype(np.intp)
        fx -= ix
        fz -= iz
        flat = grid.ravel()
        at = ix * grid.shape[1] + iz
        near_row = flat[at] + (flat[at + 1] - flat[at]) * fz
        far_row = flat[at + grid.shape[1]] + (flat[at + grid.shape[1] + 1] - flat[at + grid.shape[1]]) * fz
        lum[r0:r1, c0:c1] *= 1.0 - (near_row + (far_row - near_row) * fx)

    def _trails(self, img: np.ndarray, t: int) -> np.ndarray:
        """The pelvises' paths so far, drawn on the floor."""
        from PIL import Image, ImageDraw

        im = Image.fromarray(img)
        draw = ImageDraw.Draw(im)
        for p in range(self.people.shape[0]):
            path = self.people[p, :t + 1, 0].astype(np.float64).copy()
            path[:, 1] = self.floor
            sx, sy, _ = self.camera.project(np.broadcast_to(path, (1,) + path.shape), [t])
            colour = tuple(int(c) for c in 255 * (0.45 * _person_rgb(p) + 0.55 * FLOOR_RGB))
            draw.line(list(zip(sx[0].tolist(), sy[0].tolist())), fill=colour, width=max(1, self.height // 160))
        return np.array(im)

    def _capsule(self, img: np.ndarray, zbuf: np.ndarray, c: int, ax: float, ay: float, az: float, bx: float,
                 by: float, bz: float) -> None:
        """Draw capsule `c` from screen point a to b (pixels, depths) into img (H * W, 3) uint8 where it is
        nearer than zbuf (H * W,). Small arrays: every numpy call counts, so the steps are written in place."""
        radius = self.cap_radius[c]
        focal = self.camera.focal
        ra, rb = radius * focal / az, radius * focal / bz                              # pixels
        x0, x1 = max(int(min(ax - ra, bx - rb)) - 1, 0), min(int(max(ax + ra, bx + rb)) + 2, self.width)
        y0, y1 = max(int(min(ay - ra, by - rb)) - 1, 0), min(int(max(ay + ra, by + rb)) + 2, self.height)
        if x0 >= x1 or y0 >= y1:
            return
        w = x1 - x0
        px = self._cols[x0:x1] - np.float32(ax)                                          # (w,) from end a
        py = self._rows[y0:y1] - np.float32(ay)                                          # (h, 1)
        ex, ey = bx - ax, by - ay
        length2 = ex * ex + ey * ey
        if length2 > 1e-6:                          # nearest point of the axis: a + s (b - a), s in [0, 1]
            s = px * (ex / length2) + py * (ey / length2)
            np.minimum(s, 1.0, out=s)
            np.maximum(s, 0.0, out=s)
        else:
            s = np.zeros((y1 - y0, w), dtype=np.float32)
        dx = px - s * ex
        dy = py - s * ey
        d2 = dx * dx
        d2 += dy * dy
        r = s * (rb - ra)
        r += ra
        inside = np.flatnonzero(d2 < (r + 0.5) ** 2)
        if not len(inside):
            return
        pixel = (inside // w + y0) * self.width + (inside % w + x0)                      # into the whole frame
        depth_axis = s.take(inside)
        depth_axis *= bz - az
        depth_axis += az
        r, dx, dy, d = r.take(inside), dx.take(inside), dy.take(inside), np.sqrt(d2.take(inside))
        nz = np.minimum(d / r, 1.0)
        nz *= nz
        np.subtract(1.0, nz, out=nz)
        np.sqrt(nz, out=nz)                                                              # toward the camera
        depth = depth_axis - radius * nz
        near = depth < zbuf.take(pixel)
        if not near.all():
            pixel, depth, d, r, dx, dy, nz = (v[near] for v in (pixel, depth, d, r, dx, dy, nz))
        zbuf[pixel] = depth
        # Lambert with the normal (dx / r, -dy / r, -nz) in the camera frame, darker over the outline pixels
        light = (dx * LIGHT_X - dy * LIGHT_Y) / r - nz * LIGHT_Z
        np.maximum(light, 0.0, out=light)
        light *= DIFFUSE
        light += AMBIENT
        edge = r - d                                                                     # pixels inside the rim
        light *= np.minimum(edge * (0.45 / OUTLINE_PX) + 0.55, 1.0)
        alpha = np.minimum(edge + 0.5, 1.0)          # inside means edge > -0.5: alpha > 0
        colour = self.colours[c][None] * (light * alpha)[:, None]
        colour += img[pixel] * (1.0 - alpha)[:, None]
        np.minimum(colour, 255.0, out=colour)
        img[pixel] = colour

    def _meshes(self, img: np.ndarray, zbuf: np.ndarray, t: int) -> None:
        """Draw every person's triangle mesh at frame t into img (H * W, 3) uint8 through zbuf (H * W,).

        Back faces are dropped; the others are rasterised together, vectorised per size class of their screen
        boxes (_rasterise: every pixel centre of the class's box is tested), with perspective-correct depth and
        Lambert shading of vertex normals interpolated across the face (Gouraud). The nearest fragment of each
        pixel wins (a z-buffer filled with np.minimum.at)."""
        vertices, faces = self.meshes
        cam = self.camera
        pix, depth, colour = [], [], []
        for p in range(vertices.shape[0]):
            v = vertices[p, t].astype(np.float64)                                        # (V, 3)
            a, b, c = v[faces[:, 0]], v[faces[:, 1]], v[faces[:, 2]]
            normal = np.cross(b - a, c - a)                                              # (F, 3), area-weighted
            front = np.einsum("fi,fi->f", normal, a - cam.position[t]) < 0               # faces the camera
            if not front.any():
                continue
            # vertex normals: the sum of the faces' around each vertex
            vn = np.stack([sum(np.bincount(faces[:, k], normal[:, i], minlength=len(v)) for k in range(3))
                           for i in range(3)], 1)
            vn /= np.maximum(np.linalg.norm(vn, axis=1, keepdims=True), 1e-12)
            light = np.maximum(vn @ (LIGHT_X * cam.right + LIGHT_Y * cam.up + LIGHT_Z * cam.forward), 0.0)
            light = AMBIENT + DIFFUSE * light                                            # (V,)
            sx, sy, sz = cam.project(v[None], [t])
            f = faces[front]
            fp, fd, fl = _rasterise(sx[0][f], sy[0][f], sz[0][f], light[f], self.width, self.height)
            pix.append(fp)
            depth.append(fd)
            colour.append(fl[:, None] * (255.0 * _person_rgb(p))[None])
        if not pix:
            return
        pix, depth, colour = np.concatenate(pix), np.concatenate(depth), np.concatenate(colour)
        np.minimum.at(zbuf, pix, depth)
        near = depth <= zbuf[pix]
        img[pix[near]] = np.minimum(colour[near], 255.0)


def _rasterise(x: np.ndarray, y: np.ndarray, z: np.ndarray, shade: np.ndarray, width: int, height: int):
    """Fragments of triangles with screen corners x, y (F, 3) pixels (y down), depths z (F, 3) and a value
    `shade` (F, 3) per corner: (pixel index (N,), depth (N,), shade (N,)), one per covered pixel centre."""
    # pixel i's centre is i + 0.5: the box runs from the first centre at or after the minimum to the last one
    x0 = np.maximum(np.ceil(x.min(1) - 0.5), 0).astype(np.int64)
    x1 = np.minimum(np.floor(x.max(1) - 0.5), width - 1).astype(np.int64)
    y0 = np.maximum(np.ceil(y.min(1) - 0.5), 0).astype(np.int64)
    y1 = np.minimum(np.floor(y.max(1) - 0.5), height - 1).astype(np.int64)
    w, h = x1 - x0 + 1, y1 - y0 + 1
    # the edge functions as planes over the box, from its first pixel centre: e_k = a_k dx + b_k dy + c_k, whose
    # ratios to the doubled area are the barycentric weights (corner k's weight: the edge opposite it)
    X, Y = x - (x0 + 0.5)[:, None], y - (y0 + 0.5)[:, None]
    area = (X[:, 1] - X[:, 0]) * (Y[:, 2] - Y[:, 0]) - (X[:, 2] - X[:, 0]) * (Y[:, 1] - Y[:, 0])
    keep = (w > 0) & (h > 0) & (np.abs(area) > 1e-9)
    i1, i2 = [1, 2, 0], [2, 0, 1]
    with np.errstate(divide="ignore", invalid="ignore"):
        a = ((Y[:, i1] - Y[:, i2]) / area[:, None]).astype(np.float32)                 # (F, 3)
        b = ((X[:, i2] - X[:, i1]) / area[:, None]).astype(np.float32)
        c = ((X[:, i1] * Y[:, i2] - X[:, i2] * Y[:, i1]) / area[:, None]).astype(np.float32)
    inv_z = (1.0 / z).astype(np.float32)
    # size classes: exact up to 4 pixels a side, then powers of two; a class tests every pixel of its box size
    def size_class(n):
        return np.where(n <= 4, n, 2 ** np.ceil(np.log2(np.maximum(n, 1))).astype(np.int64))
    key = size_class(w) * (2 * max(width, height) + 1) + size_class(h)
    key[~keep] = -1
    order = np.argsort(key, kind="stable")
    bounds = np.flatnonzero(np.diff(key[order])) + 1
    out = ([], [], [])
    for group in np.split(order, bounds):
        k0 = key[group[0]]
        if k0 < 0:
            continue
        sw, sh = divmod(int(k0), 2 * max(width, height) + 1)
        oy, ox = np.divmod(np.arange(sw * sh, dtype=np.int64), sw)                     # (S,) offsets in the box
        fx, fy = ox.astype(np.float32), oy.astype(np.float32)
        A, B, C = a[group], b[group], c[group]
        e = [A[:, k, None] * fx + (B[:, k, None] * fy + C[:, k, None]) for k in range(3)]   # (n, S) each
        ok = (e[0] >= 0) & (e[1] >= 0) & (e[2] >= 0)
        ok &= (ox <= (x1 - x0)[group, None]) & (oy <= (y1 - y0)[group, None])
        r, s = np.nonzero(ok)
        ti = group[r]
        w0, w1, w2 = e[0][r, s], e[1][r, s], e[2][r, s]
        out[0].append((y0[ti] + oy[s]) * width + x0[ti] + ox[s])
        # 1 / depth is linear on the screen; the shade is taken as linear too
        out[1].append(1.0 / (w0 * inv_z[ti, 0] + w1 * inv_z[ti, 1] + w2 * inv_z[ti, 2]))
        out[2].append(w0 * shade[ti, 0] + w1 * shade[ti, 1] + w2 * shade[ti, 2])
    if not out[0]:
        return np.zeros(0, np.int64), np.zeros(0, np.float32), np.zeros(0)
    return tuple(np.concatenate(o) for o in out)


def _capsule_names() -> list[str]:
    """The joint name each capsule of _capsules is known by (its end joint; the hands by their wrists)."""
    from .skeleton import JOINT_NAMES

    return list(JOINT_NAMES[1:]) + ["l_wrist", "r_wrist", "head"]


# ------------------------------------------------------------------------------------------- text
def _font(size: int):
    from PIL import ImageFont

    try:
        return ImageFont.load_default(size=size)   # Pillow's bundled scalable font (needs FreeType)
    except (TypeError, AttributeError, OSError):
        return ImageFont.load_default()


def _wrap(text: str, font, width: float, max_lines: int = CAPTION_LINES) -> list[str]:
    """Greedy word wrap to `width` pixels; a caption longer than max_lines ends in an ellipsis."""
    lines, line = [], ""
    for word in text.split():
        trial = f"{line} {word}".strip()
        if line and font.getlength(trial) > width:
            lines.append(line)
            line = word
        else:
            line = trial
    if line:
        lines.append(line)
    if len(lines) > max_lines:
        lines = lines[:max_lines]
        while lines[-1] and font.getlength(lines[-1] + " ...") > width:
            lines[-1] = lines[-1].rsplit(" ", 1)[0] if " " in lines[-1] else lines[-1][:-1]
        lines[-1] += " ..."
    return lines


def _text_block(text: str, width: int, height: int) -> tuple[np.ndarray, int]:
    """The caption's text coverage (rows, width) float32 in [0, 1], wrapped for a frame `height` pixels high."""
    from PIL import Image, ImageDraw

    size = max(10, round(CAPTION_FONT * height))
    font = _font(size)
    pad = max(3, size // 3)
    lines = _wrap(text, font, width - 2 * pad)
    line_height = round(size * 1.25)
    rows = 2 * pad + line_height * len(lines)
    mask = Image.new("L", (width, rows), 0)
    draw = ImageDraw.Draw(mask)
    for i, line in enumerate(lines):
        draw.text((width / 2, pad + i * line_height), line, fill=255, font=font, anchor="ma")
    return np.asarray(mask, dtype=np.float32) / 255.0, size


def _caption_layer(text: str, width: int, height: int) -> tuple[np.ndarray, np.ndarray]:
    """(scale, offset), each (rows, width, 3) float32: band = band * scale + offset lays a translucent white
    strip with the wrapped caption over the frame's top rows."""
    cover, _ = _text_block(text, width, height)
    cover = cover[..., None]
    white = 255.0 * CAPTION_ALPHA
    scale = (1.0 - CAPTION_ALPHA) * (1.0 - cover)
    offset = white * (1.0 - cover) + 255.0 * TEXT_RGB * cover
    return (np.broadcast_to(scale, cover.shape[:2] + (3,)).astype(np.float32),
            np.broadcast_to(offset, cover.shape[:2] + (3,)).astype(np.float32))


# ------------------------------------------------------------------------------------------- writers
def render_frame(joints, frame: int = 0, title: Optional[str] = None, *,
                 size: tuple[int, int] = VIDEO_SIZE) -> np.ndarray:
    """One frame of the video as (height, width, 3) uint8, the camera placed as for the whole clip."""
    people = _as_people(joints)
    if not 0 <= frame < people.shape[1]:
        raise ValueError(f"frame {frame} is out of range for a motion of {people.shape[1]} frames")
    return _Scene(people, title=title, size=size, trajectory=False).frame(frame)


def render_video(joints, path: Union[str, Path], title: Optional[str] = None, fps: int = FPS, *,
                 trajectory: bool = False, progress: bool = False, meshes: Optional[tuple] = None) -> Path:
    """Write a video of joints (P, T, 22, 3) (or one person's (T, 22, 3)) to .mp4 (640 x 480) or .gif
    (432 x 320), with `title` as the caption; `trajectory` also draws the pelvises' paths on the floor.
    `meshes` = (vertices (P, T, V, 3), faces (F, 3)) draws those meshes (e.g. SMPL bodies posed on the joints)
    instead of the capsule bodies; the joints still place the camera and the shadows."""
    people = _as_people(joints)
    if meshes is not None:
        meshes = _checked_meshes(meshes, people.shape[:2])
    path = Path(path)
    suffix = path.suffix.lower()
    if suffix not in (".mp4", ".gif"):
        raise ValueError(f"unsupported video format {path.suffix!r} for {path}; use .mp4 or .gif")
    if fps <= 0:
        raise ValueError(f"fps must be positive, got {fps}")
    scene = _Scene(people, title=title, size=GIF_SIZE if suffix == ".gif" else VIDEO_SIZE, trajectory=trajectory,
                   meshes=meshes)
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


def _checked_meshes(meshes, people_frames: tuple) -> tuple[np.ndarray, np.ndarray]:
    vertices, faces = np.asarray(meshes[0], dtype=np.float32), np.asarray(meshes[1])
    if vertices.ndim != 4 or vertices.shape[:2] != tuple(people_frames) or vertices.shape[-1] != 3:
        raise ValueError(f"mesh vertices must be {tuple(people_frames) + ('V', 3)} to match the joints, "
                         f"got {vertices.shape}")
    if not np.isfinite(vertices).all():
        raise ValueError("mesh vertices contain NaN or infinite values; nothing to draw")
    if faces.ndim != 2 or faces.shape[1] != 3 or faces.dtype.kind not in "iu" or faces.min() < 0 \
            or faces.max() >= vertices.shape[2]:
        raise ValueError(f"mesh faces must be (F, 3) vertex indices below {vertices.shape[2]}")
    return vertices, faces.astype(np.int64)


def _write_mp4(scene: _Scene, frames, tmp: Path, fps: int) -> None:
    import imageio.v2 as imageio

    # "veryfast" keeps encoding a small share of the time; at this size and quality the file stays small
    with imageio.get_writer(tmp, format="FFMPEG", mode="I", fps=fps, codec="libx264", quality=7,
                            pixelformat="yuv420p", macro_block_size=16,
                            ffmpeg_params=["-preset", "veryfast"]) as writer:
        for t in frames:
            writer.append_data(scene.frame(t))


def _write_gif(scene: _Scene, frames, tmp: Path, fps: int) -> None:
    from PIL import Image

    # Quantise each frame right away: a paletted frame is a third of the RGB one.
    images = [Image.fromarray(scene.frame(t)).quantize(colors=64, method=Image.Quantize.MEDIANCUT) for t in frames]
    # GIF delays are whole centiseconds: spread the rounding so that the clip keeps its length at any fps.
    ticks = np.round(np.arange(len(images) + 1) * 100.0 / fps)
    durations = (10 * np.maximum(np.diff(ticks), 1)).astype(int).tolist()
    images[0].save(tmp, format="GIF", save_all=True, append_images=images[1:], loop=0, duration=durations,
                   disposal=2)


def render_frames_png(joints, path: Union[str, Path], title: Optional[str] = None, *,
                      frames: Optional[Sequence[int]] = None, num: int = 5, dpi: int = 96) -> Path:
    """A still PNG of key frames side by side (evenly spaced `num` frames unless `frames` lists them), each
    panel as the video would show that frame, PANEL_INCHES high at `dpi`; the caption above them."""
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
    path = Path(path)
    if path.suffix.lower() != ".png":
        raise ValueError(f"render_frames_png writes PNG files; got {path.name!r}")
    if dpi < 16:
        raise ValueError(f"dpi must be at least 16, got {dpi}")
    from PIL import Image, ImageDraw

    height = round(PANEL_INCHES * dpi)
    width = round(PANEL_ASPECT * height)
    k = STILL_SUPERSAMPLE
    scene = _Scene(people, title=None, size=(k * width, k * height), trajectory=False)
    gap = max(2, height // 120)
    header, size = _text_block(title, len(frames) * (width + gap) - gap, height) if title else (None, 0)
    top = header.shape[0] if header is not None else 0
    strip = Image.new("RGB", (len(frames) * (width + gap) - gap, top + height), (255, 255, 255))
    if header is not None:
        ink = (255 * (1.0 - header[..., None] * (1.0 - TEXT_RGB))).astype(np.uint8)
        strip.paste(Image.fromarray(ink), (0, 0))
    draw = ImageDraw.Draw(strip)
    font = _font(max(9, round(0.8 * CAPTION_FONT * height)))
    for i, f in enumerate(frames):
        panel = Image.fromarray(scene.frame(f)).resize((width, height), Image.Resampling.LANCZOS)
        strip.paste(panel, (i * (width + gap), top))
        draw.text((i * (width + gap) + width / 2, top + height - gap), f"t = {f / FPS:.1f} s",
                  fill=tuple(int(c) for c in 255 * TEXT_RGB), font=font, anchor="md")
    with atomic_path(path) as tmp:
        strip.save(tmp, format="PNG", optimize=True)
    return path
