"""Issue 14's learning benchmark: a small ResNet pretrained here on glyphs of other characters
(nothing can be downloaded), then used by ``mmrl-desktop bench --encoder image=PATH`` on another
data set (glyphs of other letters, scikit-learn's digits), against today's scratch policy."""
