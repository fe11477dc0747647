"""Own-folder benchmark suite (issue 17, item 4): data sets the benchmark makes itself, each a
folder of class subfolders as a user would bring; anchors written outside the app trained on the
same answered items; the app's ``bench`` runs; a Markdown table with the issue's goal checks.

    python -m benchmarks.own_folders.run --sets shapes,glyphs,textures,words,texts,digits \
        --seeds 0-4 --points 30,60,150,300 --out benchmarks/results/own_folders.json
"""
