"""Student code tried as an attacker would, graded in the sandbox (real bubblewrap, real nbgrader).

Two honest students and one student per attack hand in the fixture lesson ``basics``; every
attack sits in the ``add`` answer (the ``normalise`` answer is left as its stub) and carries on
when a step fails, as a determined student would. Each must be stopped, score 0, be flagged with
its reason, and leave the course folder, the gradebook and the honest students' grades as they were.
"""

import ast
import contextlib
import hashlib
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
import threading
import uuid
from pathlib import Path

import pytest

from autograder.sandbox.bwrap import Sandbox, sandbox_problem
from autograder.sandbox.cgroups import GroupLimits, SandboxGroup
from tests.autograder.test_grading import auto_scores, make_course, record, run_cli
from tests.autograder_fixtures import students

pytestmark = [
    pytest.mark.sandbox,
    pytest.mark.skipif(bool(sandbox_problem(512)), reason=f"no sandbox here: {sandbox_problem(512)}"),
]

MARKER = f"autograder-attack-{uuid.uuid4().hex}"
ADD = 'def add(a, b):\n    """Return a + b."""\n'
# Each attack: its code (COURSE: the course folder, which a student could guess) and the reason expected.
ATTACKS = {
    "proc-snoop": (
        "import os\n"
        "found = []\n"
        "for pid in os.listdir('/proc'):\n"
        "    try:\n"
        "        found.append(os.readlink(f'/proc/{pid}/cwd'))\n"
        "        found.append(open(f'/proc/{pid}/cmdline').read())\n"
        "    except OSError:\n"
        "        pass\n"
        "for folder in found:\n"
        "    try:\n"
        "        print(open(os.path.join(folder, 'solutions/basics/basics.ipynb')).read())\n"
        "    except OSError:\n"
        "        pass\n"
        "print(found)\n",
        "looked at other processes",
    ),
    "write-outside": (
        "for path in ['COURSE/pwned.txt', 'COURSE/solutions/basics/pwned.txt', '/usr/pwned.txt']:\n"
        "    try:\n"
        "        open(path, 'w').write('pwned')\n"
        "    except OSError as error:\n"
        "        print(error)\n",
        "tried to reach the course's files",
    ),
    "read-neighbour": (
        "import glob, os\n"
        "paths = glob.glob('/tmp/autograder-*/*/submitted/*/*/*.ipynb') + glob.glob('/tmp/*/*/gradebook.db')\n"
        "for path in paths + ['COURSE/submitted/neighbour/basics/basics.ipynb', 'COURSE/gradebook.db']:\n"
        "    try:\n"
        "        print(open(path).read())\n"
        "        open(path, 'w').close()\n"
        "    except OSError as error:\n"
        "        print(error)\n",
        "tried to reach the course's files",
    ),
    "socket": (
        "import socket\n"
        "for address in [('1.1.1.1', 80), ('example.org', 443)]:\n"
        "    try:\n"
        "        socket.create_connection(address, timeout=2).sendall(b'answers please')\n"
        "    except OSError as error:\n"
        "        print(error)\n",
        "tried to use the network",
    ),
    "detached-process": (
        "import subprocess, sys, time\n"
        "sleeper = f'{sys.executable} -c \"import time; time.sleep(600)\" MARKER &'\n"
        "subprocess.Popen(['/bin/sh', '-c', sleeper], start_new_session=True).wait()\n"
        "time.sleep(1)\n",
        "started a process that detached from the kernel",
    ),
    "disk-fill": (
        "chunk = b'x' * 2**20\n"
        "try:\n"
        "    with open('fill.bin', 'wb') as fill:\n"
        "        while True:\n"
        "            fill.write(chunk)\n"
        "except OSError as error:\n"
        "    print(error)\n",
        "filled its disk",
    ),
    "connection-fill": (
        "import json, os, sys\n"
        "connection = sys.argv[sys.argv.index('-f') + 1]\n"
        "sockets = os.path.dirname(json.load(open(connection))['ip'])\n"
        "chunk = b'x' * 2**20\n"
        "places = [('connection', os.path.dirname(connection)), ('sockets', sockets)]\n"
        "for label, folder in places + [('shm', '/dev/shm'), ('dev', '/dev'), ('root', '/')]:\n"
        "    written = 0\n"
        "    try:\n"
        "        with open(os.path.join(folder, 'fill.bin'), 'wb') as fill:\n"
        "            while written < 4 * DISK_MB * 2**20:\n"
        "                written += fill.write(chunk)\n"
        "    except OSError:\n"
        "        pass\n"
        "    print('wrote', written, 'to', label)\n",
        "filled its disk",
    ),
    "privileges": (
        "import ctypes, glob, os, sys\n"
        "status = open('/proc/self/status').read()\n"
        "print('uid', os.getuid(), [line for line in status.splitlines() if line.startswith(('CapEff', 'CapBnd'))])\n"
        "libc = ctypes.CDLL(None, use_errno=True)\n"
        "for folder in [sys.prefix, *sys.path[1:]]:\n"
        "    remounted = libc.mount(None, folder.encode(), None, 0x20 | 0x1000, None)  # MS_REMOUNT | MS_BIND\n"
        "    print('remount', folder, remounted, ctypes.get_errno())\n"
        "for site in glob.glob(sys.prefix + '/lib/python3*/site-packages'):\n"
        "    try:\n"
        "        open(site + '/MARKER.pth', 'w').write('import os; os.system(\"touch /tmp/MARKER\")')\n"
        "    except OSError as error:\n"
        "        print(error)\n",
        "tried to write outside its folder",
    ),
    "descriptors": (
        "import os\n"
        "opened = set()\n"
        "for name in os.listdir('/proc/self/fd'):\n"
        "    try:\n"
        "        opened.add(os.readlink(f'/proc/self/fd/{name}').split(':')[0])\n"
        "    except OSError:\n"
        "        pass  # the listing's own descriptor, closed since\n"
        "print('open', sorted(opened), flush=True)\n"
        "import time; time.sleep(1)  # sent before the flood\n"
        "chunk = b'x' * 2**20\n"
        "for fd in [0, 1, 2]:\n"
        "    written = 0\n"
        "    try:\n"
        "        while written < 2 * DISK_MB * 2**20:\n"
        "            written += os.write(fd, chunk)\n"
        "    except OSError:\n"
        "        pass\n",
        None,  # nothing to name: what it writes goes nowhere
    ),
    "process-flood": (
        "import subprocess, sys, threading, time\n"
        "busy = [subprocess.Popen([sys.executable, '-c', 'while True: pass', 'MARKER']) for _ in range(24)]\n"
        "started = 0\n"
        "try:\n"
        "    for _ in range(4000):\n"
        "        threading.Thread(target=time.sleep, args=(30,), daemon=True).start()\n"
        "        started += 1\n"
        "except RuntimeError as error:\n"
        "    print(error)\n"
        "print('threads', started)\n"
        "time.sleep(3)\n",
        None,  # the control group stops it; the honest students graded beside it keep full marks
    ),
    "memory-tree": (
        "import subprocess, sys, time\n"
        "hog = ('import time; block = bytearray(700 * 2**20); block[::4096] = b\\'x\\' * len(block[::4096]); '\n"
        "       'print(\\'held\\', flush=True); time.sleep(30)')\n"
        "children = [subprocess.Popen([sys.executable, '-c', hog], stdout=subprocess.PIPE) for _ in range(4)]\n"
        "said = [child.stdout.readline().strip() == b'held' for child in children]\n"
        "time.sleep(1)\n"
        "held = sum(1 for child, held in zip(children, said) if held and child.poll() is None)  # alive at once\n"
        "print('children holding 700 MiB', held)\n",
        None,
    ),
    "result-flood": (
        "'x' * (50 * 2**20)\n",
        None,
    ),
}
DISK_MB = 64
SANDBOX_LIMITS = f"c.Sandbox.disk_mb = {DISK_MB}\n"


