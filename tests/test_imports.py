import subprocess
import sys


def test_engine_sandboxes_and_memory_never_import_textual():
    code = ("import sys, engine, engine.run, engine.cli, engine.headless, engine.toolbox, "
            "engine.brains.scripted, sandboxes, sandboxes.local, memory.store, memory.files\n"
            "import sandboxes.docker\n"
            "bad = [m for m in sys.modules if m == 'textual' or m.startswith('textual.')]\n"
            "print(bad); sys.exit(1 if bad else 0)")
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert proc.returncode == 0, proc.stdout + proc.stderr
