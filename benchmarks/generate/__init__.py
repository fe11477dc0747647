"""bench --task generate over arms and seeds (issue 16): see run.py."""
