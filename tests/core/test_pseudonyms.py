"""The project's pseudonym key: made once, never seen empty, shared by racing exports."""

from __future__ import annotations

import threading

from mmrl_desktop.core.data.pseudonyms import KEY_FILE, project_key, pseudonym


def test_an_empty_key_file_left_by_a_killed_export_is_replaced(tmp_path):
    (tmp_path / KEY_FILE).write_text("")  # an older version killed between create and write
    key = project_key(tmp_path)  # used to recurse without end (RecursionError)
    assert len(key) == 32 and project_key(tmp_path) == key
    assert sorted(p.name for p in tmp_path.iterdir()) == [KEY_FILE]  # no temp file left


def test_racing_exports_share_one_key(tmp_path):
    keys: list[bytes] = []
    threads = [
        threading.Thread(target=lambda: keys.append(project_key(tmp_path))) for _ in range(8)
    ]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert len(set(keys)) == 1 and pseudonym(keys[0], "a") == pseudonym(project_key(tmp_path), "a")