def with_attack(code):
    """The lesson with a wrong ``add`` followed by the attack, and ``normalise`` left as its stub."""
    stub = students.lesson().stub("normalise-answer")
    return students.answered(add_answer=f"{ADD}    return a - b\n\n{code}", normalise_answer=stub)


def tree_digest(folder, skip=("autograded", "feedback", "gradebook.db")):
    """{relative path: sha256} of every file under ``folder`` except the grading outputs (the
    gradebook, whose honest rows are compared instead) and backups."""
    digests = {}
    for path in sorted(folder.rglob("*")):
        relative = path.relative_to(folder)
        if path.is_file() and relative.parts[0] not in skip and ".backup-" not in path.name:
            digests[str(relative)] = hashlib.sha256(path.read_bytes()).hexdigest()
    return digests


def graded_cells(folder, student):
    """The sources and outputs of a graded notebook (its metadata holds execution times)."""
    nb = json.loads((folder / "autograded" / student / "basics" / "basics.ipynb").read_text())
    return [(cell["source"], cell.get("outputs")) for cell in nb["cells"]]


class HostFolderWatch(threading.Thread):
    """Samples, while grading runs, the largest size the kernels' private folders on the host reach."""

    def __init__(self):
        super().__init__(daemon=True)
        self.largest = 0
        self.folders = set()
        self.done = threading.Event()

    def run(self):
        while not self.done.wait(0.05):
            with contextlib.suppress(OSError):  # a kernel's folder went while it was read: sample again
                self.sample()

    def sample(self):
        size = 0
        self.folders.update(Path(tempfile.gettempdir()).glob("autograder-kernel-*"))
        for path in Path(tempfile.gettempdir()).glob("autograder-kernel-*/**/*"):
            with contextlib.suppress(OSError):
                size += path.stat().st_size if path.is_file() else 0
        self.largest = max(self.largest, size)

    def stop(self):
        self.done.set()
        self.join()
        return self.largest, len(self.folders)


