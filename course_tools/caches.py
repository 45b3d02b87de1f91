"""Download caches a GPU runner prepares once, so that later runs need no network.

    python -m course_tools.caches prepare [--profile full] [--source tfds|archive] [--data-dir D] [--force]
    python -m course_tools.caches verify

``prepare`` fetches what the profile needs: the Stanford Dogs data (TFDS ``stanford_dogs`` built
into the data folder, or the official archive unpacked there) and the EfficientNetB0 ImageNet
no-top weights into Keras's cache (``~/.keras/models``, or ``$KERAS_HOME/models``), each checked
against its published hash. It then writes a manifest with the sha256 of every cached file.
``verify`` checks every file against the manifest and names any missing or corrupt one, with the
command that rebuilds it. The profile's source and data folder follow ``COURSE_SOURCE`` and
``COURSE_DATA_DIR`` unless ``--source`` and ``--data-dir`` are given.
"""

from __future__ import annotations

import argparse
import json
import shlex
import shutil
import sys
import tarfile
from dataclasses import asdict, dataclass
from pathlib import Path

from course.config import PROFILES, SOURCES, Profile, ProfileError, get_profile
from course.downloads import ARCHIVE_LISTS, DOGS_ARCHIVE, EFFICIENTNETB0_NOTOP, RemoteFile, file_digest, keras_cache_dir
from course.errors import USAGE_ERROR, report_error
from course.source_task import SOURCE_WEIGHTS, SOURCE_WEIGHTS_DESCRIPTION, source_weights
from course_tools.errors import CourseToolsError

DEFAULT_MANIFEST = Path.home() / ".cache" / "course" / "caches.json"


class CacheError(CourseToolsError, RuntimeError):
    """A cache that cannot be prepared, or that is missing or corrupt."""


class CacheSettingsError(CacheError):
    """Settings that name nothing to prepare: no data folder for the archive, a weights file that does not exist."""

    exit_status = USAGE_ERROR


@dataclass
class Cache:
    """Files under one folder, with their sha256."""

    name: str
    root: str
    files: dict[str, str]  # path relative to root -> sha256


def catalogue(name: str, root: Path, relative_paths) -> Cache:
    """A :class:`Cache` of the files ``relative_paths`` under ``root``, hashed now."""
    files = {str(path): file_digest(root / path) for path in sorted(relative_paths)}
    return Cache(name, str(root.resolve()), files)


def fetch(remote: RemoteFile, cache_dir: Path, cache_subdir: str, force: bool = False) -> Path:
    """Download ``remote`` to ``cache_dir/cache_subdir`` with ``keras.utils.get_file``; a cached copy
    with the right hash is kept, a wrong one downloaded again."""
    import keras

    target = Path(cache_dir) / cache_subdir / remote.name
    target.parent.mkdir(parents=True, exist_ok=True)  # get_file falls back to /tmp for a folder it cannot find
    try:
        path = keras.utils.get_file(
            remote.name,
            remote.url,
            file_hash=remote.file_hash,
            cache_dir=str(cache_dir),
            cache_subdir=cache_subdir,
            force_download=force,
        )
    except ValueError:  # downloaded, but the hash does not match
        raise _hash_mismatch(remote, target) from None
    except Exception as error:  # noqa: BLE001 - get_file raises a bare Exception when a download fails
        raise CacheError(
            f"Could not download {remote.url} ({error}). Connect this machine to the network, or copy the "
            f"published file to {target} and run prepare again."
        ) from None
    return Path(path)


def _hash_mismatch(remote: RemoteFile, path: Path) -> CacheError:
    algorithm = "sha256" if len(remote.file_hash) == 64 else "md5"
    actual = file_digest(path, algorithm) if path.is_file() else "no file"
    path.unlink(missing_ok=True)
    return CacheError(
        f"{remote.url} downloaded to {path} with {algorithm} {actual}, expected {remote.file_hash}: the "
        "download is corrupt or the file changed upstream. The file has been removed; run prepare again."
    )


