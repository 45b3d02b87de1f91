"""python -m course_tools.caches: caches prepared from published files, checked by hash, corruption named."""

import hashlib
import io
import tarfile
from pathlib import Path

import pytest

from course.config import get_profile
from course.downloads import DOGS_ARCHIVE, EFFICIENTNETB0_NOTOP, RemoteFile
from course_tools.caches import CacheError, main, prepare_archive, prepare_tfds, prepare_weights


def test_weights_url_and_hash_are_the_ones_keras_uses():
    from course.keras_private import efficientnet_published_weights

    assert (EFFICIENTNETB0_NOTOP.url, EFFICIENTNETB0_NOTOP.file_hash) == efficientnet_published_weights()


def test_archive_urls_and_hashes_are_the_ones_tfds_publishes():
    from tensorflow_datasets.datasets import stanford_dogs

    published = {}
    for line in Path(stanford_dogs.__file__).with_name("checksums.tsv").read_text().splitlines():
        url, _size, sha256, _name = line.split("\t")
        published[url] = sha256
    assert {remote.url: remote.file_hash for remote in DOGS_ARCHIVE} == {
        url: sha256 for url, sha256 in published.items() if not url.endswith("annotation.tar")
    }


def _published(tmp_path, name, content: bytes, algorithm="md5", unpack_into=None) -> RemoteFile:
    """``content`` published at a file:// URL, with its hash."""
    mirror = tmp_path / "mirror"
    mirror.mkdir(exist_ok=True)
    (mirror / name).write_bytes(content)
    return RemoteFile(name, (mirror / name).as_uri(), hashlib.new(algorithm, content).hexdigest(), unpack_into)


def _tar(members: dict[str, bytes]) -> bytes:
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w") as tar:
        for name, content in members.items():
            info = tarfile.TarInfo(name)
            info.size = len(content)
            tar.addfile(info, io.BytesIO(content))
    return buffer.getvalue()


def test_imagenet_weights_are_fetched_into_the_keras_cache_then_reused_offline(tmp_path):
    remote = _published(tmp_path, "efficientnetb0_notop.h5", b"weights " * 1000)
    keras_home = tmp_path / "keras"

    cache = prepare_weights(get_profile("full"), keras_home, remote=remote)

    cached = keras_home / "models" / "efficientnetb0_notop.h5"
    assert cached.read_bytes() == b"weights " * 1000
    assert cache.files == {"efficientnetb0_notop.h5": hashlib.sha256(b"weights " * 1000).hexdigest()}
    (tmp_path / "mirror" / remote.name).unlink()  # no "network" any more: the cached copy must do
    assert prepare_weights(get_profile("full"), keras_home, remote=remote) == cache


def test_a_download_with_the_wrong_hash_is_removed_and_reported(tmp_path):
    remote = _published(tmp_path, "efficientnetb0_notop.h5", b"tampered")
    remote = RemoteFile(remote.name, remote.url, EFFICIENTNETB0_NOTOP.file_hash)

    with pytest.raises(CacheError) as error:
        prepare_weights(get_profile("full"), tmp_path / "keras", remote=remote)

    actual = hashlib.md5(b"tampered").hexdigest()
    assert f"with md5 {actual}, expected {EFFICIENTNETB0_NOTOP.file_hash}" in str(error.value)
    assert not (tmp_path / "keras" / "models" / remote.name).exists()


def test_an_unreachable_download_says_where_to_put_the_file(tmp_path):
    remote = RemoteFile("efficientnetb0_notop.h5", (tmp_path / "nowhere.h5").as_uri(), EFFICIENTNETB0_NOTOP.file_hash)
    with pytest.raises(CacheError, match=f"Could not download .*copy the published file to {tmp_path}/keras/models/"):
        prepare_weights(get_profile("full"), tmp_path / "keras", remote=remote)


def test_a_weights_file_profile_is_catalogued_and_a_missing_one_reported(tmp_path):
    weights = tmp_path / "backbone.h5"
    weights.write_bytes(b"local weights")
    cache = prepare_weights(get_profile("full", weights=str(weights)), tmp_path / "keras")
    assert cache.files == {"backbone.h5": hashlib.sha256(b"local weights").hexdigest()}
    with pytest.raises(CacheError, match="missing.h5 does not exist"):
        prepare_weights(get_profile("full", weights=str(tmp_path / "missing.h5")), tmp_path / "keras")
    assert prepare_weights(get_profile("smoke"), tmp_path / "keras") is None


ARCHIVE_IMAGES = {
    "Images/n02085620-Chihuahua/n02085620_10074.jpg": b"\xff\xd8chihuahua",
    "Images/n02116738-African_hunting_dog/n02116738_10024.jpg": b"\xff\xd8hunting dog",
}
ARCHIVE_LISTS = {"file_list.mat": b"all", "train_list.mat": b"train", "test_list.mat": b"test"}


def _fake_archive(tmp_path, lists=ARCHIVE_LISTS):
    return (
        _published(tmp_path, "images.tar", _tar(ARCHIVE_IMAGES), "sha256", unpack_into="."),
        _published(tmp_path, "lists.tar", _tar(lists), "sha256", unpack_into="lists"),
    )


def test_the_archive_is_downloaded_unpacked_in_the_official_layout_and_catalogued(tmp_path):
    data_dir = tmp_path / "dogs"

    cache = prepare_archive(data_dir, remotes=_fake_archive(tmp_path))

    assert (data_dir / "lists" / "train_list.mat").read_bytes() == b"train"
    assert not (data_dir / "downloads").exists()
    assert set(cache.files) == {*ARCHIVE_IMAGES, "lists/train_list.mat", "lists/test_list.mat"}
    chihuahua = "Images/n02085620-Chihuahua/n02085620_10074.jpg"
    assert cache.files[chihuahua] == hashlib.sha256(ARCHIVE_IMAGES[chihuahua]).hexdigest()


