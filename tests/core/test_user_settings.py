from mmrl_desktop.core.data.user_settings import MAX_RECENT, UserSettings


def test_defaults_then_round_trip():
    s = UserSettings.load()
    assert s.annotator == "" and s.recent_projects == []
    s.annotator = "dr_b"
    for k in range(MAX_RECENT + 3):
        s.remember_project(f"/p/{k}")
    s.remember_project("/p/3")
    s.save()
    t = UserSettings.load()
    assert t.annotator == "dr_b" and t.last_project == "/p/3"
    assert t.recent_projects[0] == "/p/3" and len(t.recent_projects) == MAX_RECENT
    assert len(set(t.recent_projects)) == MAX_RECENT


def test_corrupt_file_is_set_aside():
    path = UserSettings.path()
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("{not json")
    s = UserSettings.load()
    assert s == UserSettings()
    assert path.with_suffix(".json.bad").exists()


def test_bad_values_fall_back():
    path = UserSettings.path()
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text('{"annotator": 5, "recent_projects": "x", "theme": "neon"}')
    assert UserSettings.load() == UserSettings()
