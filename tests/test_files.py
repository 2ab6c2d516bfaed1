"""Writing files: checked first, atomic, never onto a special file, modes as the user expects."""

import os
import stat
import subprocess
import sys

import pytest

from l1_trainer.core.files.writing import TargetError, check_target, remove_stale_temps, write_atomic


@pytest.fixture()
def umask_027():
    old = os.umask(0o027)
    yield
    os.umask(old)


def test_new_file_honours_the_umask(tmp_path, umask_027):
    path = tmp_path / "new.csv"
    write_atomic(path, b"a,b\n")
    assert path.read_bytes() == b"a,b\n"
    assert stat.S_IMODE(path.stat().st_mode) == 0o640  # 0666 & ~027, not mkstemp's 0600


@pytest.mark.parametrize("mode", [0o644, 0o600, 0o664])
def test_replaced_file_keeps_its_mode(tmp_path, umask_027, mode):
    path = tmp_path / "old.csv"
    path.write_bytes(b"old")
    path.chmod(mode)
    write_atomic(path, b"new")
    assert path.read_bytes() == b"new" and stat.S_IMODE(path.stat().st_mode) == mode


def test_symlink_is_written_through_to_its_target(tmp_path):
    real = tmp_path / "models" / "real.safetensors"
    real.parent.mkdir()
    real.write_bytes(b"old")
    link = tmp_path / "link.safetensors"
    link.symlink_to(real)
    write_atomic(link, b"new")
    assert link.is_symlink() and real.read_bytes() == b"new"
    dangling = tmp_path / "dangling"
    dangling.symlink_to(tmp_path / "models" / "made.safetensors")
    write_atomic(dangling, b"made")
    assert (tmp_path / "models" / "made.safetensors").read_bytes() == b"made"


@pytest.mark.parametrize(("make", "message"), [
    (lambda p: p.mkdir(), "it is a folder"),
    (lambda p: os.mkfifo(p), "not a regular file"),
    (lambda p: p.symlink_to("/dev/null"), "device or system file"),
    (None, "the folder .* does not exist"),
])
def test_special_targets_are_refused_and_left_alone(tmp_path, make, message):
    path = tmp_path / "target" if make else tmp_path / "no" / "such" / "folder.csv"
    if make:
        make(path)
    kind = os.lstat(path).st_mode if make else None
    with pytest.raises(TargetError, match=message):
        check_target(path)
    with pytest.raises(TargetError, match=message):
        write_atomic(path, b"x")
    if make:
        assert os.lstat(path).st_mode == kind, "the special file was replaced"
    assert os.path.exists("/dev/null") and stat.S_ISCHR(os.stat("/dev/null").st_mode)


def test_folder_that_takes_no_files_is_refused(tmp_path, monkeypatch):
    def refuse(*args, **kwargs):
        raise PermissionError(13, "Permission denied")

    monkeypatch.setattr("tempfile.mkstemp", refuse)  # as root, chmod cannot make a folder read-only
    with pytest.raises(TargetError, match=r"cannot create files in .* \(Permission denied\)"):
        check_target(tmp_path / "m.safetensors")


def test_temp_files_of_killed_writers_are_removed(tmp_path):
    dead = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"],
                          capture_output=True, text=True).stdout.strip()
    target = tmp_path / "m.safetensors"
    stale = tmp_path / f".l1-trainer-{dead}-abc123.tmp"
    live = tmp_path / f".l1-trainer-{os.getppid()}-def456.tmp"  # a running process's
    other = tmp_path / f".m.safetensors.{dead}.x.tmp"  # not a name this app makes
    for path in (stale, live, other):
        path.write_bytes(b"x" * 1000)
    assert remove_stale_temps(tmp_path) == [stale]
    write_atomic(target, b"model")
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted([target.name, live.name, other.name])


def test_a_target_whose_name_looks_like_a_temp_of_another_is_safe(tmp_path):
    """Two runs saving `m.safetensors` and `m.safetensors.9` never take each other's files."""
    busy = tmp_path / f".l1-trainer-{os.getpid()}-inuse.tmp"  # this process is writing it
    busy.write_bytes(b"half")
    write_atomic(tmp_path / "m.safetensors", b"a")
    write_atomic(tmp_path / "m.safetensors.9", b"b")
    assert busy.exists()


def test_the_longest_file_name_still_works(tmp_path):
    name = "m" * 250 + ".csv"  # 254 bytes: the temporary file must not need more
    write_atomic(tmp_path / name, b"x")
    assert (tmp_path / name).read_bytes() == b"x"


@pytest.mark.parametrize(("text", "message"), [
    ("{tmp}/regular/", "ends with '/'"),
    ("{tmp}/missing/", "ends with '/'"),
    ("/dev/stdout", "device or system file"),
    ("/proc/self/environ", "device or system file"),
])
def test_names_that_are_not_plain_files_are_refused(tmp_path, text, message):
    (tmp_path / "regular").write_bytes(b"keep")
    with pytest.raises(TargetError, match=message):
        write_atomic(text.format(tmp=tmp_path), b"x")
    assert (tmp_path / "regular").read_bytes() == b"keep" and not (tmp_path / "missing").exists()


def test_no_room_is_found_before_the_work(tmp_path, monkeypatch):
    import shutil

    usage = shutil.disk_usage(tmp_path)
    monkeypatch.setattr("shutil.disk_usage", lambda path: usage._replace(free=1000))
    with pytest.raises(TargetError, match="5,000 bytes needed, 1,000 free"):
        check_target(tmp_path / "m.safetensors", size=5000)


def test_a_replaced_file_keeps_its_owner_but_never_set_user_id(tmp_path):
    path = tmp_path / "owned"
    path.write_bytes(b"old")
    path.chmod(0o4755)
    if os.geteuid() == 0:
        os.chown(path, 1234, 1234)
    write_atomic(path, b"new")
    info = path.stat()
    assert stat.S_IMODE(info.st_mode) == 0o755  # the permissions, without the set-user-ID bit
    if os.geteuid() == 0:
        assert (info.st_uid, info.st_gid) == (1234, 1234)


def test_a_file_nobody_may_write_is_refused_even_for_root(tmp_path):
    path = tmp_path / "locked.csv"
    path.write_bytes(b"keep")
    path.chmod(0o444)
    with pytest.raises(TargetError, match="read-only"):
        write_atomic(path, b"x")
    assert path.read_bytes() == b"keep"
