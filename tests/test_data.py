"""Specification of reslib.data: real CIFAR-10 first, real offline fallbacks, the pipeline."""

import os
import pickle
import sys
from pathlib import Path

import numpy as np
import pytest

from reslib import data
from reslib.data import (
    ImageDataset,
    downsample,
    load_dataset,
    read_cifar10_directory,
    read_idx,
    training_pipeline,
)

SHARED_CIFAR = Path(__file__).resolve().parents[2] / "shared" / "data" / "cifar-10-batches-py"
CIFAR = Path(os.environ.get("RESLIB_DATA_DIR") or SHARED_CIFAR)
needs_cifar = pytest.mark.skipif(
    not (CIFAR / "data_batch_1").is_file(), reason=f"no local CIFAR-10 copy at {CIFAR}"
)


@pytest.fixture
def no_cifar_anywhere(tmp_path, monkeypatch):
    """No local copy, an empty Keras cache, no Fashion-MNIST on disk."""
    monkeypatch.delenv("RESLIB_DATA_DIR", raising=False)
    monkeypatch.setenv("KERAS_HOME", str(tmp_path / "keras_home"))
    monkeypatch.setattr(data, "FASHION_MNIST_DIRS", ())


@needs_cifar
def test_local_cifar10_copy_is_read_and_says_how_many_batches_it_found():
    batches = len(list(CIFAR.glob("data_batch_[1-5]")))  # CI's copy has all five: 50,000 images
    train = load_dataset("cifar10", "train", data_dir=CIFAR)
    assert train.name == "cifar10" and train.images.shape == (10_000 * batches, 32, 32, 3)
    assert train.images.dtype == np.uint8 and set(np.unique(train.labels)) == set(range(10))
    assert f"{batches} of 5 training batches" in train.source
    assert train.description.startswith(f"CIFAR-10 train, {10_000 * batches:,} images")
    assert train.title == f"CIFAR-10, {len(train):,} train images"  # for titles: no path
    assert train.class_names[:2] == ("airplane", "automobile")


@needs_cifar
def test_cifar10_images_are_channels_last_in_the_official_pixel_order():
    batch = pickle.load(open(CIFAR / "data_batch_1", "rb"), encoding="bytes")
    first = batch[b"data"][0]  # 1024 red, then 1024 green, then 1024 blue values
    image = load_dataset("cifar10", "train", limit=1, data_dir=CIFAR).images[0]
    np.testing.assert_array_equal(image[..., 0].reshape(-1), first[:1024])
    np.testing.assert_array_equal(image[..., 2].reshape(-1), first[2048:])


@needs_cifar
def test_cifar10_test_split_and_limit():
    test = load_dataset("cifar10", "test", limit=500, data_dir=CIFAR)
    assert len(test) == 500 and test.split == "test" and "first 500" in test.source
    # copies, not views: the other 9,500 images (and the labels) are not kept alive
    assert test.images.base is None and test.labels.base is None


@needs_cifar
def test_every_training_batch_present_is_read(tmp_path):
    # Real CIFAR-10 batch 1 split in two official-format files: the reader must count 2 of 5.
    batch = pickle.load(open(CIFAR / "data_batch_1", "rb"), encoding="bytes")
    for index, part in enumerate((slice(0, 6000), slice(6000, 10000)), start=1):
        piece = {b"data": batch[b"data"][part], b"labels": batch[b"labels"][part]}
        pickle.dump(piece, open(tmp_path / f"data_batch_{index}", "wb"))
    (tmp_path / "batches.meta").write_bytes((CIFAR / "batches.meta").read_bytes())
    train = read_cifar10_directory(tmp_path)
    assert len(train) == 10_000 and "2 of 5 training batches" in train.source


def test_offline_without_cifar10_falls_back_to_real_data_and_says_so(no_cifar_anywhere, capsys):
    dataset = load_dataset("cifar10", "train", offline=True)
    assert dataset.name == "digits" and dataset.images.shape[1:] == (8, 8, 1)
    message = capsys.readouterr().err.strip()
    assert message.count("\n") == 0
    assert "CIFAR-10 is not available (offline" in message and "using digits instead" in message


def test_without_network_the_fallback_names_the_reason(no_cifar_anywhere, monkeypatch, capsys):
    monkeypatch.setattr(data, "network_available", lambda address, timeout=2.0: False)
    assert load_dataset("cifar10", "test", offline=False).name == "digits"
    assert "(no network" in capsys.readouterr().err