def processes_with(marker):
    found = []
    for entry in os.listdir("/proc"):
        try:
            if entry.isdigit() and marker in Path(f"/proc/{entry}/cmdline").read_text(errors="replace"):
                found.append(entry)
        except OSError:
            continue
    return found


@pytest.fixture(scope="module")
def attacked(tmp_path_factory):
    folder = tmp_path_factory.mktemp("course")
    honest = {"neighbour": students.answered(), "correct": students.answered()}
    make_course(folder, honest)
    (folder / "nbgrader_config.py").write_text((folder / "nbgrader_config.py").read_text() + SANDBOX_LIMITS)
    code, text = run_cli("--course-dir", str(folder), "grade", "--jobs", "2")
    assert code == 0, text
    before = {name: (auto_scores(folder, name), record(folder, name)["flags"]) for name in honest}
    graded_before = {name: graded_cells(folder, name) for name in honest}
    for name, (attack, _) in ATTACKS.items():
        source = attack.replace("COURSE", str(folder)).replace("MARKER", MARKER).replace("DISK_MB", str(DISK_MB))
        students.write_submission(folder, name, "basics", with_attack(source))
    course_before = tree_digest(folder)
    host_folders = HostFolderWatch()
    host_folders.start()
    code, text = run_cli("--course-dir", str(folder), "grade", "--jobs", "2", "--force")
    host_folders_largest = host_folders.stop()
    assert code == 0, text
    assert len(text) < 2**20, f"the grader printed {len(text)} characters"  # nothing a kernel wrote reached it
    return folder, honest, before, graded_before, course_before, host_folders_largest


