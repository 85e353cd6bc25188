"""Datasets for the course: CIFAR-10 first, real offline fallbacks, and the training pipeline.

``load_dataset("cifar10", "train")`` looks for CIFAR-10 (Krizhevsky 2009) in this order:

1. a local copy of the official "python version" directory ``cifar-10-batches-py/``, given as
   ``data_dir=`` or the ``RESLIB_DATA_DIR`` environment variable; whichever of the five training
   batches are present are read, and the result says how many;
2. Keras' cache (``~/.keras/datasets/cifar-10-batches-py``, or under ``KERAS_HOME``);
3. a download through ``keras.datasets.cifar10`` when the network answers within 2 s
   (``RESLIB_OFFLINE=1`` skips the attempt);
4. otherwise real data that ships offline, announced in one printed line: Fashion-MNIST (Keras'
   cache, or Debian's ``dataset-fashion-mnist`` in ``/usr/share/datasets/fashion-mnist``), then
   the 1,797 8x8 ``digits`` that scikit-learn's ``load_digits`` returns, a 45 KB copy of which
   ships inside reslib (``reslib/offline_data``), so the fallback needs nothing but ``keras``.
   Never random noise under a real name.

The returned ``ImageDataset`` names its data and its size (``dataset.description``), so every
result made from it can say what it was trained on. ``training_pipeline`` turns it into
batches with the augmentation of He et al. 2016a, section 4.2 (4-pixel padding, random 32x32
crop, horizontal flip; the padding scales with smaller images) and per-channel normalisation:
a ``tf.data`` pipeline where TensorFlow is installed, otherwise an ``ArrayPipeline`` (a
``keras.utils.PyDataset`` in NumPy), so JAX-only installs train too.
"""

from __future__ import annotations

import gzip
import os
import pickle
import socket
import sys
import threading
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import keras
import numpy as np

from reslib import _validation as check

DATASETS = ("cifar10", "fashion_mnist", "digits")
SPLITS = ("train", "test")
CIFAR10_TRAINING_BATCHES = 5
CIFAR10_HOST = ("www.cs.toronto.edu", 443)
FASHION_MNIST_DIRS = (Path("/usr/share/datasets/fashion-mnist"),)
TITLES = {"cifar10": "CIFAR-10", "fashion_mnist": "Fashion-MNIST", "digits": "digits"}


@dataclass(frozen=True)
class ImageDataset:
    """Images and labels of one split, with where they came from.

    Attributes:
        name: ``"cifar10"``, ``"fashion_mnist"`` or ``"digits"``: the data actually loaded.
        split: ``"train"`` or ``"test"``.
        images: uint8 array ``(n, height, width, channels)``, channels-last.
        labels: int array ``(n,)``.
        class_names: one name per class.
        source: where the data was read from, in words.
    """

    name: str
    split: str
    images: np.ndarray
    labels: np.ndarray
    class_names: tuple[str, ...]
    source: str

    def __len__(self) -> int:
        return len(self.labels)

    @property
    def description(self) -> str:
        """E.g. ``"CIFAR-10 train, 10,000 images (local copy, 1 of 5 training batches)"``."""
        return f"{TITLES[self.name]} {self.split}, {len(self):,} images ({self.source})"

    @property
    def title(self) -> str:
        """The short form for figure titles and progress lines (``description`` says where the
        data came from, once): e.g. ``"CIFAR-10, 1,000 train images"``."""
        return f"{TITLES[self.name]}, {len(self):,} {self.split} images"


def load_dataset(
    name: str = "cifar10",
    split: str = "train",
    limit: int | None = None,
    data_dir: str | os.PathLike | None = None,
    offline: bool | None = None,
) -> ImageDataset:
    """Load one split of a dataset as uint8 images, falling back to real offline data.

    Args:
        name: ``"cifar10"``, ``"fashion_mnist"`` or ``"digits"``.
        split: ``"train"`` or ``"test"``.
        limit: keep the first ``limit`` examples (the order of the official files).
        data_dir: a local ``cifar-10-batches-py`` directory; default ``RESLIB_DATA_DIR``.
        offline: skip every download; default ``RESLIB_OFFLINE=1``.

    Returns:
        An ``ImageDataset``; its ``name`` says which dataset was really loaded.
    """
    check.one_of("name", name, DATASETS)
    check.one_of("split", split, SPLITS)
    if limit is not None:
        check.positive_int("limit", limit)
    if offline is None:
        offline = os.environ.get("RESLIB_OFFLINE") == "1"
    dataset = _load(name, split, data_dir, offline)
    if limit is not None and limit < len(dataset):
        dataset = ImageDataset(
            # copies, so that the full split's arrays are freed (60 MB for CIFAR-10's two files)
            dataset.name, split, dataset.images[:limit].copy(), dataset.labels[:limit].copy(),
            dataset.class_names, f"{dataset.source}, first {limit:,}",
        )
    return dataset


