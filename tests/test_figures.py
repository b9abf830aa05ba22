"""The figure gallery: every registered figure renders to a valid PNG, deterministically, and the
README shows exactly the registered figures with their captions."""
import os
import re

import numpy as np
import pytest
from matplotlib.image import imread

from adjoint_ref.cli import figures
from adjoint_ref.cli import main

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"


@pytest.fixture(scope="module")
def quick_gallery(tmp_path_factory):
    """`adjoint-ref figures --quick --out DIR`, run once for the tests below."""
    out = tmp_path_factory.mktemp("figures")
    assert main(["figures", "--quick", "--out", str(out)]) == 0
    return out


@pytest.mark.parametrize("name", sorted(figures.FIGURES))
def test_every_registered_figure_is_a_valid_non_empty_png(quick_gallery, name):
    path = quick_gallery / name
    with open(path, "rb") as handle:
        assert handle.read(8) == PNG_SIGNATURE
    pixels = imread(path)
    assert pixels.ndim == 3 and pixels.shape[0] >= 300 and pixels.shape[1] >= 300
    assert np.ptp(pixels[..., :3]) > 0.5  # something dark drawn on the white background


def test_only_registered_figures_are_written(quick_gallery):
    assert sorted(os.listdir(quick_gallery)) == sorted(figures.FIGURES)


def test_rendering_is_deterministic(quick_gallery, tmp_path):
    # spiral_fit also runs a (tiny) training: same seed, same numbers, same bytes.
    for name in ("spiral_fit.png", "adjoint_trajectories.png"):
        figures.render([name], out=str(tmp_path), quick=True, log=lambda line: None)
        assert (tmp_path / name).read_bytes() == (quick_gallery / name).read_bytes(), name


def test_unknown_figure_name_is_refused():
    with pytest.raises(ValueError, match="names: unknown figure"):
        figures.render(["no_such_figure.png"], out="unused")


def readme():
    with open(os.path.join(ROOT, "README.md"), encoding="utf-8") as handle:
        return handle.read()


def test_readme_shows_exactly_the_registered_figures_with_their_captions():
    text = readme()
    assert sorted(set(re.findall(r"\]\(figures/([^)]+\.png)\)", text))) == sorted(figures.FIGURES)
    for name, (caption, _) in figures.FIGURES.items():
        assert f"![{name}](figures/{name})" in text
        assert caption in text, name


def test_every_registered_figure_is_committed():
    committed = [n for n in os.listdir(os.path.join(ROOT, "figures")) if n.endswith(".png")]
    assert sorted(committed) == sorted(figures.FIGURES)


def test_quick_figures_default_to_their_own_folder(tmp_path, monkeypatch):
    # Quick drafts must never overwrite the committed gallery in figures/.
    monkeypatch.chdir(tmp_path)
    assert main(["figures", "--quick", "adjoint_trajectories.png"]) == 0
    assert (tmp_path / "figures_quick" / "adjoint_trajectories.png").stat().st_size > 0
    assert not (tmp_path / "figures").exists()


def test_the_derivation_embeds_registered_figures():
    with open(os.path.join(ROOT, "derivation", "README.md"), encoding="utf-8") as handle:
        embedded = re.findall(r"!\[([^\]]+)\]\(\.\./figures/([^)]+\.png)\)", handle.read())
    assert len({name for _, name in embedded}) >= 5
    for label, name in embedded:
        assert label == name and name in figures.FIGURES, name
