"""`intermamba bench`: the quick run on tiny configs completes, its JSON has the keys, ratios are consistent."""

import json

import pytest

from intermamba.bench import format_scan_table, format_table, run_bench, scan_backends_for, scan_benchmark
from intermamba.cli import main
from intermamba.config import load_config

TINY_INTERGEN = """\
base: intergen
model:
  latent_dim: 32
  num_layers: 1
  num_heads: 4
  ff_size: 64
  text_dim: 384
  text_layers: 1
  text_heads: 2
  text_ff: 64
"""


@pytest.fixture
def tiny_intergen(tmp_path):
    path = tmp_path / "tiny_intergen.yaml"
    path.write_text(TINY_INTERGEN)
    return str(path)


def test_quick_bench_on_tiny_configs_via_cli(tmp_path, tiny_intergen, capsys):
    out_json, out_png = tmp_path / "bench.json", tmp_path / "bench.png"
    code = main(["bench", "--quick", "--configs", f"tiny,{tiny_intergen}", "--baseline", tiny_intergen,
                 "--frames", "12", "--sweep", "8,70", "--repeats", "1", "--sample-steps", "2",
                 "--json", str(out_json), "--plot", str(out_png), "--no-progress"])
    assert code == 0
    assert out_png.stat().st_size > 0
    result = json.loads(out_json.read_text())
    assert set(result) == {"settings", "environment", "configs", "sweep"}
    assert set(result["configs"]) == {"tiny", "tiny_intergen"}
    assert result["settings"]["baseline"] == "tiny_intergen" and result["settings"]["sample_steps"] == 2
    for name, row in result["configs"].items():
        assert {"params", "flops_per_call", "call_s", "sample_s", "peak_memory_bytes", "ratios"} <= set(row)
        assert row["params"] > 0 and row["flops_per_call"] > 0 and row["call_s"] > 0 and row["sample_s"] > 0
    base = result["configs"]["tiny_intergen"]
    for row in result["configs"].values():
        for key in ("params", "flops_per_call", "call_s", "sample_s"):
            assert row["ratios"][key] == pytest.approx(row[key] / base[key])
    assert base["ratios"]["call_s"] == pytest.approx(1.0)
    # the sweep: both lengths per config; tiny's window is 64 frames, so 70 runs the joint-token variant
    tiny_sweep = result["sweep"]["tiny"]
    assert [r["frames"] for r in tiny_sweep] == [8, 70]
    assert [r["variant"] for r in tiny_sweep] == ["frames", "joints"]
    base_sweep = {r["frames"]: r["call_s"] for r in result["sweep"]["tiny_intergen"]}
    for r in tiny_sweep:
        assert r["ratio"] == pytest.approx(r["call_s"] / base_sweep[r["frames"]])
    assert "tiny_intergen" in capsys.readouterr().out


def test_baseline_must_be_measured():
    with pytest.raises(ValueError, match="baseline 'intergen' is not among the configs"):
        run_bench([load_config("tiny")], baseline="intergen", sweep=(), progress=False)


def test_without_baseline_there_are_no_ratios():
    result = run_bench(["tiny"], baseline=None, frames=8, repeats=1, sample_steps=1, sweep=(), progress=False)
    assert "ratios" not in result["configs"]["tiny"]
    assert "tiny" in format_table(result)


def test_scan_benchmark_rows():
    rows = scan_benchmark([(1, 5, 8)], repeats=1, progress=False)
    assert rows[0]["shape"] == [1, 5, 8]
    assert set(rows[0]["ms"]) == {"ref", "fused"}
    assert all(v > 0 for ms in rows[0]["ms"].values() for v in ms.values())
    assert "1x5x8" in format_scan_table(rows)


def test_bad_sweep_is_a_clear_error(capsys):
    assert main(["bench", "--configs", "tiny", "--baseline", "none", "--sweep", "8,x"]) == 2
    assert "--sweep must be comma-separated integers" in capsys.readouterr().err


@pytest.mark.parametrize("args, message", [
    (["--frames", "0"], "--frames must be at least 1, got 0"),
    (["--frames", "-5"], "--frames must be at least 1, got -5"),
    (["--threads", "-1"], "--threads must be a positive integer, got -1"),
    (["--threads", "0"], "--threads must be a positive integer, got 0"),
    (["--repeats", "0"], "--repeats must be at least 1, got 0"),             # was silently replaced by 5
    (["--sample-steps", "0"], "--sample-steps must be at least 1, got 0"),
    (["--sample-repeats", "0"], "--sample-repeats must be at least 1, got 0"),
    (["--sweep", "75,0"], "--sweep lengths must be at least 1, got '75,0'"),
    (["--scan", "--repeats", "0"], "--repeats must be at least 1, got 0"),
])
def test_bad_counts_are_one_line_before_any_work(capsys, tmp_path, args, message):
    out = tmp_path / "b.json"
    assert main(["bench", "--configs", "tiny", "--baseline", "none", "--no-progress", "--json", str(out), *args]) == 2
    err = capsys.readouterr().err.strip()
    assert err.endswith(message) and len(err.splitlines()) == 1
    assert not out.exists()


def test_scan_backend_option_is_recorded_and_checked(capsys, tmp_path):
    out = tmp_path / "b.json"
    assert main(["bench", "--configs", "tiny", "--baseline", "none", "--frames", "8", "--sweep", "", "--repeats", "1",
                 "--sample-steps", "1", "--sample-repeats", "1", "--scan-backend", "fused", "--no-progress",
                 "--json", str(out)]) == 0
    assert json.loads(out.read_text())["environment"]["scan_backend"] == "fused"
    # GPU-only kernels are refused on CPU before anything runs, with the usable choices named
    assert main(["bench", "--configs", "tiny", "--scan-backend", "triton"]) == 2
    err = capsys.readouterr().err
    assert "--scan-backend 'triton' cannot run on cpu" in err and "fused" in err


def test_scan_backends_for_a_device():
    cpu = scan_backends_for("cpu")
    assert cpu[:2] == ["ref", "fused"] and "triton" not in cpu and "mamba_ssm" not in cpu