def _load(name: str, split: str, data_dir: Any, offline: bool) -> ImageDataset:
    if name == "cifar10":
        for directory in _cifar10_directories(data_dir):
            if _has_cifar10_split(directory, split):
                return read_cifar10_directory(directory, split)
        if not offline and network_available(CIFAR10_HOST):
            return _download_cifar10(split)
        reason = "offline" if offline else "no network"
        fallback = _load_fashion_mnist(split) or _load_digits(split)
        print(
            f"reslib.data: CIFAR-10 is not available ({reason}, no local copy: set "
            f"RESLIB_DATA_DIR to a cifar-10-batches-py directory); using {TITLES[fallback.name]} "
            "instead.",
            file=sys.stderr,
        )
        return fallback
    if name == "fashion_mnist":
        dataset = _load_fashion_mnist(split)
        if dataset is None and not offline and network_available(("storage.googleapis.com", 443)):
            import keras

            dataset = _from_keras_arrays(
                "fashion_mnist", split, keras.datasets.fashion_mnist.load_data(), "keras.datasets"
            )
        if dataset is None:
            raise FileNotFoundError(
                "Fashion-MNIST is neither in Keras' cache nor in /usr/share/datasets/fashion-mnist "
                "(Debian: apt-get install dataset-fashion-mnist), and no download was possible."
            )
        return dataset
    return _load_digits(split)


def network_available(address: tuple[str, int], timeout: float = 2.0) -> bool:
    """True when a TCP connection to ``address`` opens within ``timeout`` seconds (DNS included)."""
    outcome: list[bool] = []

    def connect() -> None:
        try:
            with socket.create_connection(address, timeout=timeout):
                outcome.append(True)
        except OSError:
            outcome.append(False)

    thread = threading.Thread(target=connect, daemon=True)
    thread.start()
    thread.join(timeout)
    return bool(outcome and outcome[0])


def _keras_cache() -> Path:
    return Path(os.environ.get("KERAS_HOME", Path.home() / ".keras")) / "datasets"


def _cifar10_directories(data_dir: Any) -> list[Path]:
    given = data_dir or os.environ.get("RESLIB_DATA_DIR")
    candidates = [Path(given)] if given else []
    if given:
        candidates.append(Path(given) / "cifar-10-batches-py")
    candidates.append(_keras_cache() / "cifar-10-batches-py")
    return candidates


def _has_cifar10_split(directory: Path, split: str) -> bool:
    if not (directory / "batches.meta").is_file():
        return False
    if split == "test":
        return (directory / "test_batch").is_file()
    return any(directory.glob("data_batch_[1-5]"))


def _unpickle(path: Path) -> dict:
    with open(path, "rb") as file:
        return pickle.load(file, encoding="bytes")


def read_cifar10_directory(directory: str | os.PathLike, split: str = "train") -> ImageDataset:
    """Read the official CIFAR-10 "python version" directory (the batches that are present).

    Each batch is a pickled dict: ``b"data"`` is ``(10000, 3072)`` uint8, channel-major, so it is
    reshaped to ``(n, 3, 32, 32)`` and transposed to ``(n, 32, 32, 3)``.
    """
    directory = Path(directory)
    check.one_of("split", split, SPLITS)
    if split == "test":
        files = [directory / "test_batch"]
    else:
        files = sorted(directory.glob("data_batch_[1-5]"))
    if not files or not all(f.is_file() for f in files):
        raise FileNotFoundError(f"No CIFAR-10 {split} batches in {directory}.")
    batches = [_unpickle(path) for path in files]
    images = np.concatenate([b[b"data"] for b in batches]).reshape(-1, 3, 32, 32)
    labels = np.concatenate([np.asarray(b[b"labels"]) for b in batches]).astype("int64")
    meta = _unpickle(directory / "batches.meta")
    class_names = tuple(n.decode() for n in meta[b"label_names"])
    source = f"local copy {directory}"
    if split == "train":
        source += f", {len(files)} of {CIFAR10_TRAINING_BATCHES} training batches"
    return ImageDataset(
        "cifar10", split, images.transpose(0, 2, 3, 1).copy(), labels, class_names, source
    )


