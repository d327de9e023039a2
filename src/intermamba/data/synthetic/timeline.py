"""Small time-curve helpers for choreography: eased ramps, windows, walked paths and headings (frames at FPS)."""

from __future__ import annotations

import numpy as np

from ...skeleton import FPS
from .rig import heading_to

ACCEL_TIME = 0.5  # seconds to reach walking speed from standing (and to stop)


def sec(seconds: float) -> int:
    return max(1, int(round(seconds * FPS)))


def smoothstep(u: np.ndarray) -> np.ndarray:
    u = np.clip(u, 0.0, 1.0)
    return u * u * (3.0 - 2.0 * u)


def ramp(T: int, t0: float, t1: float) -> np.ndarray:
    """(T,) 0 before frame t0, eased up to 1 at t1, 1 after."""
    t = np.arange(T, dtype=np.float64)
    return smoothstep((t - t0) / max(t1 - t0, 1e-6))


def window(T: int, a: float, b: float, c: float, d: float) -> np.ndarray:
    """(T,) eased up over frames a..b, 1 until c, eased down to 0 by d."""
    return ramp(T, a, b) * (1.0 - ramp(T, c, d))


def wrap(a):
    return (np.asarray(a) + np.pi) % (2 * np.pi) - np.pi


def blend_yaw(y0, y1, w) -> np.ndarray:
    """Headings from y0 towards y1 by weight w along the shorter arc (all broadcast to (T,))."""
    return np.asarray(y0) + np.asarray(w) * wrap(np.asarray(y1) - np.asarray(y0))


class Path:
    """A pelvis path on the floor built from timed moves: `go` walks to a point with a smooth start and stop."""

    def __init__(self, T: int, start):
        self.T = T
        self.xz = np.tile(np.asarray(start, dtype=np.float64), (T, 1))
        self.t = 0

    def wait(self, frames: int) -> "Path":
        self.t += int(frames)
        return self

    def go(self, dst, speed: float, *, accel: float = ACCEL_TIME) -> tuple[int, int]:
        """Walk from the current point to `dst` at `speed` m/s (trapezoid speed profile). Returns (start, end)."""
        p0 = self.xz[min(self.t, self.T - 1)].copy()
        dst = np.asarray(dst, dtype=np.float64)
        dist = float(np.linalg.norm(dst - p0))
        # Trapezoid: accelerate for `ta` seconds, cruise, decelerate; short moves never reach full speed.
        ta = min(accel, dist / max(speed, 1e-6))
        duration = dist / max(speed, 1e-6) + ta
        n = max(2, int(round(duration * FPS)))
        tau = np.arange(n + 1) / FPS
        d_of_t = _trapezoid(tau, duration, ta)
        frac = d_of_t / max(d_of_t[-1], 1e-9)
        seg = p0 + frac[:, None] * (dst - p0)
        start = self.t
        end = min(self.T, start + n + 1)
        if start < self.T:
            self.xz[start:end] = seg[:end - start]
            self.xz[end:] = dst if end == start + n + 1 else seg[end - start - 1]
        self.t = start + n
        return start, start + n

    def offset(self, delta: np.ndarray) -> "Path":
        self.xz = self.xz + delta
        return self


def _trapezoid(tau: np.ndarray, duration: float, ta: float) -> np.ndarray:
    """Distance covered by time tau under unit cruise speed with eased ramps of length ta at both ends."""
    ta = max(ta, 1e-6)
    # Speed profile: smoothstep up over [0, ta], 1, smoothstep down over [duration - ta, duration].
    fine = np.linspace(0.0, duration, 400)
    v = smoothstep(fine / ta) * smoothstep((duration - fine) / ta)
    dist = np.concatenate([[0.0], np.cumsum(0.5 * (v[1:] + v[:-1]) * np.diff(fine))])
    return np.interp(tau, fine, dist)


def travel_heading(xz: np.ndarray, fallback: np.ndarray, *, min_speed: float = 0.25,
                   forward_only: bool = False) -> np.ndarray:
    """Heading of travel where the path moves faster than `min_speed` m/s, blended to `fallback` elsewhere.

    forward_only: follow the travel direction only while it is within 90 degrees of `fallback` (walking up to
    someone); moving away, keep the fallback heading (stepping back while still facing them). People turn no
    faster than MAX_TURN_RATE.
    """
    vel = np.gradient(xz, axis=0) * FPS
    speed = np.linalg.norm(vel, axis=-1)
    heading = np.arctan2(vel[:, 0], vel[:, 1])
    w = smoothstep((speed - 0.5 * min_speed) / min_speed)
    if forward_only:
        w = w * smoothstep(np.cos(wrap(heading - fallback)) / 0.3)
    return limit_turn_rate(np.unwrap(blend_yaw(fallback, heading, w)))


MAX_TURN_RATE = 2.5 * np.pi  # radians per second: a brisk half turn takes 0.4 s


def limit_turn_rate(yaw: np.ndarray, max_rate: float = MAX_TURN_RATE) -> np.ndarray:
    """The unwrapped heading curve (T,) with every frame-to-frame change clipped to max_rate / FPS."""
    step = max_rate / FPS
    values = yaw.tolist()  # a plain loop over floats: a few hundred frames, far cheaper than numpy per frame
    out = [values[0]]
    for v in values[1:]:
        out.append(out[-1] + min(max(v - out[-1], -step), step))
    return np.array(out)


def facing(src_xz: np.ndarray, dst_xz: np.ndarray) -> np.ndarray:
    """(T,) unwrapped yaw that faces from src to dst, frame by frame."""
    return np.unwrap(heading_to(src_xz, dst_xz))


def walk_curve(T: int, start, yaw0: float, t_start: float, t_stop: float, speed: float, *, turns=(),
               accel: float = ACCEL_TIME) -> tuple[np.ndarray, np.ndarray]:
    """A walk along a curve: speed eases in after t_start and out before t_stop (frames); `turns` lists
    (t0, t1, angle) heading changes (positive = towards the walker's left). Returns xz (T, 2) and yaw (T,)."""
    a = sec(accel)
    v = speed * ramp(T, t_start, t_start + a) * (1.0 - ramp(T, t_stop - a, t_stop))
    heading = np.full(T, float(yaw0))
    for t0, t1, angle in turns:
        heading = heading + angle * ramp(T, t0, t1)
    step = v[:, None] * np.stack([np.sin(heading), np.cos(heading)], -1) / FPS
    xz = np.asarray(start, dtype=np.float64) + np.concatenate([np.zeros((1, 2)), np.cumsum(step[:-1], 0)])
    return xz, heading
