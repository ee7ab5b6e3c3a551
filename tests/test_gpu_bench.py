"`bench/gpu.py --dry-run` runs without a GPU: every configuration's shapes and FLOP floor, and the analytic FLOP count equals torch's FlopCounterMode."
import json, subprocess, sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]

def test_gpu_bench_dry_run():
    r = subprocess.run([sys.executable, str(ROOT / 'bench/gpu.py'), '--dry-run'], capture_output=True, text=True, timeout=300)
    assert r.returncode == 0, r.stderr[-2000:]
    out = json.loads(r.stdout)
    rows = {(c['model'], c['size'], c['precision'], c['compile']): c for c in out['configs']}
    assert len(rows) == 3 * 2 * 3 + 2 * 3  # every model, size and precision; ViT-B/16 also compiled
    assert rows['ViT-S/8', 448, 'bfloat16', False]['tokens'] == 56 * 56 and rows['ViT-B/16', 224, 'tf32', True]['tokens'] == 196
    assert rows['ViT-B/16', 224, 'float32', False]['width'] == 768 and rows['ViT-S/16', 448, 'float32', False]['blocks'] == 12
    f = out['flop_check']
    assert f['forward_analytic'] == f['forward_counted'] and f['vjp_analytic'] == f['vjp_counted']
    # more tokens cost more: quadratic attention makes 448 more than 4x the FLOPs of 224
    assert rows['ViT-B/16', 448, 'float32', False]['tflop_per_image'] > 4 * rows['ViT-B/16', 224, 'float32', False]['tflop_per_image']
