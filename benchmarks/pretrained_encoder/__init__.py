"""Issue 14's learning benchmark: a small ViT pretrained here on glyphs of some letters (nothing
can be downloaded), then used by ``mmrl-desktop bench --encoder image=PATH`` on another data set
(glyphs of other letters, scikit-learn's digits), against today's scratch policy."""
