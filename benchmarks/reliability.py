"""Reliability harness (issue 18): kill -9 during simulate / import / export, and peak RSS of
every command on crafted hostile inputs. Prints markdown tables and writes JSON.

    OMP_NUM_THREADS=1 python benchmarks/reliability.py [--kills 20] [--export-kills 10]
        [--only simulate,import,exports,kills,rss] [--timeout 120] [--rss-cap-mb 3072] [--json out.json] [--keep]

Every command runs alone (one core), as a subprocess of ``python -m mmrl_desktop``; its process
tree's RSS is polled with psutil every 20 ms and the tree is killed above ``--rss-cap-mb``
(reported "> cap, killed") or after ``--timeout`` s ("hung"); the exact peak comes from
``wait4``'s ``ru_maxrss``. Everything is built under a temporary folder, removed at the end.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import shutil
import signal
import sqlite3
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

import psutil

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

from bench_import import build_source  # noqa: E402
from crafted_inputs import CRAFTED, write_small_items  # noqa: E402
from reliability_report import COMMANDS, crafted_tables, kill_table  # noqa: E402

ENV = dict(os.environ, OMP_NUM_THREADS="1", MKL_NUM_THREADS="1", QT_QPA_PLATFORM="offscreen")
EXPORT_FORMATS = {
    "torchscript": "model.pt",
    "onnx": "model.onnx",
    "feedback-csv": "feedback.csv",
    "feedback-jsonl": "feedback.jsonl",
    "tensorboard": "tb",
}


@dataclass
class Run:
    argv: list[str]
    rc: int | None  # None: killed by the harness (see outcome)
    outcome: str  # "exit N", "killed (kill -9 at N s)", "hung (killed after N s)", "> N MB, killed"
    seconds: float
    peak_mb: float
    stdout: str
    stderr: str

    @property
    def traceback(self) -> bool:
        return "Traceback" in self.stderr

    @property
    def tail(self) -> str:
        """The last stderr lines when something went wrong (for the JSON), else ''."""
        return "" if self.one_sentence else "\n".join(self.stderr.splitlines()[-4:])

    @property
    def first_err(self) -> str:
        lines = [ln.strip() for ln in self.stderr.splitlines() if ln.strip()]
        return lines[0][:160] if lines else ""

    @property
    def one_sentence(self) -> bool:
        """Success, or a refusal in one stderr line without a traceback."""
        lines = [ln for ln in self.stderr.splitlines() if ln.strip()]
        return self.rc == 0 or (self.rc == 2 and len(lines) <= 1 and not self.traceback)


def _env(args) -> dict:
    """One thread; with ``--code DIR`` the package is imported from DIR (cwd, PYTHONPATH)."""
    env = dict(ENV)
    if args.code:
        env["PYTHONPATH"] = str(args.code)
    return env


def _skipped(stdout: str) -> str:
    """The files a ``--json`` import/predict skipped, with their reasons."""
    try:
        skipped = json.loads(stdout.strip().splitlines()[-1]).get("skipped", [])
    except (ValueError, IndexError, AttributeError):
        return ""
    return "; ".join(f"skipped {Path(s['path']).name}: {s['reason']}" for s in skipped)


def _tree_rss(proc: psutil.Process) -> int:
    total = 0
    for p in [proc, *proc.children(recursive=True)]:
        try:
            total += p.memory_info().rss
        except psutil.Error:
            pass
    return total


def run_cmd(args, cmd: list[str], work: Path, kill_check=None) -> Run:
    """Run ``python -m mmrl_desktop *cmd``; ``kill_check(elapsed, out_path)`` → True kills it."""
    argv = [sys.executable, "-m", "mmrl_desktop", *cmd]
    out_path, err_path = work / "last.stdout", work / "last.stderr"
    with open(out_path, "wb") as out, open(err_path, "wb") as err:
        p = subprocess.Popen(
            argv, stdout=out, stderr=err, env=_env(args), cwd=args.code, start_new_session=True
        )
    t0 = time.monotonic()
    try:
        status, usage, peak, why = _supervise(args, p.pid, out_path, kill_check)
    except BaseException:  # interrupted (Ctrl+C, SIGTERM): leave no command running
        os.killpg(p.pid, signal.SIGKILL)
        os.waitpid(p.pid, 0)
        raise
    p.returncode = os.waitstatus_to_exitcode(status)
    for child in _orphans(p.pid):  # a grandchild that outlived the group leader
        child.kill()
    peak_mb = max(peak / 2**20, usage.ru_maxrss / 1024)
    return Run(
        argv=cmd,
        rc=None if why else p.returncode,
        outcome=why or f"exit {p.returncode}",
        seconds=round(time.monotonic() - t0, 2),
        peak_mb=round(peak_mb, 1),
        stdout=out_path.read_text(errors="replace"),
        stderr=err_path.read_text(errors="replace"),
    )


def _supervise(args, pid_: int, out_path: Path, kill_check):
    """Poll the process tree until it exits; kill it on ``kill_check``, timeout or RSS cap.
    Returns (wait status, rusage, peak tree RSS in bytes, why it was killed or None)."""
    proc, t0, peak, why = psutil.Process(pid_), time.monotonic(), 0, None
    cap = args.rss_cap_mb * 2**20
    while True:
        pid, status, usage = os.wait4(pid_, os.WNOHANG if why is None else 0)
        if pid:
            break
        elapsed = time.monotonic() - t0
        try:
            peak = max(peak, _tree_rss(proc))
        except psutil.Error:
            pass
        if kill_check is not None and kill_check(elapsed, out_path):
            why = f"killed (kill -9 at {elapsed:.1f} s)"
        elif elapsed > args.timeout:
            why = f"hung (killed after {args.timeout:.0f} s)"
        elif peak > cap:
            why = f"> {args.rss_cap_mb} MB, killed"
        if why is not None:
            os.killpg(pid_, signal.SIGKILL)
        else:
            time.sleep(0.02)
    return status, usage, peak, why


def _orphans(pgid: int) -> list[psutil.Process]:
    found = []
    for p in psutil.process_iter(["pid"]):
        try:
            if os.getpgid(p.pid) == pgid:
                found.append(p)
        except (ProcessLookupError, psutil.Error):
            pass
    return found


# ------------------------------------------------------------------ project checks
def db_check(project: Path) -> dict:
    """integrity_check, event ids and item count of ``feedback.sqlite`` (a second connection)."""
    db = project / "feedback.sqlite"
    if not db.exists():
        return {"exists": False, "integrity": "no database", "events": set(), "items": 0}
    conn = sqlite3.connect(str(db), timeout=30)
    try:
        integrity = conn.execute("PRAGMA integrity_check").fetchone()[0]
        events = {r[0] for r in conn.execute("SELECT event_id FROM events")}
        items = conn.execute("SELECT labels FROM items").fetchall()
    except sqlite3.DatabaseError as err:
        return {"exists": True, "integrity": f"error: {err}", "events": set(), "items": 0}
    finally:
        conn.close()
    labels = {v for (raw,) in items for v in json.loads(raw).values() if v is not None}
    return {"exists": True, "integrity": integrity, "events": events, "items": len(items),
            "labels": labels}  # fmt: skip


def toml_labels(project: Path) -> set[str] | None:
    import tomllib

    try:
        data = tomllib.loads((project / "project.toml").read_text())
    except (OSError, ValueError):
        return None
    return {lab for t in data.get("tasks", []) for lab in t.get("labels", [])}


def temp_files(folder: Path) -> list[str]:
    if not folder.exists():
        return []
    return sorted(
        str(p.relative_to(folder))
        for p in folder.rglob("*")
        if p.name.endswith((".tmp", ".partial")) or p.name.startswith(".tmp")
    )


def opens(args, project: Path, work: Path) -> Run:
    return run_cmd(args, ["evaluate", "--project", str(project), "--json"], work)


# ------------------------------------------------------------------ kill -9 loops
def simulate_kills(args, project: Path, work: Path, n: int, trials: list[dict]) -> list[dict]:
    for i in range(n):
        # killed 0.1–1 s after its first "ack" line, while it answers and trains (~1,000-3,000
        # answers a second here; evaluate's time grows with the log: >100 s at 45,000 answers)
        check, _ = _kill_after(lambda out: out.stat().st_size > 0, random.uniform(0.1, 1.0))
        r = run_cmd(args, ["simulate", "--project", str(project), "--clicks", "1000000",
                           "--seed", str(i)], work, kill_check=check)  # fmt: skip
        done = r.stdout.split("\n")[:-1]  # whole lines only: a cut last line is not an ack
        acked = {int(ln.split()[1]) for ln in done if ln.startswith("ack ")}
        db = db_check(project)
        ev = opens(args, project, work)
        trials.append({
            "kill": i, "outcome": r.outcome, "acknowledged": len(acked),
            "lost": len(acked - db["events"]), "integrity": db["integrity"],
            "opens": ev.one_sentence, "open_outcome": f"{ev.outcome}: {ev.first_err}",
            "tail": ev.tail,
            "temp_files": temp_files(project),
        })  # fmt: skip
        print(f"simulate kill {i}: {r.outcome}, ack {len(acked)}, lost {trials[-1]['lost']}",
              file=sys.stderr)  # fmt: skip
    return trials


def import_kills(args, source: Path, work: Path, n: int, trials: list[dict]) -> list[dict]:
    ref_project = work / "p-ref"
    check, seen = _kill_after(lambda _o: (ref_project / "feedback.sqlite").exists())
    cmd = ["import", str(source), "--project", str(ref_project), "--json"]
    ref = run_cmd(args, cmd, work, kill_check=check)
    expected = json.loads(ref.stdout)["items"] if ref.rc == 0 else None
    # Killed while writing: a random moment between the database's creation and the end
    # (a kill while only scanning the source writes nothing).
    phase = max(ref.seconds - seen.get("t", 0.0), 0.05) * 1.2
    for i in _attempts(trials, n):
        project = work / f"p-import-{i}"
        cmd = ["import", str(source), "--project", str(project), "--json"]
        check, _ = _kill_after(
            lambda _o, db=project / "feedback.sqlite": db.exists(), random.uniform(0, phase)
        )
        r = run_cmd(args, cmd, work, kill_check=check)
        db, labels = db_check(project), toml_labels(project)
        orphan = sorted(db.get("labels", set()) - (labels or set()))
        ev = opens(args, project, work)
        temps = temp_files(project)
        again = run_cmd(args, cmd, work)
        after = db_check(project)
        trials.append({
            "kill": i, "outcome": r.outcome, "items_at_kill": db["items"],
            "integrity": db["integrity"], "labels_missing_from_toml": orphan,
            "opens": ev.one_sentence, "open_outcome": f"{ev.outcome}: {ev.first_err}",
            "tail": ev.tail,
            "temp_files": temps, "reimport": again.outcome,
            "reimport_ok": again.rc == 0 and after["items"] == expected,
            "temp_files_after_reimport": temp_files(project),
        })  # fmt: skip
        print(f"import kill {i}: {r.outcome}, items {db['items']}", file=sys.stderr)
        shutil.rmtree(project, ignore_errors=True)
    return trials


def _kill_after(condition, delay: float = float("inf")):
    """A ``kill_check`` that kills ``delay`` s after ``condition(stdout_path)`` first held
    (noted in ``seen["t"]``); with the default delay it only watches."""
    seen: dict = {}

    def check(elapsed, out_path) -> bool:
        if "t" not in seen and condition(out_path):
            seen["t"] = elapsed
        return "t" in seen and elapsed >= seen["t"] + delay

    return check, seen


def _attempts(trials: list[dict], n: int):
    """Attempt numbers until ``n`` trials were really killed (a run may finish first)."""
    i = 0
    while sum(t["outcome"].startswith("killed") for t in trials) < n and i < 3 * n:
        yield i
        i += 1


def _lines(path: Path) -> int | None:
    return len(path.read_bytes().splitlines()) if path.is_file() else None


def check_export(fmt: str, path: Path, lines: int | None = None) -> str:
    """'absent', 'complete', or what is wrong with the final file."""
    if not path.exists():
        return "absent"
    if fmt == "tensorboard":
        files = [p for p in path.rglob("*") if p.is_file()]
        return "complete" if files and all(p.stat().st_size for p in files) else "partial"
    if path.stat().st_size == 0:
        return "0-byte"
    try:
        if fmt == "torchscript":
            import zipfile

            with zipfile.ZipFile(path) as z:
                return "corrupt" if z.testzip() else "complete"
        if fmt == "onnx":
            import onnxruntime

            onnxruntime.InferenceSession(str(path), providers=["CPUExecutionProvider"])
        elif fmt == "feedback-jsonl":
            for line in path.read_text().splitlines():
                json.loads(line)
        elif fmt == "feedback-csv" and not path.read_text().endswith("\n"):
            return "corrupt"
        if lines is not None and fmt.startswith("feedback") and _lines(path) != lines:
            return f"{_lines(path)} lines, not {lines}"
    except Exception as err:  # noqa: BLE001 - any failure to read is the finding
        return f"corrupt ({type(err).__name__})"
    return "complete"


def export_kills(args, project: Path, work: Path, fmt: str, n: int, trials: list[dict]) -> list:
    name = EXPORT_FORMATS[fmt]
    ref_dir = work / f"ref-{fmt}"
    ref_dir.mkdir()
    check, seen = _kill_after(lambda _o: any(ref_dir.iterdir()))
    ref = run_cmd(args, ["export", "--project", str(project), "--format", fmt,
                         "--out", str(ref_dir / name)], work, kill_check=check)  # fmt: skip
    if ref.rc != 0:
        trials.append({"kill": None, "outcome": f"reference export failed: {ref.first_err}"})
        return trials
    writing = max(ref.seconds - seen.get("t", ref.seconds), 0.05) * 0.8
    lines, fastest = _lines(ref_dir / name), ref.seconds  # the first run is the slowest
    for i in _attempts(trials, n):
        folder = work / f"export-{fmt}-{i}"
        folder.mkdir()
        cmd = ["export", "--project", str(project), "--format", fmt, "--out", str(folder / name)]
        if i % 2:  # while writing: a random moment after its first file appears
            check, _ = _kill_after(
                lambda _o, f=folder: any(f.iterdir()), random.uniform(0, writing)
            )
        else:  # anywhere in the later part of its run
            check, _ = _kill_after(lambda _o: True, random.uniform(0.4, 0.95) * fastest)
        r = run_cmd(args, cmd, work, kill_check=check)
        final, temps = check_export(fmt, folder / name, lines), temp_files(folder)
        again = run_cmd(args, cmd, work)
        fastest = min(fastest, again.seconds) if again.rc == 0 else fastest
        trials.append({
            "kill": i, "outcome": r.outcome, "final_after_kill": final, "temp_files": temps,
            "next_export": again.outcome, "next_ok": again.rc == 0
            and check_export(fmt, folder / name, lines) == "complete",
            "temp_files_after_next": temp_files(folder),
        })  # fmt: skip
        print(f"export {fmt} kill {i}: {r.outcome}, final {final}, temps {temps}", file=sys.stderr)
        shutil.rmtree(folder, ignore_errors=True)
    return trials


def run_kills(args, work: Path) -> dict:
    source = work / "src3000"
    build_source(source, args.files, 10)
    sim = work / "p-sim"
    base = run_cmd(args, ["import", str(source), "--project", str(sim)], work)
    assert base.rc == 0, base.stderr
    result = args.result.setdefault("kills", {})  # filled as it goes: a stopped run keeps it
    if "simulate" in args.only:
        simulate_kills(args, sim, work, args.kills, result.setdefault("simulate", []))
    if "import" in args.only:
        import_kills(args, source, work, args.kills, result.setdefault("import", []))
    if "exports" not in args.only:
        return result
    run_cmd(args, ["simulate", "--project", str(sim), "--clicks", "1000"], work)
    run_cmd(args, ["train", "--project", str(sim), "--steps", "20"], work)  # a checkpoint
    for fmt in args.formats:
        trials = result.setdefault(f"export {fmt}", [])
        export_kills(args, sim, work, fmt, args.export_kills, trials)
    return result


# ------------------------------------------------------------------ crafted inputs
def _catch_up(args) -> list[str]:
    """``--max-catch-up 50`` where train has it (not in older trees): 20 answers owe ~30 s of
    updates on this CPU otherwise; the crafted files are read either way."""
    cli = Path(args.code or HERE.parent) / "mmrl_desktop" / "cli.py"
    return ["--max-catch-up", "50"] if "max-catch-up" in cli.read_text() else []


def run_crafted(args, work: Path, rows: list[dict]) -> list[dict]:
    """import, simulate, train, evaluate on a project holding the crafted file; predict (the file,
    then its folder) with a clean control project, so predict is tried even if import failed."""
    control = work / "control"
    write_small_items(work / "control-src")
    run_cmd(args, ["import", str(work / "control-src"), "--project", str(control)], work)
    for key, (what, make) in CRAFTED.items():
        if args.inputs and key not in args.inputs:
            continue
        case = work / f"crafted-{key}"
        source, project = case / "src", case / "project"
        write_small_items(source)
        target = make(source / "class0")
        on = ["--project", str(project)]
        cmds = {
            "import": ["import", str(source), *on, "--json"],
            "simulate": ["simulate", *on, "--clicks", "20"],
            "train": ["train", *on, "--steps", "10", *_catch_up(args)],
            "evaluate": ["evaluate", *on, "--json"],
            "predict": ["predict", str(target), "--project", str(control), "--json"],
            "predict-folder": ["predict", str(target.parent), "--project", str(control), "--json"],
        }
        for command in COMMANDS:
            r = run_cmd(args, cmds[command], work)
            rows.append({
                "input": key, "what": what, "command": command, "outcome": r.outcome,
                "rc": r.rc, "peak_mb": r.peak_mb, "seconds": r.seconds,
                "first_stderr": r.first_err, "traceback": r.traceback, "tail": r.tail,
                "skipped": _skipped(r.stdout) if command[0] in "ip" else "",
            })  # fmt: skip
            print(f"{key} {command}: {r.outcome} {r.peak_mb:.0f} MB {r.first_err[:80]}",
                  file=sys.stderr)  # fmt: skip
        shutil.rmtree(case, ignore_errors=True)
    return rows


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--kills", type=int, default=20, help="kills of simulate and of import")
    p.add_argument("--export-kills", type=int, help="kills of each export (default kills/2)")
    p.add_argument("--formats", default=",".join(EXPORT_FORMATS))
    p.add_argument("--files", type=int, default=3000, help="files in the import source")
    p.add_argument("--inputs", help="comma-separated crafted inputs (default: all)")
    p.add_argument(
        "--only",
        default="",
        help="comma-separated: simulate, import, exports, kills (all three), rss",
    )
    p.add_argument("--timeout", type=float, default=120.0)
    p.add_argument("--rss-cap-mb", type=int, default=3072)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--json", help="write the results here")
    p.add_argument(
        "--code", type=Path, help="run the package from this folder (e.g. an old commit)"
    )
    p.add_argument("--keep", action="store_true", help="keep the work folder (debugging)")
    args = p.parse_args(argv)
    args.formats = [f for f in args.formats.split(",") if f]
    args.inputs = [i for i in (args.inputs or "").split(",") if i]
    args.export_kills = args.export_kills or max(1, args.kills // 2)
    random.seed(args.seed)
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))  # clean up on kill <pid>
    work = Path(tempfile.mkdtemp(prefix="mmrl-reliability-"))
    code = args.code or HERE.parent
    git = ["git", "-C", str(code), "describe", "--always", "--dirty"]
    commit = subprocess.run(git, capture_output=True, text=True).stdout.strip()
    result = {
        "commit": commit or None,
        "code": str(code),
        "date": time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime()),
        "argv": sys.argv[1:],
        "cpu_count": os.cpu_count(),
    }
    args.only = {o for o in args.only.split(",") if o} or {"kills", "rss"}
    if "kills" in args.only:
        args.only |= {"simulate", "import", "exports"}
    args.result, t0 = result, time.monotonic()
    try:
        if args.only & {"simulate", "import", "exports"}:
            run_kills(args, work)
            print("\n" + kill_table(result["kills"]) + "\n")
        if "rss" in args.only:
            result["crafted"] = []
            run_crafted(args, work, result["crafted"])
            print("\n" + crafted_tables(result["crafted"]) + "\n")
    finally:
        result["seconds"] = round(time.monotonic() - t0, 1)
        if args.json:
            Path(args.json).write_text(json.dumps(result, indent=1, default=sorted) + "\n")
        if args.keep:
            print(f"work folder kept: {work}", file=sys.stderr)
        else:
            shutil.rmtree(work, ignore_errors=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
