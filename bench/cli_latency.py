"""How long `ultra-nb` takes to refuse bad input (target: under 5 s, before any model loads), measured on the installed command.

    python bench/cli_latency.py        # prints a table and writes bench/results/cli_latency.md
"""
import os, subprocess, tempfile, time
from pathlib import Path
import numpy as np
from PIL import Image
from segmentation import save

def main():
    d = Path(tempfile.mkdtemp()); img = d / 'x.png'; Image.fromarray(np.zeros((8, 8, 3), np.uint8)).save(img)
    cases = {'--zeta -1': ['segment', img, '--zeta', '-1'], '--zeta nan': ['segment', img, '--zeta', 'nan'],
             '--k 0': ['segment', img, '--k', '0'], '--k 10000 (DeiT-tiny: 196 tokens)': ['segment', img, '--k', '10000', '--model', 'deit_tiny_patch16_224'],
             '--block 99': ['maps', img, '--block', '99', '--model', 'deit_tiny_patch16_224'],
             'timm ResNet': ['maps', img, '--model', 'resnet18'],
             'existing output': ['segment', img, '--out', d, '--k', '2'],
             'hub name, offline, no local weights': ['segment', img, '--out', d / 'o']}
    (d / 'x_segmentation.png').write_text('earlier')
    rows = []
    for name, argv in cases.items():
        t = time.time()
        r = subprocess.run(['ultra-nb', *map(str, argv)], capture_output=True, text=True, env={**os.environ, 'ULTRA_NB_WEIGHTS': str(d)})
        rows.append(dict(case=name, exit=r.returncode, seconds=round(time.time() - t, 2),
                         message=r.stderr.strip().removeprefix('ultra-nb: error: ').replace(str(d), 'DIR')))
    lines = ["# `ultra-nb` refusing bad input, `bench/cli_latency.py`", "",
             f"Wall time of the installed command per case, one run each, on this machine (load average {os.getloadavg()[0]:.1f}). "
             "Most of it is importing torch and timm.", ""]
    lines += ['| ' + ' | '.join(rows[0]) + ' |', '|' + '---|' * len(rows[0])] + ['| ' + ' | '.join(map(str, r.values())) + ' |' for r in rows]
    save('cli_latency', rows, lines)

if __name__ == '__main__': main()