@pytest.mark.parametrize("attacker", sorted(ATTACKS))
def test_each_attack_is_stopped_scored_zero_and_flagged_with_its_reason(attacked, attacker):
    folder = attacked[0]
    assert set(auto_scores(folder, attacker).values()) == {0.0}
    if ATTACKS[attacker][1] is None:
        return
    flags = [flag for flag in record(folder, attacker)["flags"] if flag["code"] == "sandbox"]
    assert flags and all(flag["serious"] for flag in flags)
    expected = [flag for flag in flags if ATTACKS[attacker][1] in flag["message"]]
    assert expected and expected[0]["message"].startswith("add-answer: the sandbox stopped it: it "), flags


def test_nothing_of_the_course_reaches_an_attackers_outputs(attacked):
    folder = attacked[0]
    for attacker in ATTACKS:
        graded = json.loads((folder / "autograded" / attacker / "basics" / "basics.ipynb").read_text())
        outputs = json.dumps([cell.get("outputs", []) for cell in graded["cells"]])
        assert "autograder-" not in outputs.replace(MARKER, ""), attacker  # no grading job's folder was seen
        for secret in ("reference-solution", "BEGIN SOLUTION", "nbgrader_config", "gradebook.db"):
            assert secret not in outputs.replace(f"{folder}/gradebook.db", ""), (attacker, secret)


def test_course_folder_and_honest_grades_are_unchanged(attacked):
    folder, honest, before, graded_before, course_before, _ = attacked
    assert tree_digest(folder) == course_before
    assert not (folder / "pwned.txt").exists() and not Path("/usr/pwned.txt").exists()
    for name in honest:
        assert (auto_scores(folder, name), record(folder, name)["flags"]) == before[name]
        assert auto_scores(folder, name) == students.AUTO_POINTS
        assert graded_cells(folder, name) == graded_before[name], name


def test_writes_where_the_kernels_connection_lives_stay_within_the_disk_cap(attacked):
    """The kernel's connection file is on the host, read-only to it; its sockets are in its capped /tmp."""
    folder, *_, (host_folders_largest, host_folders_seen) = attacked
    graded = json.loads((folder / "autograded" / "connection-fill" / "basics" / "basics.ipynb").read_text())
    printed = "".join(
        "".join(output["text"]) for cell in graded["cells"] for output in cell.get("outputs", []) if "text" in output
    )
    written = {label: int(size) for size, label in re.findall(r"wrote (\d+) to (\w+)", printed)}
    assert written.keys() == {"connection", "sockets", "shm", "dev", "root"}, printed
    assert written["connection"] == written["dev"] == written["root"] == 0, written
    assert written["sockets"] > 0 and sum(written.values()) <= DISK_MB * 2**20, written
    assert host_folders_seen >= len(ATTACKS)  # every kernel's private folder was watched
    assert host_folders_largest < 2**20  # connection files and copies of the submissions' data files


def test_no_process_outlives_its_kernel(attacked):
    assert processes_with(MARKER) == []


def test_grading_stops_when_no_sandbox_can_be_set_up(tmp_path, monkeypatch):
    folder = make_course(tmp_path / "course", {"correct": students.answered()})
    monkeypatch.setenv("PATH", str(tmp_path / "no-bubblewrap-here"))
    sandbox_problem.cache_clear()
    try:
        code, text = run_cli("--course-dir", str(folder), "grade")
    finally:
        sandbox_problem.cache_clear()
    assert code != 0
    assert "bubblewrap is not installed" in text and "c.Sandbox.enabled = False" in text, text
    assert not (folder / "autograded").exists()


def test_opting_out_is_said_in_every_record(tmp_path):
    folder = make_course(tmp_path / "course", {"correct": students.answered()})
    config = folder / "nbgrader_config.py"
    config.write_text(config.read_text() + "c.Sandbox.enabled = False\n")
    code, text = run_cli("--course-dir", str(folder), "grade")
    assert code == 0, text
    assert auto_scores(folder, "correct") == students.AUTO_POINTS
    assert "unsandboxed" in {flag["code"] for flag in record(folder, "correct")["flags"]}
    shutil.rmtree(folder)


