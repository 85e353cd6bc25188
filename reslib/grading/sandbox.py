"""The sandboxed kernel: bubblewrap around ``ipykernel``, with resource limits, unprivileged.

nbgrader starts kernels from a kernel spec; the grading tool gives it one (``reslib-sandbox``)
whose command is this module's launcher::

    python -m reslib.grading.sandbox SETTINGS.json {connection_file} [kernel arguments...]

The launcher runs as the grader (root in CI, or an ordinary user), reads its settings, prepares
the sandbox's writable folders, drops privileges (as root: to a fresh, otherwise unused uid/gid),
sets the resource limits and ``exec``s ``bwrap``, which runs ``ipykernel`` with

* read-only binds of the system folders, the Python installation, the virtual environment and
  the ``reslib`` package: nothing else of the machine (no course directory, no gradebook, no
  classmates, no real home directory or IPython profile);
* a private tmpfs ``/tmp`` and home directory, a fresh ``IPYTHONDIR``;
* one writable folder, the submission's scratch copy, bound where nbgrader runs the notebook;
* ``--unshare-all`` (no network, own PID/IPC/UTS namespaces), ``--die-with-parent``,
  ``--new-session``, and a clean environment.

The kernel talks to nbgrader over Unix sockets (``KernelManager.transport = "ipc"``) in a folder
bound into the sandbox, so it needs no network. Interrupts are sent as messages.
"""

from __future__ import annotations

import importlib.util
import json
import os
import resource
import shutil
import subprocess
import sys
from dataclasses import asdict, dataclass
from pathlib import Path

KERNEL_NAME = "reslib-sandbox"
SANDBOX_HOME = "/home/student"
SYSTEM_FOLDERS = ("/usr", "/bin", "/sbin", "/lib", "/lib32", "/lib64", "/libx32")
ETC_FILES = ("ld.so.cache", "ld.so.conf", "ld.so.conf.d", "localtime", "fonts", "alternatives",
             "mime.types", "passwd", "group", "nsswitch.conf", "hosts")
PASSED_ENVIRONMENT = ("KERAS_BACKEND", "TF_CPP_MIN_LOG_LEVEL", "PYTHONWARNINGS", "MPLBACKEND",
                      "OMP_NUM_THREADS", "LANG", "LC_ALL", "TZ")
PASSED_PREFIXES = ("RESLIB_",)
UID_BASE = 1_500_000_000
"""As root, each sandbox runs as ``UID_BASE + pid`` of its grading process: a uid no other
process uses, so its processes can be found (and ended) and it owns nothing outside."""
INSTALL_HINT = ("install bubblewrap: `sudo apt-get install -y bubblewrap` (Debian/Ubuntu; "
                "`make grading-sandbox` does it when run as root)")


@dataclass(frozen=True)
class Limits:
    """Per-kernel limits (issue 14): memory, CPU time, file size, processes, and wall clock.

    ``memory`` is ``RLIMIT_DATA`` (private writable memory: the heap, ``mmap`` allocations and
    thread stacks). ``RLIMIT_AS`` is not used: TensorFlow reserves about 3 GiB of address space
    for under 1 GiB resident, so an address-space limit of 3 GiB fails honest notebooks.
    ``wall`` is the whole notebook's time; ``cell`` nbgrader's per-cell timeout.
    """

    memory: int = 3 * 2**30
    cpu_seconds: int = 900
    file_size: int = 512 * 2**20
    processes: int = 512
    wall: int = 600
    cell: int = 300

    def __post_init__(self) -> None:
        for name, value in asdict(self).items():
            if not isinstance(value, int) or value <= 0:
                raise ValueError(f"Limits.{name} must be a positive integer; got {value!r}.")


def parse_size(text: str) -> int:
    """``"3GiB"`` / ``"512MiB"`` / ``"2G"`` / ``"1000000"`` -> bytes."""
    units = {"": 1, "K": 2**10, "M": 2**20, "G": 2**30, "T": 2**40}
    cleaned = text.strip().upper().removesuffix("B").removesuffix("I")
    number, unit = (cleaned[:-1], cleaned[-1]) if cleaned[-1:] in units and cleaned[-1:] else (
        cleaned, "")
    try:
        value = float(number) * units[unit]
    except (ValueError, KeyError):
        raise ValueError(f"--memory must be a size such as 3GiB, 512MiB or 2G; got {text!r}.")
    if value < 256 * 2**20:
        raise ValueError(f"--memory must be at least 256MiB (a kernel needs that); got {text!r}.")
    return int(value)


