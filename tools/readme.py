"""Write README.md from nbs/index.ipynb, as `nbdev-readme` does when Quarto is installed.

`nbdev-readme` renders through Quarto, a separate program that pip cannot install offline; this script gives the
same Markdown from the notebook with nbformat alone. `python tools/readme.py --check` fails when README.md is stale."""
import argparse
import sys
from pathlib import Path

import nbformat

ROOT = Path(__file__).resolve().parents[1]


def _hidden(cell):
    first = cell.source.lstrip().splitlines()[:1]
    return bool(first) and first[0].replace(' ', '').startswith(('#|hide', '#|include:false'))


def _outputs(cell):
    for out in cell.get('outputs', []):
        text = out.get('text') or out.get('data', {}).get('text/markdown') or out.get('data', {}).get('text/plain')
        if text:
            yield ''.join(text).rstrip('\n')


def render(nb_path=ROOT / 'nbs' / 'index.ipynb'):
    "Markdown for the README: markdown cells as they are, visible code cells fenced with their text outputs."
    nb = nbformat.read(nb_path, as_version=4)
    parts = []
    for cell in nb.cells:
        if cell.cell_type == 'markdown':
            parts.append(cell.source.strip())
        elif cell.cell_type == 'code' and not _hidden(cell) and cell.source.strip():
            parts.append(f"```python\n{cell.source.strip()}\n```")
            parts += [f"```\n{o}\n```" for o in _outputs(cell)]
    note = '<!-- Generated from nbs/index.ipynb by tools/readme.py (or nbdev-readme); edit the notebook, not this file -->'
    return note + '\n\n' + '\n\n'.join(parts) + '\n'


if __name__ == '__main__':
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument('--check', action='store_true', help='fail if README.md differs from the notebook')
    args = p.parse_args()
    text, readme = render(), ROOT / 'README.md'
    if args.check:
        if not readme.exists() or readme.read_text() != text:
            sys.exit('README.md is stale: run `python tools/readme.py` and commit README.md')
    else:
        readme.write_text(text)