def prepare_weights(
    profile: Profile, cache_dir: Path, force: bool = False, remote: RemoteFile = EFFICIENTNETB0_NOTOP
) -> Cache | None:
    """The backbone weights ``profile`` uses: ImageNet weights fetched into Keras's cache, the weights
    pretrained offline on synthetic source images (built unless cached and intact), or a local file."""
    if profile.weights is None:
        return None
    if profile.weights == SOURCE_WEIGHTS:
        path = source_weights(rebuild=force)
        return catalogue(f"EfficientNetB0 weights {SOURCE_WEIGHTS_DESCRIPTION}", path.parent, [path.name])
    if profile.weights == "imagenet":
        path = fetch(remote, cache_dir, "models", force)
        return catalogue("EfficientNetB0 ImageNet weights (Keras cache)", path.parent, [path.name])
    path = Path(profile.weights)
    if not path.is_file():
        raise CacheSettingsError(
            f"The profile's weights file {path} does not exist. Point weights at an existing file or use 'imagenet'."
        )
    return catalogue("EfficientNetB0 weights file", path.parent, [path.name])


def _archive_files(data_dir: Path) -> list[Path]:
    """The files of an unpacked official archive, or [] if the layout is incomplete."""
    images = sorted(path.relative_to(data_dir) for path in data_dir.glob("Images/*-*/*.jpg"))
    if not images or not all((data_dir / name).is_file() for name in ARCHIVE_LISTS):
        return []
    return images + [Path(name) for name in ARCHIVE_LISTS]


def prepare_archive(data_dir: Path, force: bool = False, remotes: tuple[RemoteFile, ...] = DOGS_ARCHIVE) -> Cache:
    """The official archive unpacked in ``data_dir`` (downloaded first unless already there)."""
    files = [] if force else _archive_files(data_dir)
    if not files:
        downloads = data_dir / "downloads"
        for remote in remotes:
            archive = fetch(remote, data_dir, "downloads", force)
            with tarfile.open(archive) as tar:
                tar.extractall(data_dir / remote.unpack_into, filter="data")
        shutil.rmtree(downloads)
        files = _archive_files(data_dir)
        if not files:
            raise CacheError(
                f"{data_dir} does not hold the official archive's layout after unpacking: expected "
                f"Images/<wnid>-<breed>/*.jpg and {', '.join(ARCHIVE_LISTS)}."
            )
    return catalogue("Stanford Dogs (official archive)", data_dir, files)


def prepare_tfds(builder, force: bool = False) -> Cache:
    """A TFDS dataset built by ``builder`` (``tfds.builder("stanford_dogs", data_dir=...)``)."""
    import tensorflow_datasets as tfds

    mode = tfds.download.GenerateMode.FORCE_REDOWNLOAD if force else tfds.download.GenerateMode.REUSE_DATASET_IF_EXISTS
    try:
        builder.download_and_prepare(download_config=tfds.download.DownloadConfig(download_mode=mode))
    except Exception as error:  # noqa: BLE001 - network and TFDS errors alike mean the data set is not there
        raise CacheError(
            f"TFDS could not download and prepare {builder.name} into {builder.data_dir_root} ({error}). "
            "Without network access, unpack the official archive instead and use --source archive --data-dir <folder>."
        ) from None
    root = Path(builder.data_dir)
    return catalogue(
        f"{builder.name} (TFDS)", root, [path.relative_to(root) for path in root.rglob("*") if path.is_file()]
    )


def prepare(profile: Profile, force: bool = False) -> list[Cache]:
    """Everything ``profile`` downloads: its data set (unless synthetic) and its backbone weights."""
    caches = []
    if profile.source == "tfds":
        import tensorflow_datasets as tfds

        caches.append(prepare_tfds(tfds.builder("stanford_dogs", data_dir=profile.data_dir), force))
    elif profile.source == "archive":
        if not profile.data_dir:
            raise CacheSettingsError("The archive source needs a data folder: pass --data-dir or set COURSE_DATA_DIR.")
        caches.append(prepare_archive(Path(profile.data_dir), force))
    weights = prepare_weights(profile, keras_cache_dir(), force)
    if weights:
        caches.append(weights)
    return caches