def test_an_archive_without_the_split_lists_is_an_error(tmp_path):
    remotes = _fake_archive(tmp_path, lists={"file_list.mat": b"all"})
    with pytest.raises(CacheError, match="does not hold the official archive's layout"):
        prepare_archive(tmp_path / "dogs", remotes=remotes)


def test_a_tfds_builder_is_prepared_and_its_files_catalogued(tmp_path):
    import tensorflow_datasets as tfds

    class TinyDogs(tfds.core.GeneratorBasedBuilder, skip_registration=True):
        VERSION = tfds.core.Version("0.2.0")

        def _info(self):
            return tfds.core.DatasetInfo(
                builder=self, features=tfds.features.FeaturesDict({"label": tfds.features.ClassLabel(num_classes=3)})
            )

        def _split_generators(self, dl_manager):
            return {"train": self._generate_examples(6), "test": self._generate_examples(3)}

        def _generate_examples(self, count):
            for index in range(count):
                yield index, {"label": index % 3}

    cache = prepare_tfds(TinyDogs(data_dir=str(tmp_path)))

    assert cache.root == str(tmp_path / "tiny_dogs" / "0.2.0")
    assert {"dataset_info.json", "features.json"} <= set(cache.files)
    assert {name.split(".")[0] for name in cache.files if "tfrecord" in name} == {"tiny_dogs-train", "tiny_dogs-test"}


def _unpacked_archive(data_dir: Path) -> Path:
    for name, content in {**ARCHIVE_IMAGES, "lists/train_list.mat": b"train", "lists/test_list.mat": b"test"}.items():
        (data_dir / name).parent.mkdir(parents=True, exist_ok=True)
        (data_dir / name).write_bytes(content)
    return data_dir


def test_prepare_then_verify_passes_and_names_a_corrupt_or_missing_file(tmp_path, capsys):
    data_dir = _unpacked_archive(tmp_path / "dogs")
    manifest = tmp_path / "caches.json"
    chihuahua = data_dir / "Images/n02085620-Chihuahua/n02085620_10074.jpg"

    assert (
        main(
            [
                "prepare",
                "--profile",
                "smoke",
                "--source",
                "archive",
                "--data-dir",
                str(data_dir),
                "--manifest",
                str(manifest),
            ]
        )
        == 0
    )
    assert main(["verify", "--manifest", str(manifest)]) == 0
    assert "Stanford Dogs (official archive): 4 file(s)" in capsys.readouterr().out

    chihuahua.write_bytes(b"\xff\xd8truncated")
    (data_dir / "lists/test_list.mat").unlink()
    assert main(["verify", "--manifest", str(manifest)]) == 1

    error = capsys.readouterr().err
    expected = hashlib.sha256(b"\xff\xd8chihuahua").hexdigest()
    actual = hashlib.sha256(b"\xff\xd8truncated").hexdigest()
    assert f"corrupt {chihuahua}: expected sha256 {expected}, found {actual}" in error
    assert (
        f"missing {data_dir / 'lists/test_list.mat'} (expected sha256 {hashlib.sha256(b'test').hexdigest()})" in error
    )
    assert (
        "Rebuild the caches with: python -m course_tools.caches prepare --profile smoke --source archive "
        f"--data-dir {data_dir} --manifest {manifest} --force"
    ) in error


def test_the_smoke_profile_needs_no_downloads(tmp_path, capsys):
    manifest = tmp_path / "caches.json"
    assert main(["prepare", "--profile", "smoke", "--manifest", str(manifest)]) == 0
    assert main(["verify", "--manifest", str(manifest)]) == 0
    assert "nothing to cache: this profile uses synthetic data and random weights" in capsys.readouterr().out


def test_verify_without_a_readable_manifest_says_how_to_prepare(tmp_path, capsys):
    manifest = tmp_path / "caches.json"
    assert main(["verify", "--manifest", str(manifest)]) == 1
    assert f"No cache manifest at {manifest}. Prepare the caches first" in capsys.readouterr().err

    manifest.write_text('{"caches": [{"name": "weights"}]}')
    assert main(["verify", "--manifest", str(manifest)]) == 1
    assert f"The cache manifest {manifest} is unreadable" in capsys.readouterr().err


def test_the_archive_source_needs_a_data_folder(tmp_path, capsys):
    assert main(["prepare", "--profile", "smoke", "--source", "archive", "--manifest", str(tmp_path / "m.json")]) == 2
    assert "pass --data-dir or set COURSE_DATA_DIR" in capsys.readouterr().err


def test_the_demo_profile_catalogues_its_backbone_pretrained_offline(tmp_path, monkeypatch):
    from course_tools import caches

    weights = tmp_path / "efficientnetb0_notop_synthetic_source.h5"
    weights.write_bytes(b"pretrained offline")
    rebuilds = []
    monkeypatch.setattr(caches, "source_weights", lambda rebuild=False: rebuilds.append(rebuild) or weights)

    cache = prepare_weights(get_profile("demo"), tmp_path / "keras", force=True)

    assert rebuilds == [True]  # --force pretrains again
    assert cache.name == "EfficientNetB0 weights pretrained offline on synthetic source images"
    assert cache.files == {weights.name: hashlib.sha256(b"pretrained offline").hexdigest()}
