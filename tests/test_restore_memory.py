"""restore_registry reads a backup as it loads it: a backup ten times the registry's size restores within a fixed
memory budget, measured as the peak resident memory of the command, run as an operator runs it."""

import json
import os
import secrets
import subprocess
import sys
from pathlib import Path

BASE_DIR = Path(__file__).resolve().parent.parent
# The budget: restoring a backup ten times the registry's size (7.8 MB of JSON) may take at most this much more
# memory at its peak than restoring an empty backup (the same process, loading nothing), and this much in all.
# Seen: 5 MB more (64 → 69 MB), as for the registry's own backup; reading the whole file at once took 29 MB more.
GROWTH_BUDGET_MB = 12
TOTAL_BUDGET_MB = 120

PEAK = (
    "import resource, subprocess, sys; subprocess.run(sys.argv[1:], check=True, stdout=subprocess.DEVNULL); "
    "print(resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss)"
)


def test_a_backup_ten_times_the_registry_restores_within_a_fixed_memory_budget(tmp_path):
    environment = {key: value for key, value in os.environ.items() if not key.startswith("DATABASE_")}
    environment.update(
        DATABASE_URL=f"sqlite:///{tmp_path / 'registry.sqlite3'}",
        DEBUG="0",  # as in production: no query log growing with every statement
        SECRET_KEY=secrets.token_urlsafe(50),
        LOG_LEVEL="WARNING",
    )

    def manage(*args):
        subprocess.run([sys.executable, "manage.py", *args], cwd=BASE_DIR, env=environment, check=True, timeout=300)

    def peak_mb(*args):
        """Peak resident memory of `manage.py args` in MB (ru_maxrss of a process whose only child it is)."""
        result = subprocess.run(
            [sys.executable, "-c", PEAK, sys.executable, "manage.py", *args],
            cwd=BASE_DIR,
            env=environment,
            capture_output=True,
            text=True,
            timeout=600,
        )
        assert result.returncode == 0, result.stderr[-3000:]
        return int(result.stdout) / 1024

    manage("migrate", "--noinput", "-v0")
    manage("load_initial_data")
    registry = tmp_path / "registry.json"
    manage("backup_registry", str(registry))

    # Ten times the registry: its trials' history records again and again under new keys, as years of edits add.
    entries = json.loads(registry.read_text())
    history = [entry for entry in entries if entry["model"] == "trials.historicaltrial"]
    next_key = max(entry["pk"] for entry in history) + 1
    target, size = 10 * len(registry.read_text()), len(registry.read_text())
    while size < target:
        for entry in history:
            copy = {**entry, "pk": next_key}
            entries.append(copy)
            size += len(json.dumps(copy)) + 2
            next_key += 1
    big = tmp_path / "ten-times.json"
    big.write_text(json.dumps(entries))
    assert len(big.read_text()) >= 10 * len(registry.read_text())
    del entries, history

    empty = tmp_path / "empty.json"
    empty.write_text("[]")
    empty_peak = peak_mb("restore_registry", "--replace", str(empty))
    big_peak = peak_mb("restore_registry", "--replace", str(big))
    figures = f"peak {big_peak:.0f} MB for ten times the registry, {empty_peak:.0f} MB for an empty backup"
    assert big_peak - empty_peak <= GROWTH_BUDGET_MB, figures
    assert big_peak <= TOTAL_BUDGET_MB, figures