def _download_cifar10(split: str) -> ImageDataset:
    import keras

    arrays = keras.datasets.cifar10.load_data()
    return _from_keras_arrays("cifar10", split, arrays, "keras.datasets download")


CIFAR10_CLASSES = (
    "airplane", "automobile", "bird", "cat", "deer", "dog", "frog", "horse", "ship", "truck",
)
FASHION_MNIST_CLASSES = (
    "T-shirt/top", "Trouser", "Pullover", "Dress", "Coat",
    "Sandal", "Shirt", "Sneaker", "Bag", "Ankle boot",
)


def _from_keras_arrays(name: str, split: str, arrays: Any, source: str) -> ImageDataset:
    (x_train, y_train), (x_test, y_test) = arrays
    images, labels = (x_train, y_train) if split == "train" else (x_test, y_test)
    if images.ndim == 3:
        images = images[..., None]
    classes = CIFAR10_CLASSES if name == "cifar10" else FASHION_MNIST_CLASSES
    return ImageDataset(name, split, images, labels.reshape(-1).astype("int64"), classes, source)


def read_idx(path: str | os.PathLike) -> np.ndarray:
    """Read an IDX file (the MNIST / Fashion-MNIST format), gzipped or not, as a uint8 array."""
    path = Path(path)
    opener = gzip.open if path.suffix == ".gz" else open
    with opener(path, "rb") as file:
        data = file.read()
    if data[:2] != b"\x00\x00" or data[2] != 0x08:
        raise ValueError(f"{path} is not an unsigned-byte IDX file (magic {data[:4]!r}).")
    dims = data[3]
    shape = tuple(int.from_bytes(data[4 + 4 * i: 8 + 4 * i], "big") for i in range(dims))
    return np.frombuffer(data, dtype=np.uint8, offset=4 + 4 * dims).reshape(shape)


def _load_fashion_mnist(split: str) -> ImageDataset | None:
    prefix = "train" if split == "train" else "t10k"
    for directory in (_keras_cache() / "fashion-mnist", *FASHION_MNIST_DIRS):
        images_path = directory / f"{prefix}-images-idx3-ubyte.gz"
        labels_path = directory / f"{prefix}-labels-idx1-ubyte.gz"
        if images_path.is_file() and labels_path.is_file():
            images = read_idx(images_path)[..., None]
            labels = read_idx(labels_path).astype("int64")
            return ImageDataset(
                "fashion_mnist", split, images, labels, FASHION_MNIST_CLASSES, str(directory)
            )
    return None


def digits_arrays() -> tuple[np.ndarray, np.ndarray]:
    """The 1,797 digits as scikit-learn's ``load_digits`` gives them, from reslib's own copy.

    Returns ``(pixels, labels)``: uint8 ``(1797, 8, 8)`` with values 0-16 and int ``(1797,)``
    (UCI "Optical Recognition of Handwritten Digits", Alpaydin and Kaynak 1998, CC BY 4.0).
    """
    from importlib.resources import files

    with (files("reslib") / "offline_data" / "digits.npz").open("rb") as file, np.load(
        file
    ) as arrays:
        return arrays["pixels"], arrays["labels"].astype("int64")


def _load_digits(split: str) -> ImageDataset:
    """The 1,797 8x8 digits scaled to uint8 ``(n, 8, 8, 1)``; a fixed 80/20 train/test split."""
    pixels, labels = digits_arrays()
    images = np.round(pixels * (255 / 16)).astype("uint8")[..., None]
    order = np.random.default_rng(0).permutation(len(images))
    cut = int(0.8 * len(images))
    chosen = order[:cut] if split == "train" else order[cut:]
    return ImageDataset(
        "digits", split, images[chosen], labels[chosen], tuple(str(d) for d in range(10)),
        "scikit-learn's load_digits, as shipped with reslib; fixed 80/20 split",
    )