def test_reslib_offline_variable_skips_the_network(no_cifar_anywhere, monkeypatch):
    def refuse(address, timeout=2.0):
        raise AssertionError("the network must not be tried when RESLIB_OFFLINE=1")

    monkeypatch.setattr(data, "network_available", refuse)
    monkeypatch.setenv("RESLIB_OFFLINE", "1")
    assert load_dataset("cifar10").name == "digits"


def test_a_closed_port_is_no_network():
    assert data.network_available(("127.0.0.1", 9), timeout=1.0) is False


def test_digits_splits_are_disjoint_and_cover_all_1797_images():
    train, test = load_dataset("digits", "train"), load_dataset("digits", "test")
    assert len(train) + len(test) == 1797 and train.images.dtype == np.uint8
    assert train.images.max() == 255


def test_offline_fallback_needs_nothing_but_keras(no_cifar_anywhere, monkeypatch):
    # pyproject declares keras alone: the digits ship inside reslib, scikit-learn is not needed
    monkeypatch.setitem(sys.modules, "sklearn", None)  # makes `import sklearn` fail
    dataset = load_dataset("cifar10", "train", offline=True)
    assert dataset.name == "digits" and len(dataset) == 1437


def test_shipped_digits_are_scikit_learns_load_digits():
    datasets = pytest.importorskip("sklearn.datasets")
    reference = datasets.load_digits()
    pixels, labels = data.digits_arrays()
    np.testing.assert_array_equal(pixels, reference.images)
    np.testing.assert_array_equal(labels, reference.target)


def test_idx_files_are_read_gzipped_or_not(tmp_path):
    array = np.arange(24, dtype=np.uint8).reshape(2, 3, 4)
    header = bytes([0, 0, 8, 3]) + b"".join(d.to_bytes(4, "big") for d in array.shape)
    (tmp_path / "a-idx3-ubyte").write_bytes(header + array.tobytes())
    import gzip

    with gzip.open(tmp_path / "a-idx3-ubyte.gz", "wb") as file:
        file.write(header + array.tobytes())
    np.testing.assert_array_equal(read_idx(tmp_path / "a-idx3-ubyte"), array)
    np.testing.assert_array_equal(read_idx(tmp_path / "a-idx3-ubyte.gz"), array)


@pytest.mark.skipif(
    not Path("/usr/share/datasets/fashion-mnist").is_dir(),
    reason="dataset-fashion-mnist not installed",
)
def test_debian_fashion_mnist_is_the_first_fallback(tmp_path, monkeypatch):
    monkeypatch.setenv("KERAS_HOME", str(tmp_path))
    dataset = load_dataset("fashion_mnist", "test")
    assert dataset.images.shape == (10_000, 28, 28, 1)


def test_pipeline_batches_are_normalised_float_images_with_labels():
    dataset = load_dataset("digits", "train")
    images, labels = next(iter(training_pipeline(dataset, batch_size=len(dataset), augment=False,
                                                 shuffle=False)))
    assert images.shape == (len(dataset), 8, 8, 1) and images.dtype.name == "float32"
    assert abs(float(np.mean(images))) < 1e-4 and abs(float(np.std(images)) - 1) < 1e-3
    np.testing.assert_array_equal(labels.numpy(), dataset.labels)


def test_augmentation_keeps_shapes_and_moves_pixels():
    dataset = load_dataset("digits", "train", limit=64)
    plain = next(iter(training_pipeline(dataset, 64, augment=False, shuffle=False)))[0].numpy()
    moved = next(iter(training_pipeline(dataset, 64, augment=True, shuffle=False)))[0].numpy()
    assert moved.shape == plain.shape and not np.allclose(moved, plain)


def test_numpy_engine_gives_the_tf_data_batches_without_augmentation():
    dataset = load_dataset("digits", "train", limit=100)
    from_tf = next(iter(training_pipeline(dataset, 100, augment=False, shuffle=False,
                                          engine="tf.data")))
    images, labels = training_pipeline(dataset, 100, augment=False, shuffle=False,
                                       engine="numpy")[0]
    np.testing.assert_allclose(images, from_tf[0].numpy(), atol=1e-6)
    np.testing.assert_array_equal(labels, from_tf[1].numpy())


