"""Every bad input issue 11 listed, fed to the package as a user would, and the one sentence that now stops it.

    python bench/bad_inputs.py     # writes bench/results/bad_inputs.md
"""
import contextlib, io, os, tempfile
from pathlib import Path
import numpy as np, torch
from PIL import Image
from ultra_nb import ULTra
from ultra_nb.fam_timm import tiny_vit
from ultra_nb.inputs import load_image
from ultra_nb.maps import ultra_rows
from ultra_nb.cluster import cluster_tokens
from ultra_nb.evaluate import SegScore, read_label
from ultra_nb.cli import main
from segmentation import save

def message(fn):
    "The error `fn` raises (or what it returns), as one line."
    err = io.StringIO()
    try:
        with contextlib.redirect_stderr(err), contextlib.redirect_stdout(io.StringIO()): r = fn()
        return f"(accepted) {r}"
    except SystemExit as e: return f"exit {e.code}: " + err.getvalue().strip().removeprefix('ultra-nb: error: ')
    except Exception as e: return f"{type(e).__name__}: {e}"

def cases(d:Path) -> list:
    "The 21 (case, call) pairs, their files made in `d` (bench/faults.py runs them too)."
    img = d / 'cat.png'; Image.fromarray(np.zeros((40, 40, 3), np.uint8)).save(img)
    l16 = d / 'l16.png'; Image.fromarray(np.array([[0, 3], [11, 300]], np.uint16)).save(l16)
    (d / 'taken').mkdir(); (d / 'taken/cat_segmentation.png').write_text('x'); (d / 'afile').write_text('')
    for sub in ('voc/JPEGImages', 'voc/SegmentationClass', 'm'): (d / sub).mkdir(parents=True)
    (d / 'voc/val.txt').write_text('a\n'); (d / 'm/metrics.csv').write_text('earlier')
    u, x = ULTra(tiny_vit(), verbose=False), torch.randn(1, 3, 32, 32)
    import timm
    cli = lambda *a: lambda: main([str(v) for v in a])
    cases = [
        ("labels outside the class range (zeros vs 50)", lambda: SegScore(2).add(np.zeros(3, int), np.full(3, 50))),
        ("16-bit label PNG with a value past the classes", lambda: SegScore(11, (11,)).add(np.zeros((2, 2), int), read_label(l16))),
        ("float image in [0, 1] to load_image", lambda: f"mean {load_image(np.full((8, 8, 3), 0.5), size=(8, 8)).mean():.3f} (same as uint8 128)"),
        ("tokens=[-1]", lambda: u.maps(x, tokens=[-1])),
        ("ultra_rows(tokens=[-1])", lambda: ultra_rows(tiny_vit(), x, [-1])),
        ("cluster_tokens(k=0)", lambda: cluster_tokens(torch.rand(5, 4, 4), k=0)),
        ("--zeta -1", cli('segment', img, '--zeta', '-1')), ("--zeta 5", cli('segment', img, '--zeta', '5')),
        ("--zeta nan", cli('segment', img, '--zeta', 'nan')),
        ("--k 10000 (DeiT-tiny)", cli('segment', img, '--k', '10000', '--model', 'deit_tiny_patch16_224')),
        ("input of 1e30", lambda: u.maps(torch.full((1, 3, 32, 32), 1e30))),
        ("input of 1e30 to the engine", lambda: ultra_rows(tiny_vit(), torch.full((1, 3, 32, 32), 1e30))),
        ("same stem twice", cli('segment', img, img)),
        ("existing results in --out", cli('segment', img, '--out', d / 'taken')),
        ("--out names a file", cli('segment', img, '--out', d / 'afile')),
        ("eval: existing metrics are checked before any work", cli('eval', d / 'voc', '--dataset', 'voc', '--out', d / 'm')),
        ("timm ResNet", lambda: ULTra(timm.create_model('resnet18', pretrained=False).eval())),
        ("block=99", lambda: ULTra(tiny_vit(), block=99)), ("block=-99", lambda: ULTra(tiny_vit(), block=-99)),
        ("1-channel image tensor", lambda: u.maps(torch.randn(1, 1, 32, 32))),
        ("uint8 image tensor", lambda: u.maps(torch.zeros(1, 3, 32, 32, dtype=torch.uint8))),
        ("3-D image tensor", lambda: u.maps(torch.randn(3, 32, 32))),
        ("default model offline, no local weights", cli('segment', img, '--out', d / 'o')),
    ]
    return cases

def main_():
    d = Path(tempfile.mkdtemp()); os.environ['ULTRA_NB_WEIGHTS'] = str(d); os.environ['HF_HUB_OFFLINE'] = '1'
    rows = [dict(case=c, message=message(f).replace(str(d), 'DIR').replace('|', '\\|')) for c, f in cases(d)]
    lines = ["# Bad inputs and the sentence that stops them, `bench/bad_inputs.py`", ""]
    lines += ['| ' + ' | '.join(rows[0]) + ' |', '|' + '---|' * len(rows[0])] + ['| ' + ' | '.join(r.values()) + ' |' for r in rows]
    save('bad_inputs', rows, lines)

if __name__ == '__main__': main_()