def sandbox_uid() -> int | None:
    """The uid the sandbox of this process runs as (root only); ``None`` for ordinary users."""
    return UID_BASE + os.getpid() if os.geteuid() == 0 else None


def reslib_folder() -> str:
    """Where the ``reslib`` package is, found without importing it (importing loads Keras)."""
    spec = importlib.util.find_spec("reslib")
    if spec is None or not spec.submodule_search_locations:
        raise RuntimeError("reslib is not installed in this environment: the kernel needs it.")
    return str(Path(list(spec.submodule_search_locations)[0]).resolve())


def python_folders(package: str) -> list[str]:
    """The folders the kernel's Python needs read-only: installation, venv, ``reslib``."""
    folders = {sys.base_prefix, sys.prefix, package}
    inside_system = [folder for folder in folders
                     if any(folder == top or folder.startswith(top + "/")
                            for top in SYSTEM_FOLDERS)]
    return sorted(folder for folder in folders if folder not in inside_system)


def namespaces(uid: int | None) -> list[str]:
    """``--unshare-all`` for an ordinary user. Root runs bwrap privileged (it mounts, then the
    kernel drops to ``uid`` with ``setpriv``), in every namespace but a user namespace: in one,
    root's sandbox uid would map back to uid 0 outside."""
    if uid is None:
        return ["--unshare-all"]
    return ["--unshare-ipc", "--unshare-pid", "--unshare-net", "--unshare-uts",
            "--unshare-cgroup-try"]


def unprivileged(uid: int | None) -> list[str]:
    """The command prefix that makes the kernel ``uid``, without groups or capabilities."""
    if uid is None:
        return []
    return ["setpriv", f"--reuid={uid}", f"--regid={uid}", "--clear-groups",
            "--inh-caps=-all", "--bounding-set=-all", "--no-new-privs"]


def _bind(source: str, target: str, writable: bool = False, made: set | None = None) -> list[str]:
    """Bind ``source`` on ``target``; its missing parents are made 0755 first (privileged
    bwrap would make them 0700, which the unprivileged kernel could not enter)."""
    arguments = []
    for parent in reversed(Path(target).parents):
        if str(parent) not in ("/", "/tmp") and made is not None and str(parent) not in made:
            made.add(str(parent))
            arguments += ["--perms", "0755", "--dir", str(parent)]
    return [*arguments, "--bind" if writable else "--ro-bind", source, target]


def bwrap_arguments(scratch: str, runtime: str, workdir: str, package: str,
                    uid: int | None) -> list[str]:
    """``bwrap`` options: what the kernel sees (see the module docstring)."""
    arguments = [*namespaces(uid), "--die-with-parent", "--new-session", "--clearenv",
                 "--proc", "/proc", "--dev", "/dev", "--perms", "1777", "--tmpfs", "/tmp",
                 "--perms", "0755", "--tmpfs", "/home", "--perms", "0777", "--dir", SANDBOX_HOME]
    made = {"/home", SANDBOX_HOME}
    for folder in SYSTEM_FOLDERS:
        if os.path.islink(folder):
            arguments += ["--symlink", os.readlink(folder), folder]
        elif os.path.isdir(folder):
            arguments += _bind(folder, folder, made=made)
    for name in ETC_FILES:
        if os.path.exists(f"/etc/{name}"):
            arguments += _bind(f"/etc/{name}", f"/etc/{name}", made=made)
    for folder in python_folders(package):
        arguments += _bind(folder, folder, made=made)
    arguments += [*_bind(runtime, runtime, True, made), *_bind(scratch, workdir, True, made),
                  "--chdir", workdir]
    environment = {
        "HOME": SANDBOX_HOME, "USER": "student", "IPYTHONDIR": f"{SANDBOX_HOME}/.ipython",
        "MPLCONFIGDIR": "/tmp/matplotlib", "JUPYTER_RUNTIME_DIR": runtime, "TMPDIR": "/tmp",
        "PATH": os.pathsep.join([str(Path(sys.executable).parent), "/usr/local/bin", "/usr/bin",
                                 "/bin"]),
        "PYTHONNOUSERSITE": "1", "PYTHONDONTWRITEBYTECODE": "1",
    }
    for name, value in os.environ.items():
        if name in PASSED_ENVIRONMENT or name.startswith(PASSED_PREFIXES):
            environment.setdefault(name, value)
    for name, value in environment.items():
        arguments += ["--setenv", name, value]
    return arguments


