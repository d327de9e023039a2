// A small 3D viewer for two-person joint motion, on a 2D canvas (no WebGL, no libraries: the page works offline).
//
//   const viewer = new MotionViewer(canvas, {joints, parents, fps});   // joints (2, T, 22, 3) metres, Y up
//   viewer.play(); viewer.pause(); viewer.seek(frame); viewer.onframe = (frame) => ...;
//
// The camera orbits a target at the motion's centre (drag: turn, wheel: zoom). Each bone is drawn as a capsule:
// a thick line with round caps, projected with a perspective camera; all bones of both people are sorted by
// depth and drawn far to near, each shaded by how much it faces the light and a little by its distance, with a
// thin highlight along it so that limbs read as round. The floor is a grid at y = 0 with a soft shadow under
// each person.

"use strict";

const PERSON_COLOURS = [[31, 111, 209], [224, 72, 43]];   // person 1 blue, person 2 red (render.py's colours)
const BACKGROUND = "#f4f5f7";
const LIMB_RADIUS = 0.045;     // metres
const HEAD_RADIUS = 0.10;
const HEAD_JOINT = 15;
const FOCAL = 1.8;             // focal length over half the canvas height (about 58 degrees' field of view)
const LIGHT = normalise([0.4, 1.0, 0.6]);

function normalise(v) {
  const n = Math.hypot(v[0], v[1], v[2]) || 1;
  return [v[0] / n, v[1] / n, v[2] / n];
}

function cross(a, b) {
  return [a[1] * b[2] - a[2] * b[1], a[2] * b[0] - a[0] * b[2], a[0] * b[1] - a[1] * b[0]];
}

class MotionViewer {
  constructor(canvas, data) {
    this.canvas = canvas;
    this.ctx = canvas.getContext("2d");
    this.joints = data.joints;                 // [person][frame][joint][xyz]
    this.parents = data.parents;
    this.fps = data.fps || 30;
    this.frames = this.joints[0].length;
    this.frame = 0;
    this.playing = false;
    this.onframe = null;
    this._fitCamera();
    this._bindMouse();
    this.draw();
  }

  // ------------------------------------------------------------------------------------------ camera
  _fitCamera() {
    let lo = [Infinity, Infinity, Infinity], hi = [-Infinity, -Infinity, -Infinity];
    for (const person of this.joints)
      for (const frame of person)
        for (const p of frame)
          for (let i = 0; i < 3; i++) { lo[i] = Math.min(lo[i], p[i]); hi[i] = Math.max(hi[i], p[i]); }
    this.target = [(lo[0] + hi[0]) / 2, Math.max(0.7, (lo[1] + hi[1]) / 2), (lo[2] + hi[2]) / 2];
    const span = Math.max(hi[0] - lo[0], hi[2] - lo[2], 2.0);
    this.distance = 1.2 * span + 1.0;
    this.yaw = 0.6;              // radians around Y, from the +Z side
    this.pitch = 0.3;            // radians above the horizon
  }

  _basis() {
    const cp = Math.cos(this.pitch);
    const eye = [this.target[0] + this.distance * cp * Math.sin(this.yaw),
                 this.target[1] + this.distance * Math.sin(this.pitch),
                 this.target[2] + this.distance * cp * Math.cos(this.yaw)];
    const forward = normalise([this.target[0] - eye[0], this.target[1] - eye[1], this.target[2] - eye[2]]);
    const right = normalise(cross(forward, [0, 1, 0]));
    const up = cross(right, forward);
    return {eye, forward, right, up};
  }

  // world point -> [x, y, depth] in canvas pixels, or null behind the camera
  _project(p, cam) {
    const d = [p[0] - cam.eye[0], p[1] - cam.eye[1], p[2] - cam.eye[2]];
    const z = d[0] * cam.forward[0] + d[1] * cam.forward[1] + d[2] * cam.forward[2];
    if (z < 0.05) return null;
    const half = this.canvas.height / 2, f = FOCAL * half / z;
    const x = d[0] * cam.right[0] + d[1] * cam.right[1] + d[2] * cam.right[2];
    const y = d[0] * cam.up[0] + d[1] * cam.up[1] + d[2] * cam.up[2];
    return [this.canvas.width / 2 + f * x, half - f * y, z];
  }

  _bindMouse() {
    let last = null;
    this.canvas.addEventListener("pointerdown", (e) => { last = [e.clientX, e.clientY]; this.canvas.setPointerCapture(e.pointerId); });
    this.canvas.addEventListener("pointerup", () => { last = null; });
    this.canvas.addEventListener("pointermove", (e) => {
      if (!last) return;
      this.yaw -= (e.clientX - last[0]) * 0.01;
      this.pitch = Math.min(1.45, Math.max(-0.2, this.pitch + (e.clientY - last[1]) * 0.01));
      last = [e.clientX, e.clientY];
      this.draw();
    });
    this.canvas.addEventListener("wheel", (e) => {
      e.preventDefault();
      this.distance = Math.min(40, Math.max(1, this.distance * Math.exp(e.deltaY * 0.001)));
      this.draw();
    }, {passive: false});
  }

  // -------------------------------------------------------------------------------------------- time
  play() {
    if (this.playing) return;
    this.playing = true;
    const start = performance.now() - this.frame * 1000 / this.fps;
    const tick = (now) => {
      if (!this.playing) return;
      this.seek(Math.floor((now - start) * this.fps / 1000) % this.frames);
      requestAnimationFrame(tick);
    };
    requestAnimationFrame(tick);
  }

  pause() { this.playing = false; }