def downsample(dataset: ImageDataset, size: int) -> ImageDataset:
    """``dataset`` with its images average-pooled to ``size x size`` (a divisor of their size).

    The same dataset when ``size`` is already theirs; the source says what was done, so every
    result names the resolution it trained at. ``(n, h, w, c) -> (n, size, size, c)``, uint8.
    """
    height = dataset.images.shape[1]
    if size == height:
        return dataset
    if isinstance(size, bool) or not isinstance(size, int) or size <= 0 or height % size:
        raise ValueError(f"`size` must be a positive divisor of the image size {height}; got "
                         f"size={size!r}.")
    factor, channels = height // size, dataset.images.shape[-1]
    images = dataset.images.reshape(len(dataset), size, factor, size, factor, channels)
    pooled = images.mean(axis=(2, 4)).round().astype(dataset.images.dtype)
    return ImageDataset(dataset.name, dataset.split, pooled, dataset.labels,
                        dataset.class_names, f"{dataset.source}, pooled to {size}x{size}")


def channel_statistics(dataset: ImageDataset) -> tuple[np.ndarray, np.ndarray]:
    """Per-channel mean and standard deviation of ``dataset``'s pixels scaled to [0, 1]."""
    pixels = dataset.images.reshape(-1, dataset.images.shape[-1]).astype("float64") / 255.0
    return pixels.mean(axis=0).astype("float32"), pixels.std(axis=0).astype("float32")


PIPELINE_ENGINES = ("auto", "tf.data", "numpy")


def training_pipeline(
    dataset: ImageDataset,
    batch_size: int = 128,
    augment: bool = True,
    shuffle: bool = True,
    statistics: tuple[np.ndarray, np.ndarray] | None = None,
    padding: int | None = None,
    seed: int = 0,
    engine: str = "auto",
) -> Any:
    """Normalised, optionally augmented ``(images, labels)`` batches for ``model.fit``.

    Args:
        dataset: from ``load_dataset``.
        batch_size: examples per batch; the last batch may be smaller.
        augment: pad ``padding`` pixels of zeros, crop back at random, flip left-right at random
            (He et al. 2016a, section 4.2); use ``False`` for evaluation.
        shuffle: reshuffle every epoch.
        statistics: per-channel ``(mean, std)``; default: those of ``dataset`` (pass the
            training set's when building the test pipeline).
        padding: pixels of zero padding before the random crop; default an eighth of the
            image height (4 pixels for CIFAR's 32, 1 for the 8x8 digits).
        seed: for shuffling and augmentation.
        engine: ``"tf.data"`` (prefetching ``tf.data.Dataset``), ``"numpy"`` (an
            ``ArrayPipeline``, a ``keras.utils.PyDataset`` that needs no TensorFlow, for JAX or
            PyTorch installs without it) or ``"auto"``: tf.data when TensorFlow is installed.

    Returns:
        Batches of float32 images ``(batch, height, width, channels)`` and int labels
        ``(batch,)``, prefetched so the accelerator does not wait.
    """
    check.positive_int("batch_size", batch_size)
    check.one_of("engine", engine, PIPELINE_ENGINES)
    mean, std = statistics if statistics is not None else channel_statistics(dataset)
    height = dataset.images.shape[1]
    padding = max(1, round(height / 8)) if padding is None else padding
    if engine == "auto":
        engine = "tf.data" if tensorflow_installed() else "numpy"
    settings = dict(batch_size=batch_size, augment=augment, shuffle=shuffle,
                    statistics=(mean, std), padding=padding, seed=seed)
    if engine == "numpy":
        return ArrayPipeline(dataset, **settings, workers=min(4, os.cpu_count() or 1))
    return _tf_data_pipeline(dataset, **settings)


def tensorflow_installed() -> bool:
    """Whether TensorFlow can be imported here (without importing it)."""
    import importlib.util

    return importlib.util.find_spec("tensorflow") is not None