def test_numpy_engine_is_a_reshuffled_py_dataset_covering_every_example_once_per_epoch():
    import keras

    dataset = load_dataset("digits", "train", limit=100)
    pipeline = training_pipeline(dataset, 32, engine="numpy", augment=False)
    assert isinstance(pipeline, keras.utils.PyDataset) and len(pipeline) == 4  # 32+32+32+4
    first = np.concatenate([pipeline[i][1] for i in range(len(pipeline))])
    pipeline.on_epoch_end()
    second = np.concatenate([pipeline[i][1] for i in range(len(pipeline))])
    assert sorted(first) == sorted(second) == sorted(dataset.labels)
    assert not np.array_equal(first, second)


def test_random_crop_and_flip_moves_each_image_within_the_padding():
    images = np.arange(2 * 6 * 6, dtype="float32").reshape(2, 6, 6, 1) + 1
    moved = data.random_crop_and_flip(images, padding=1, rng=np.random.default_rng(0))
    assert moved.shape == images.shape
    for before, after in zip(images, moved):
        # the crop keeps a 5x5 window of the original (shifted by at most one pixel, maybe
        # mirrored): its centre 4x4 is some 4x4 window of the image, in the same or mirrored order
        centre = after[1:-1, 1:-1, 0]
        windows = [before[r:r + 4, c:c + 4, 0] for r in range(3) for c in range(3)]
        assert any(np.array_equal(centre, w) or np.array_equal(centre, w[:, ::-1])
                   for w in windows)


def test_numpy_engine_batches_depend_only_on_seed_epoch_and_index():
    dataset = load_dataset("digits", "train", limit=64)
    one = training_pipeline(dataset, 16, engine="numpy", seed=3)
    two = training_pipeline(dataset, 16, engine="numpy", seed=3)
    np.testing.assert_array_equal(one[2][0], two[2][0])
    assert not np.array_equal(one[2][0], training_pipeline(dataset, 16, engine="numpy",
                                                           seed=4)[2][0])


def test_unknown_pipeline_engine_is_refused():
    with pytest.raises(ValueError, match="`engine` must be one of 'auto', 'tf.data', 'numpy'"):
        training_pipeline(load_dataset("digits", "train", limit=8), engine="torch")


@pytest.mark.parametrize(
    "kwargs, message",
    [
        (dict(name="imagenet"), "`name` must be one of 'cifar10', 'fashion_mnist', 'digits'"),
        (dict(name="digits", split="val"), "`split` must be one of 'train', 'test'; got 'val'"),
        (dict(name="digits", limit=0), "`limit` must be a positive integer, got 0"),
    ],
)
def test_bad_arguments_say_what_is_allowed(kwargs, message):
    with pytest.raises(ValueError, match=message):
        load_dataset(**kwargs)


def test_the_tf_data_pipeline_gives_the_same_augmented_batches_for_the_same_seed():
    pytest.importorskip("tensorflow")
    dataset = load_dataset("digits", "train", limit=64)

    def two_epochs(seed):
        pipeline = training_pipeline(dataset, batch_size=16, seed=seed, engine="tf.data")
        return [images for _ in range(2) for images, _ in pipeline.as_numpy_iterator()]

    first, second, other = two_epochs(1), two_epochs(1), two_epochs(2)
    for mine, theirs in zip(first, second):
        np.testing.assert_array_equal(mine, theirs)
    assert not np.array_equal(first[0], first[4]), "each epoch draws new crops and flips"
    assert not all(np.array_equal(a, b) for a, b in zip(first, other))


def test_downsample_averages_blocks_of_pixels_and_says_so():
    images = np.arange(2 * 4 * 4 * 1, dtype="uint8").reshape(2, 4, 4, 1)
    data = ImageDataset("digits", "train", images, np.array([0, 1]), ("a", "b"), "test")
    small = downsample(data, 2)
    assert small.images.shape == (2, 2, 2, 1) and small.images.dtype == np.uint8
    assert small.images[0, 0, 0, 0] == round(np.mean([0, 1, 4, 5]))
    assert "pooled to 2x2" in small.description
    assert downsample(data, 4) is data


def test_downsample_refuses_a_size_that_does_not_divide_the_images():
    data = load_dataset("cifar10", "test", limit=2)
    with pytest.raises(ValueError, match="positive divisor of the image size 32; got size=10"):
        downsample(data, 10)
