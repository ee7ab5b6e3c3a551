"The README's main example, end to end on the real DeiT-tiny weights and a real VOC image."
import subprocess, sys
from conftest import ROOT

def test_quickstart_example(shared, tmp_path):
    out = tmp_path / 'maps.png'
    res = subprocess.run([sys.executable, ROOT / 'examples/quickstart.py', '--out', out], capture_output=True, text=True, check=True)
    assert '196 token maps' in res.stdout and out.stat().st_size > 10_000

def test_bench_help():
    res = subprocess.run([sys.executable, ROOT / 'bench/maps.py', '--help'], capture_output=True, text=True, check=True)
    assert '--budget-mb' in res.stdout