def _tf_data_pipeline(
    dataset: ImageDataset, batch_size: int, augment: bool, shuffle: bool,
    statistics: tuple[np.ndarray, np.ndarray], padding: int, seed: int,
) -> Any:
    """``training_pipeline``'s ``tf.data`` engine (arguments as there)."""
    import tensorflow as tf

    mean, std = statistics
    height, width = dataset.images.shape[1:3]
    pipeline = tf.data.Dataset.from_tensor_slices((dataset.images, dataset.labels))
    if shuffle:
        pipeline = pipeline.shuffle(len(dataset), seed=seed, reshuffle_each_iteration=True)
    # One random number per example from a seeded stream (a new one every epoch) keys stateless
    # crops and flips: stateful random ops inside a parallel map depend on the threads' order,
    # so the same seed gave different numbers from run to run.
    keys = tf.data.Dataset.random(seed=seed, rerandomize_each_iteration=True)
    pipeline = tf.data.Dataset.zip((pipeline, keys))

    def prepare(example: Any, key: Any) -> tuple[Any, Any]:
        image, label = example
        image = tf.cast(image, tf.float32) / 255.0
        if augment:  # pad with black pixels, as torchvision's RandomCrop(padding=4) does
            crop_key = tf.stack([key, tf.constant(0, tf.int64)])
            flip_key = tf.stack([key, tf.constant(1, tf.int64)])
            image = tf.pad(image, [[padding, padding], [padding, padding], [0, 0]])
            image = tf.image.stateless_random_crop(image, (height, width, image.shape[-1]),
                                                   seed=crop_key)
            image = tf.image.stateless_random_flip_left_right(image, seed=flip_key)
        return (image - mean) / std, label

    pipeline = pipeline.map(prepare, num_parallel_calls=tf.data.AUTOTUNE)
    return pipeline.batch(batch_size).prefetch(tf.data.AUTOTUNE)


class ArrayPipeline(keras.utils.PyDataset):
    """``training_pipeline``'s NumPy engine: a ``keras.utils.PyDataset`` over an ImageDataset.

    The same augmentation as the tf.data engine (zero padding, random crop, random left-right
    flip), on the uint8 images before they are normalised. Batch ``i`` of epoch ``e`` depends
    only on ``(seed, e, i)``, so worker threads (``workers=``) give the same batches as one.

    Yields ``(images (batch, height, width, channels) float32, labels (batch,))``.
    """

    def __init__(
        self, dataset: ImageDataset, batch_size: int, augment: bool, shuffle: bool,
        statistics: tuple[np.ndarray, np.ndarray], padding: int, seed: int,
        workers: int = 1, max_queue_size: int = 10,
    ) -> None:
        super().__init__(workers=workers, max_queue_size=max_queue_size)
        self.images, self.labels = dataset.images, dataset.labels
        self.batch_size, self.augment, self.shuffle = batch_size, augment, shuffle
        mean, std = (np.asarray(value, "float32") for value in statistics)
        # (pixel / 255 - mean) / std as one multiply-add
        self.scale, self.shift = 1.0 / (255.0 * std), -mean / std
        self.padding, self.seed, self.epoch = padding, seed, 0
        self.order = self._order()

    def _order(self) -> np.ndarray:
        if not self.shuffle:
            return np.arange(len(self.labels))
        return np.random.default_rng((self.seed, self.epoch)).permutation(len(self.labels))

    def __len__(self) -> int:
        return -(-len(self.labels) // self.batch_size)

    def __getitem__(self, index: int) -> tuple[np.ndarray, np.ndarray]:
        if not 0 <= index < len(self):
            raise IndexError(f"batch {index} of a pipeline of {len(self)} batches")
        chosen = self.order[index * self.batch_size:(index + 1) * self.batch_size]
        images = self.images[chosen]
        if self.augment:  # zero padding of the raw image, as the tf.data engine pads 0.0
            rng = np.random.default_rng((self.seed, self.epoch, index))
            images = random_crop_and_flip(images, self.padding, rng)
        return images.astype("float32") * self.scale + self.shift, self.labels[chosen]

    def on_epoch_end(self) -> None:
        self.epoch += 1
        self.order = self._order()


def random_crop_and_flip(
    images: np.ndarray, padding: int, rng: np.random.Generator
) -> np.ndarray:
    """Pad ``images (n, h, w, c)`` with ``padding`` zeros, crop each back to ``(h, w)`` at a
    random offset and flip each left-right with probability 1/2 (He et al. 2016a, 4.2).

    Any dtype; on the raw uint8 images it moves a quarter of the bytes of float32 (the
    NumPy engine crops before it converts). A loop of slices beats one fancy-indexing gather
    here (about 2.5x on CIFAR batches of 128).
    """
    count, height, width, _ = images.shape
    padded = np.pad(images, ((0, 0), (padding, padding), (padding, padding), (0, 0)))
    top = rng.integers(0, 2 * padding + 1, size=count)
    left = rng.integers(0, 2 * padding + 1, size=count)
    flip = rng.random(count) < 0.5
    cropped = np.empty_like(images)
    for index in range(count):
        crop = padded[index, top[index]:top[index] + height, left[index]:left[index] + width]
        cropped[index] = crop[:, ::-1] if flip[index] else crop
    return cropped
