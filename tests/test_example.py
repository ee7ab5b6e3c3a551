"The README's main example, end to end on the real DeiT-tiny weights and a real VOC image."
import subprocess, sys
from conftest import ROOT

def test_quickstart_example(shared, tmp_path):
    out = tmp_path / 'maps.png'
    res = subprocess.run([sys.executable, ROOT / 'examples/quickstart.py', '--out', out], capture_output=True, text=True, check=True)
    assert '196 token maps' in res.stdout and out.stat().st_size > 10_000

def test_bench_scripts_import():
    "Every bench script imports: the package names it uses exist (the benchmarks are orchestration over the package)."
    import importlib.util
    sys.path.insert(0, str(ROOT / 'bench'))
    try:
        for p in sorted((ROOT / 'bench').glob('*.py')):
            spec = importlib.util.spec_from_file_location(f'bench_{p.stem}', p)
            mod = sys.modules[spec.name] = importlib.util.module_from_spec(spec)  # registered, as `import` would (dataclasses look it up)
            spec.loader.exec_module(mod)
    finally: sys.path.remove(str(ROOT / 'bench'))
