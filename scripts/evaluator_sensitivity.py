"""What the shipped evaluator's FID sees: test-split motions with one thing changed, and a model's samples as
they are, cleaned, or with their rotations replaced.

    python scripts/evaluator_sensitivity.py                        # the real rows only (about 1 min)
    python scripts/evaluator_sensitivity.py --checkpoint demo      # and a model's rows (96 items: about 8 min)

Real rows: FID of the test split (198 items, one crop and swap draw) against a second draw of it, after changing
one thing in the second: white noise on every joint position (velocities changed to match), the foot contacts
zeroed, the rotations replaced by inverse kinematics of the positions (the representation's positions and
rotations then still agree, but each bone's twist is lost), person 2 moved sideways, the two persons swapped, or
both persons' pelvis paths put on their midpoint (a merge).

Model rows use the evaluation protocol itself (`intermamba eval`'s items, seeds and metrics, one replication of
96 items, the model's default sampler), with the same raw samples passed on: as they are (the protocol's row);
with positions, velocities and contacts taken from `cleanup.clean_up` of their joints (the rotations are the
model's); with each 6D rotation made orthonormal; with rotations by inverse kinematics of their positions.
"""

from __future__ import annotations

import argparse

import numpy as np
import torch

from intermamba import InterMambaPipeline, load_config
from intermamba import skeleton as sk
from intermamba.cleanup import clean_up
from intermamba.data import build_dataset, collate
from intermamba.evaluation import DEFAULT_EVALUATOR, Evaluator, evaluate, metrics, pipeline_generator, resolve_settings
from intermamba.motion import features_to_joints, foot_contacts
from intermamba.rotations import matrix_to_rot6d, positions_to_local_rotations, rot6d_to_matrix

NOISE_CM = (1.0, 2.0, 5.0)
SHIFT_M = (0.25, 0.5)


def with_positions(features: torch.Tensor, pos: torch.Tensor) -> torch.Tensor:
    out = features.clone()
    out[..., sk.POS] = pos.reshape(*features.shape[:3], -1)
    return out


def ik_rotations(features: torch.Tensor, lengths) -> torch.Tensor:
    """Rotations (6D, joints 1-21) by inverse kinematics of each item's own positions."""
    out = features.clone()
    for i, n in enumerate(int(n) for n in lengths):
        p = features_to_joints(features[i, :n]).permute(1, 0, 2, 3)                              # (2, n, 22, 3)
        r = matrix_to_rot6d(positions_to_local_rotations(p)[..., 1:, :, :])                 # (2, n, 21, 6)
        out[i, :n, :, sk.ROT] = r.permute(1, 0, 2, 3).reshape(n, 2, -1)
    return out


def real_rows(evaluator: Evaluator) -> list[tuple[str, float]]:
    test = build_dataset(load_config("demo").data, "test")

    def draw(seed: int):
        torch.manual_seed(seed)
        np.random.seed(seed)
        return collate([test[i] for i in range(len(test))])

    first, second = draw(1), draw(2)
    reference = evaluator.embed_motion(first["motion"], first["lengths"])
    m, lengths = second["motion"], second["lengths"]

    def fid(features: torch.Tensor) -> float:
        return metrics.fid(reference, evaluator.embed_motion(features, lengths))

    pos = features_to_joints(m)                                                          # (N, T, 2, 22, 3)
    rows = [("a second draw of the test split, unchanged", fid(m))]
    for cm in NOISE_CM:
        noise = torch.randn(pos.shape, generator=torch.Generator().manual_seed(0)) * cm / 100
        moved = with_positions(m, pos + noise)
        step = torch.cat([noise[:, 1:] - noise[:, :-1], torch.zeros_like(noise[:, :1])], dim=1)
        moved[..., sk.VEL] += step.reshape(*m.shape[:3], -1)
        rows.append((f"every joint + {cm:g} cm white noise per frame (velocities to match)", fid(moved)))
    unset = m.clone()
    unset[..., sk.CONTACT] = 0
    rows.append(("foot contacts all 0", fid(unset)))
    rows.append(("rotations by inverse kinematics of the positions", fid(ik_rotations(m, lengths))))
    for metres in SHIFT_M:
        shifted = pos.clone()
        shifted[:, :, 1, :, 0] += metres
        rows.append((f"person 2 moved {metres:g} m sideways", fid(with_positions(m, shifted))))
    rows.append(("the two persons swapped", fid(m.flip(2))))
    midpoint = pos[:, :, :, sk.ROOT:sk.ROOT + 1].mean(dim=2, keepdim=True)                    # (N, T, 1, 1, 3)
    merged = pos - pos[:, :, :, sk.ROOT:sk.ROOT + 1] + midpoint
    rows.append(("both pelvis paths on their midpoint (merged)", fid(with_positions(m, merged))))
    return rows