  seek(frame) {
    this.frame = Math.max(0, Math.min(this.frames - 1, frame | 0));
    this.draw();
    if (this.onframe) this.onframe(this.frame);
  }

  // -------------------------------------------------------------------------------------------- draw
  draw() {
    const ctx = this.ctx, cam = this._basis();
    ctx.fillStyle = BACKGROUND;
    ctx.fillRect(0, 0, this.canvas.width, this.canvas.height);
    this._drawFloor(cam);
    const items = [];           // [depth, draw()] for every bone and head of both people
    this.joints.forEach((person, k) => {
      const pose = person[this.frame];
      const colour = PERSON_COLOURS[k % PERSON_COLOURS.length];
      this._drawShadow(pose, cam);
      for (let j = 1; j < pose.length; j++) {
        const a = this._project(pose[this.parents[j]], cam), b = this._project(pose[j], cam);
        if (!a || !b) continue;
        const dir = normalise([pose[j][0] - pose[this.parents[j]][0], pose[j][1] - pose[this.parents[j]][1],
                               pose[j][2] - pose[this.parents[j]][2]]);
        // a cylinder is lit most when its axis is across the light: 1 - |axis . light|
        const dot = dir[0] * LIGHT[0] + dir[1] * LIGHT[1] + dir[2] * LIGHT[2];
        const shade = 0.55 + 0.45 * Math.sqrt(Math.max(0, 1 - dot * dot));
        items.push([(a[2] + b[2]) / 2, () => this._capsule(a, b, LIMB_RADIUS, colour, shade)]);
      }
      const head = this._project(pose[HEAD_JOINT], cam);
      if (head) items.push([head[2] - 0.05, () => this._ball(head, HEAD_RADIUS, colour)]);
    });
    items.sort((x, y) => y[0] - x[0]);
    for (const [, paint] of items) paint();
  }

  _pixels(radius, depth) { return FOCAL * (this.canvas.height / 2) * radius / depth; }

  _rgb(colour, shade, depth) {
    const fog = Math.min(0.35, Math.max(0, (depth - this.distance) * 0.08));   // farther is paler
    const c = colour.map((v) => Math.round((v * shade) * (1 - fog) + 244 * fog));
    return `rgb(${c[0]},${c[1]},${c[2]})`;
  }

  _capsule(a, b, radius, colour, shade) {
    const ctx = this.ctx, depth = (a[2] + b[2]) / 2, width = 2 * this._pixels(radius, depth);
    ctx.lineCap = "round";
    ctx.strokeStyle = this._rgb(colour, shade, depth);
    ctx.lineWidth = width;
    ctx.beginPath(); ctx.moveTo(a[0], a[1]); ctx.lineTo(b[0], b[1]); ctx.stroke();
    ctx.strokeStyle = "rgba(255,255,255,0.28)";        // the highlight: a thin lighter line off the axis
    ctx.lineWidth = width * 0.3;
    const off = -width * 0.18;
    ctx.beginPath(); ctx.moveTo(a[0] + off, a[1] + off); ctx.lineTo(b[0] + off, b[1] + off); ctx.stroke();
  }

  _ball(c, radius, colour) {
    const ctx = this.ctx, r = this._pixels(radius, c[2]);
    const g = ctx.createRadialGradient(c[0] - r * 0.35, c[1] - r * 0.35, r * 0.1, c[0], c[1], r);
    g.addColorStop(0, this._rgb(colour.map((v) => Math.min(255, v + 80)), 1, c[2]));
    g.addColorStop(1, this._rgb(colour, 0.75, c[2]));
    ctx.fillStyle = g;
    ctx.beginPath(); ctx.arc(c[0], c[1], r, 0, 2 * Math.PI); ctx.fill();
  }

  _drawFloor(cam) {
    const ctx = this.ctx, step = 0.5, n = 12;
    const cx = Math.round(this.target[0] / step) * step, cz = Math.round(this.target[2] / step) * step;
    ctx.lineWidth = 1;
    for (let i = -n; i <= n; i++) {
      ctx.strokeStyle = i === 0 ? "#b5bac3" : "#d6d9de";
      for (const [p, q] of [[[cx + i * step, 0, cz - n * step], [cx + i * step, 0, cz + n * step]],
                            [[cx - n * step, 0, cz + i * step], [cx + n * step, 0, cz + i * step]]]) {
        this._line3d(p, q, cam);
      }
    }
  }

  // a floor line in pieces, so that the part behind the camera is left out instead of wrapping around
  _line3d(p, q, cam) {
    const ctx = this.ctx, pieces = 16;
    let prev = null;
    ctx.beginPath();
    for (let s = 0; s <= pieces; s++) {
      const t = s / pieces, pt = this._project([p[0] + (q[0] - p[0]) * t, 0, p[2] + (q[2] - p[2]) * t], cam);
      if (pt && prev) ctx.lineTo(pt[0], pt[1]); else if (pt) ctx.moveTo(pt[0], pt[1]);
      prev = pt;
    }
    ctx.stroke();
  }

  _drawShadow(pose, cam) {
    const ctx = this.ctx, root = pose[0], ring = [];
    for (let s = 0; s < 24; s++) {
      const a = 2 * Math.PI * s / 24, pt = this._project([root[0] + 0.35 * Math.cos(a), 0, root[2] + 0.35 * Math.sin(a)], cam);
      if (!pt) return;
      ring.push(pt);
    }
    ctx.fillStyle = "rgba(40,45,55,0.16)";
    ctx.beginPath();
    ring.forEach((pt, s) => (s ? ctx.lineTo(pt[0], pt[1]) : ctx.moveTo(pt[0], pt[1])));
    ctx.fill();
  }
}

window.MotionViewer = MotionViewer;