def set_limits(limits: Limits) -> None:
    """Apply ``limits`` to this process (inherited by everything it starts)."""
    for which, value in ((resource.RLIMIT_DATA, limits.memory),
                         (resource.RLIMIT_CPU, limits.cpu_seconds),
                         (resource.RLIMIT_FSIZE, limits.file_size),
                         (resource.RLIMIT_NPROC, limits.processes),
                         (resource.RLIMIT_CORE, 0)):
        resource.setrlimit(which, (value, value))


def copy_into_scratch(workdir: Path, scratch: Path) -> None:
    """The assignment's other files (data, modules) from nbgrader's folder, not its notebooks."""
    for item in workdir.iterdir():
        target = scratch / item.name
        if item.suffix == ".ipynb" or target.exists():
            continue
        if item.is_dir():
            shutil.copytree(item, target)
        else:
            shutil.copy2(item, target)


def write_kernel_spec(jupyter_path: Path, launcher: Path, settings_path: Path) -> Path:
    """``JUPYTER_PATH/kernels/reslib-sandbox/kernel.json``: the launcher as the kernel command.

    ``launcher`` is a copy of this file, run by path in isolated mode (``python -I``): it
    imports the standard library only, not ``reslib`` (whose import loads Keras, seconds and
    hundreds of MiB per notebook)."""
    folder = jupyter_path / "kernels" / KERNEL_NAME
    folder.mkdir(parents=True, exist_ok=True)
    spec = {"argv": [sys.executable, "-I", str(launcher), str(settings_path),
                     "{connection_file}"],
            "display_name": "Python 3 (sandboxed grading)", "language": "python",
            "interrupt_mode": "message", "metadata": {"debugger": False}}
    (folder / "kernel.json").write_text(json.dumps(spec, indent=1))
    return folder


def write_settings(path: Path, scratch: Path, runtime: Path, limits: Limits,
                   sandbox: bool) -> Path:
    """The launcher's settings (JSON): folders, limits, and whether to sandbox at all."""
    path.write_text(json.dumps({"scratch": str(scratch), "runtime": str(runtime),
                                "package": reslib_folder(), "uid": sandbox_uid(),
                                "limits": asdict(limits), "sandbox": sandbox}))
    return path


def launch(settings_path: str, connection_file: str, extra: list[str]) -> None:
    """The kernel command: prepare, drop privileges, limit, and ``exec`` bwrap + ipykernel."""
    settings = json.loads(Path(settings_path).read_text())
    limits = Limits(**settings["limits"])
    kernel = [sys.executable, "-m", "ipykernel_launcher", "-f", connection_file, *extra]
    if not settings["sandbox"]:
        set_limits(limits)
        os.execv(sys.executable, kernel)
    scratch, runtime, workdir = Path(settings["scratch"]), Path(settings["runtime"]), Path.cwd()
    copy_into_scratch(workdir, scratch)
    uid = settings["uid"]
    command = ["bwrap", *bwrap_arguments(str(scratch), str(runtime), str(workdir),
                                         settings["package"], uid),
               "--", *unprivileged(uid), *kernel]
    if uid is not None:
        for path in [runtime, connection_file, *scratch.rglob("*"), scratch]:
            os.lchown(path, uid, uid)
    set_limits(limits)
    os.execvp("bwrap", command)


def check_available() -> None:
    """Raise ``RuntimeError`` with what to do when bubblewrap cannot run a sandbox here."""
    if shutil.which("bwrap") is None:
        raise RuntimeError(f"the sandbox needs bubblewrap (`bwrap`), which is not installed: "
                           f"{INSTALL_HINT}; or pass --no-sandbox to grade without it (unsafe: "
                           "student code then sees your course directory).")
    uid = sandbox_uid()
    probe = ["bwrap", *namespaces(uid), "--die-with-parent", "--ro-bind", "/", "/", "--",
             *unprivileged(uid), "true"]
    done = subprocess.run(probe, capture_output=True, text=True)
    if done.returncode != 0:
        raise RuntimeError(
            f"bubblewrap is installed but cannot create a sandbox here ({done.stderr.strip()}): "
            "unprivileged user namespaces must be enabled (`sysctl kernel.unprivileged_userns_"
            "clone=1`; in a container, one whose seccomp profile allows them); or pass "
            "--no-sandbox to grade without it (unsafe).")


if __name__ == "__main__":
    launch(sys.argv[1], sys.argv[2], sys.argv[3:])