def write_manifest(path: Path, caches: list[Cache], rebuild: str) -> None:
    """Record ``caches`` and the command that rebuilds them."""
    path.parent.mkdir(parents=True, exist_ok=True)
    manifest = {"rebuild": rebuild, "caches": [asdict(cache) for cache in caches]}
    partial = path.with_suffix(".partial")
    partial.write_text(json.dumps(manifest, indent=1))
    partial.replace(path)


def verify(path: Path) -> list[Cache]:
    """The caches in the manifest at ``path``; :class:`CacheError` names every missing or corrupt file."""
    if not path.is_file():
        raise CacheError(
            f"No cache manifest at {path}. Prepare the caches first: python -m course_tools.caches prepare"
        )
    try:
        manifest = json.loads(path.read_text())
        caches = [Cache(**cache) for cache in manifest["caches"]]
        rebuild = manifest["rebuild"]
    except (ValueError, KeyError, TypeError) as error:
        raise CacheError(
            f"The cache manifest {path} is unreadable ({error!r}). "
            "Prepare the caches again: python -m course_tools.caches prepare"
        ) from None
    problems = []
    for cache in caches:
        for relative, expected in cache.files.items():
            file = Path(cache.root) / relative
            if not file.is_file():
                problems.append(f"missing {file} (expected sha256 {expected})")
            elif (actual := file_digest(file)) != expected:
                problems.append(f"corrupt {file}: expected sha256 {expected}, found {actual}")
    if problems:
        shown = problems[:20] + ([f"... and {len(problems) - 20} more"] if len(problems) > 20 else [])
        raise CacheError(
            f"{len(problems)} cached file(s) do not match {path}:\n  "
            + "\n  ".join(shown)
            + f"\nRebuild the caches with: {rebuild}"
        )
    return caches


def _rebuild_command(args: argparse.Namespace, profile: Profile) -> str:
    command = ["python", "-m", "course_tools.caches", "prepare", "--profile", profile.name, "--source", profile.source]
    if profile.data_dir:
        command += ["--data-dir", str(Path(profile.data_dir).resolve())]
    if args.manifest != DEFAULT_MANIFEST:
        command += ["--manifest", str(args.manifest)]
    return shlex.join(command + ["--force"])


def _describe(caches: list[Cache]) -> str:
    if not caches:
        return "nothing to cache: this profile uses synthetic data and random weights"
    return "\n".join(f"{cache.name}: {len(cache.files)} file(s) in {cache.root}" for cache in caches)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m course_tools.caches", description=__doc__.splitlines()[0])
    commands = parser.add_subparsers(dest="command", required=True)
    prepare_command = commands.add_parser("prepare", help="download what a profile needs and write the manifest")
    prepare_command.add_argument(
        "--profile", choices=list(PROFILES), default="full", help="run profile (default: full)"
    )
    prepare_command.add_argument(
        "--source", choices=SOURCES, help="data source (default: the profile's, or COURSE_SOURCE)"
    )
    prepare_command.add_argument("--data-dir", help="TFDS data_dir or archive folder (default: COURSE_DATA_DIR)")
    prepare_command.add_argument("--force", action="store_true", help="download and unpack again even if cached")
    verify_command = commands.add_parser("verify", help="check every cached file against the manifest")
    for command in (prepare_command, verify_command):
        command.add_argument("--manifest", type=Path, default=DEFAULT_MANIFEST, help=f"default: {DEFAULT_MANIFEST}")
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        if args.command == "prepare":
            overrides = {key: value for key, value in (("source", args.source), ("data_dir", args.data_dir)) if value}
            profile = get_profile(args.profile, **overrides)
            caches = prepare(profile, args.force)
            write_manifest(args.manifest, caches, _rebuild_command(args, profile))
            print(f"{_describe(caches)}\nmanifest: {args.manifest}")
        else:
            print(f"{_describe(verify(args.manifest))}\nall cached files match {args.manifest}")
    except (CacheError, ProfileError) as error:
        return report_error(error)
    return 0


if __name__ == "__main__":
    sys.exit(main())