def model_rows(checkpoint, evaluator_path) -> str:
    pipe = InterMambaPipeline.from_pretrained(None if checkpoint == "demo" else checkpoint)
    plain, cache = pipeline_generator(pipe), {}

    def raw(texts, lengths, seed):                # every row meets the same items and seeds: sample once
        key = (tuple(texts), tuple(int(n) for n in lengths), int(seed))
        if key not in cache:
            cache[key] = plain(texts, lengths, seed)
        return cache[key].clone()

    def cleaned(texts, lengths, seed):
        out = raw(texts, lengths, seed)
        for i, n in enumerate(int(n) for n in lengths):
            joints = features_to_joints(out[i, :n]).permute(1, 0, 2, 3).double().numpy()     # (2, n, 22, 3)
            new = torch.from_numpy(clean_up(joints)).float()
            ext = torch.cat([new, 2 * new[:, -1:] - new[:, -2:-1]], dim=1)                    # (2, n + 1, 22, 3)
            out[i, :n, :, sk.POS] = new.permute(1, 0, 2, 3).reshape(n, 2, -1)
            out[i, :n, :, sk.VEL] = (ext[:, 1:] - ext[:, :-1]).permute(1, 0, 2, 3).reshape(n, 2, -1)
            out[i, :n, :, sk.CONTACT] = foot_contacts(ext).permute(1, 0, 2)
        return out

    def orthonormal(texts, lengths, seed):
        out = raw(texts, lengths, seed)
        rot = out[..., sk.ROT].reshape(*out.shape[:3], sk.NUM_ROT_JOINTS, sk.ROT6D_DIM)
        out[..., sk.ROT] = matrix_to_rot6d(rot6d_to_matrix(rot)).reshape(*out.shape[:3], -1)
        return out

    def ik(texts, lengths, seed):
        return ik_rotations(raw(texts, lengths, seed), lengths)

    cfg = load_config(pipe.config, ["eval.mm_num_samples=4", "eval.mm_num_repeats=2", "eval.mm_num_times=1"])
    settings = resolve_settings(cfg.eval, replications=1, max_items=96)
    evaluator = Evaluator.load(evaluator_path, text_encoder=pipe.text_encoder)
    rows = {"as sampled (the protocol)": raw, "cleaned positions, the model's rotations": cleaned,
            "6D rotations made orthonormal": orthonormal, "rotations by inverse kinematics of its positions": ik}
    result = evaluate(build_dataset(cfg.data, cfg.eval.split), evaluator, rows, settings, collate_fn=collate,
                      progress=False)
    return result.to_markdown()


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--checkpoint", help="an exported model folder, or 'demo', for the model rows")
    parser.add_argument("--evaluator", default=str(DEFAULT_EVALUATOR))
    args = parser.parse_args()
    torch.set_num_threads(1)
    evaluator = Evaluator.load(args.evaluator)
    print("| test split, changed | FID |\n|---|---|")
    for name, value in real_rows(evaluator):
        print(f"| {name} | {value:.1f} |", flush=True)
    if args.checkpoint:
        print()
        print(model_rows(args.checkpoint, args.evaluator))


if __name__ == "__main__":
    main()
