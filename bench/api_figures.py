"""The figures the front-door and CLI chapters show: a real image's token maps and segmentation through `ULTra`, a real
post's heatmap through `explain_summary`, and the `ultra-nb maps` figure. Writes nbs/images/api_*.png and cli_maps.png.

    python bench/api_figures.py [--only vision summary cli]
        # vision: api_maps.png, api_segmentation.png (DeiT-tiny); summary: api_summary.png (SmolLM2); cli: cli_maps.png
"""
import argparse, shutil, subprocess, sys, tempfile
from pathlib import Path
import matplotlib; matplotlib.use('Agg')
from ultra_nb import ULTra, explain_summary
from ultra_nb.material import shared_dir, smollm2, tldr_posts
from ultra_nb.models import load_timm

ROOT = Path(__file__).resolve().parents[1]

GROUPS = ('vision', 'summary', 'cli')

def main(only=GROUPS):
    sh = shared_dir()
    if sh is None: sys.exit("bench/api_figures.py needs ../shared (real DeiT-tiny, SmolLM2, VOC and TL;DR)")
    img, out = sh / 'data/voc2012-val-14/JPEGImages/vainf_0023.jpg', ROOT / 'nbs/images'
    if 'vision' in only:
        maps = ULTra(load_timm('deit_tiny_patch16_224', sh / 'models/deit_tiny_patch16_224.pth')).maps(img)
        maps.show([30, 92, 105, 160]).savefig(out / 'api_maps.png', dpi=70)
        seg = maps.segment()
        seg.show().savefig(out / 'api_segmentation.png', dpi=70)
        r = seg.score(sh / 'data/voc2012-val-14/SegmentationClass/vainf_0023.png', n_classes=21)
        print(maps, seg, f"U.mIoU per image {100 * r['per_image']['miou']:.1f}", sep='\n')
    if 'summary' in only:
        lm, tok = smollm2()
        post = min(tldr_posts(None)[:40], key=lambda p: len(p['context']))
        e = explain_summary(lm, tok, post['context'], post['summary'])
        e.figure().savefig(out / 'api_summary.png', dpi=80, bbox_inches='tight')
        print('top words:', e.top(8))
    if 'cli' not in only: return
    with tempfile.TemporaryDirectory() as d:
        subprocess.run(['ultra-nb', 'maps', str(img), '--model', 'deit_tiny_patch16_224', '--weights-dir', str(sh / 'models'), '--out', d], check=True)
        shutil.copy(Path(d) / 'vainf_0023_maps.png', out / 'cli_maps.png')

if __name__ == '__main__':
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument('--only', nargs='+', choices=GROUPS, default=GROUPS, help='only these figures (default: all three groups)')
    main(ap.parse_args().only)