def control_groups_here():
    group = SandboxGroup.create(GroupLimits(processes=64, memory_bytes=0))
    if group is not None:
        group.remove()
    return group is not None


needs_control_groups = pytest.mark.skipif(not control_groups_here(), reason="no control groups can be made here")


def printed(folder, student):
    """The text outputs of a graded notebook's cells."""
    graded = json.loads((folder / "autograded" / student / "basics" / "basics.ipynb").read_text())
    return "".join("".join(output.get("text", "")) for cell in graded["cells"] for output in cell.get("outputs", []))


def test_the_kernel_has_no_privileges_and_cannot_remount(attacked):
    folder = attacked[0]
    text = printed(folder, "privileges")
    uid = int(re.search(r"uid (\d+)", text).group(1))
    # Graded as root, the kernel is a user of its own; else the grader's user.
    assert uid >= Sandbox().kernel_uid_base if os.geteuid() == 0 else uid == os.geteuid(), text
    assert "CapEff:\\t0000000000000000" in text, text
    remounts = re.findall(r"remount \S+ (-?\d+)", text)
    assert remounts and set(remounts) == {"-1"}, text
    planted = [path for path in Path(sys.prefix).glob("lib/python3*/site-packages/*.pth") if MARKER in path.name]
    assert not planted and not Path(f"/tmp/{MARKER}").exists()


def test_the_kernel_writes_nothing_through_inherited_descriptors(attacked):
    folder = attacked[0]
    text = printed(folder, "descriptors")
    # What it wrote to its standard output and error reached only its own capped output (the kernel
    # forwards them), never the grader's terminal or log (the fixture checks what the grader printed).
    assert "output-truncated" in {flag["code"] for flag in record(folder, "descriptors")["flags"]}
    opened = set(ast.literal_eval(re.search(r"open (\[.*\])", text).group(1)))
    # Its own sockets, pipes, event descriptors and /dev/null: no file or folder of the host.
    kernels_own = {"socket", "pipe", "anon_inode", "/dev/null"}
    assert all(path in kernels_own or path.startswith(("/tmp/", "/dev/pts/")) for path in opened), opened


@needs_control_groups
def test_a_process_flood_is_capped_and_costs_no_one_else_their_grade(attacked):
    folder, honest, *_ = attacked
    text = printed(folder, "process-flood")
    threads = re.search(r"threads (\d+)", text)
    assert threads and int(threads.group(1)) < 4000, text
    for name in honest:
        assert auto_scores(folder, name) == students.AUTO_POINTS


@needs_control_groups
def test_memory_is_capped_for_the_whole_sandbox(attacked):
    folder = attacked[0]
    held = re.search(r"children holding 700 MiB (\d+)", printed(folder, "memory-tree"))
    # 4 x 700 MiB under a 1,024 MiB per-process limit; the sandbox's group holds at most 1,024 + 64 MiB in all.
    assert held is None or int(held.group(1)) <= 1, printed(folder, "memory-tree")
    assert any(
        flag["code"] == "memory" and "memory cap stopped" in flag["message"]
        for flag in record(folder, "memory-tree")["flags"]
    )


@needs_control_groups
def test_a_group_counts_the_forks_its_process_cap_refused():
    group = SandboxGroup.create(GroupLimits(processes=8, memory_bytes=0))
    try:
        shell = "for i in $(seq 20); do sleep 5 & done 2>/dev/null"
        subprocess.run(group.join_command(["/bin/sh", "-c", shell]), check=False, timeout=30)
        assert group.caps_reached()["processes"] >= 1  # the shell's ninth fork was refused (and it gave up)
        assert group.caps_reached()["memory"] == 0
    finally:
        group.remove()


def test_every_kind_of_output_is_capped(attacked):
    folder = attacked[0]
    size = (folder / "autograded" / "result-flood" / "basics" / "basics.ipynb").stat().st_size
    assert size < 2**20, size
    assert "output-truncated" in {flag["code"] for flag in record(folder, "result-flood")["flags"]}
