"""Every number and finding the course quotes from a paper, with where in the paper it stands.

The lessons' "compare with the paper" tables, the experiments' ``PAPER_*`` views and the prose
of lessons, exercises and README take their paper numbers from here, and ``tests/test_papers.py``
checks that they do. Each number is quoted from the one table, figure or section that gives it
(``where``); a number read off a figure rather than printed in the paper is marked ``approx``.

>>> quote("he2016a.table6.resnet-56.error")
'6.97%'
>>> cite("he2016a.table6.resnet-56.error")
'He et al. 2016a, Table 6'
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from types import MappingProxyType

REFERENCES: Mapping[str, str] = MappingProxyType({
    "He et al. 2016a": "K. He, X. Zhang, S. Ren, J. Sun. Deep Residual Learning for Image "
                       "Recognition. CVPR 2016.",
    "He et al. 2016b": "K. He, X. Zhang, S. Ren, J. Sun. Identity Mappings in Deep Residual "
                       "Networks. ECCV 2016.",
    "Huang et al. 2016": "G. Huang, Y. Sun, Z. Liu, D. Sedra, K. Weinberger. Deep Networks with "
                         "Stochastic Depth. ECCV 2016.",
    "Xie et al. 2017": "S. Xie, R. Girshick, P. Dollar, Z. Tu, K. He. Aggregated Residual "
                       "Transformations for Deep Neural Networks. CVPR 2017.",
    "Huang et al. 2017": "G. Huang, Z. Liu, L. van der Maaten, K. Weinberger. Densely Connected "
                         "Convolutional Networks. CVPR 2017.",
    "Srivastava et al. 2015": "R. K. Srivastava, K. Greff, J. Schmidhuber. Training Very Deep "
                              "Networks. NeurIPS 2015.",
    "Veit et al. 2016": "A. Veit, M. Wilber, S. Belongie. Residual Networks Behave Like Ensembles "
                        "of Relatively Shallow Networks. NeurIPS 2016.",
    "Xiong et al. 2020": "R. Xiong et al. On Layer Normalization in the Transformer Architecture. "
                         "ICML 2020.",
    "Ronneberger et al. 2015": "O. Ronneberger, P. Fischer, T. Brox. U-Net: Convolutional "
                               "Networks for Biomedical Image Segmentation. MICCAI 2015.",
    "Wu et al. 2016": "Y. Wu et al. Google's Neural Machine Translation System: Bridging the Gap "
                      "between Human and Machine Translation. arXiv:1609.08144, 2016.",
    "Bachlechner et al. 2020": "T. Bachlechner, B. P. Majumder, H. H. Mao, G. W. Cottrell, "
                              "J. McAuley. ReZero is All You Need: Fast Convergence at Large "
                              "Depth. arXiv:2003.04887, 2020.",
    "Yang et al. 2019": "G. Yang, J. Pennington, V. Rao, J. Sohl-Dickstein, S. S. Schoenholz. A "
                        "Mean Field Theory of Batch Normalization. ICLR 2019.",
    "Li et al. 2018": "H. Li, Z. Xu, G. Taylor, C. Studer, T. Goldstein. Visualizing the Loss "
                      "Landscape of Neural Nets. NeurIPS 2018.",
})
"""The papers, by the short name the course cites them with."""

_WHERE = re.compile(r"^(Table \d+|Fig\. \d+[a-z]?|section [\d.]+|eq\. \d+|abstract)"
                    r"( and (Fig\. \d+[a-z]?|section [\d.]+))?$")


@dataclass(frozen=True)
class PaperNumber:
    """One number a paper gives.

    Attributes:
        value: the number as the paper prints it (a percentage as ``6.97``, not ``0.0697``).
        unit: ``"%"``, ``"M"`` (millions, of parameters), ``"G"`` (billions, of multiply-adds)
            or ``""`` (a count, a rate, a ratio); ``quote`` writes it after the value.
        paper: a key of ``REFERENCES``.
        where: the table, figure or section that gives it, e.g. ``"Table 6"``.
        what: what was measured, in words.
        approx: read off a figure or rounded by the paper's own words ("about 40"), not printed
            as an exact table entry.
    """

    value: float
    unit: str
    paper: str
    where: str
    what: str
    approx: bool = False

    def __post_init__(self) -> None:
        if self.paper not in REFERENCES:
            raise ValueError(f"`paper` must be one of {sorted(REFERENCES)}; got {self.paper!r}.")
        if self.unit not in ("%", "M", "G", ""):
            raise ValueError(f"`unit` must be one of '%', 'M', 'G', ''; got {self.unit!r}.")
        if not _WHERE.match(self.where):
            raise ValueError(f"`where` must name a table, figure, section, equation or the "
                             f"abstract (e.g. 'Table 6', 'Fig. 3', 'section 4.2'); got "
                             f"{self.where!r}.")

    @property
    def text(self) -> str:
        """The number as the course writes it: ``"6.97%"``, ``"0.27M"``, ``"about 40"``."""
        number = f"{self.value:g}" if abs(self.value) >= 1e-3 or self.value == 0 else (
            f"{self.value:.7f}".rstrip("0"))
        return ("about " if self.approx else "") + number + self.unit


@dataclass(frozen=True)
class PaperFinding:
    """One qualitative result a paper shows (a curve's shape, a trend), in the course's words."""

    statement: str
    paper: str
    where: str

    def __post_init__(self) -> None:
        if self.paper not in REFERENCES:
            raise ValueError(f"`paper` must be one of {sorted(REFERENCES)}; got {self.paper!r}.")
        if not _WHERE.match(self.where):
            raise ValueError(f"`where` must name a table, figure, section, equation or the "
                             f"abstract; got {self.where!r}.")

    @property
    def text(self) -> str:
        return self.statement


def _numbers() -> dict[str, PaperNumber | PaperFinding]:
    n, f = PaperNumber, PaperFinding
    he_a, he_b = "He et al. 2016a", "He et al. 2016b"
    table: dict[str, PaperNumber | PaperFinding] = {}
    # He et al. 2016a, Table 6: CIFAR-10 test error (%) and parameters of the CIFAR ResNets
    # (trained on the 50k training images with augmentation; 110 layers: best of 5 runs).
    for depth, error, params in ((20, 8.75, 0.27), (32, 7.51, 0.46), (44, 7.17, 0.66),
                                 (56, 6.97, 0.85), (110, 6.43, 1.7), (1202, 7.93, 19.4)):
        table[f"he2016a.table6.resnet-{depth}.error"] = n(
            error, "%", he_a, "Table 6", f"CIFAR-10 test error of ResNet-{depth}")
        table[f"he2016a.table6.resnet-{depth}.params"] = n(
            params, "M", he_a, "Table 6", f"parameters of ResNet-{depth} (CIFAR)")
    table["he2016a.table6.resnet-110.mean_error"] = n(
        6.61, "%", he_a, "Table 6", "CIFAR-10 test error of ResNet-110, mean of 5 runs")
    table.update({
        "he2016a.table1.resnet-34.gflops": n(
            3.6, "G", he_a, "Table 1", "multiply-adds of ResNet-34 on a 224x224 image"),
        "he2016a.table1.resnet-50.gflops": n(
            3.8, "G", he_a, "Table 1", "multiply-adds of ResNet-50 on a 224x224 image"),
        "he2016a.table3.resnet-34-A.top1": n(
            25.03, "%", he_a, "Table 3", "ImageNet top-1 val. error (10-crop), ResNet-34 A"),
        "he2016a.table3.resnet-34-B.top1": n(
            24.52, "%", he_a, "Table 3", "ImageNet top-1 val. error (10-crop), ResNet-34 B"),
        "he2016a.table3.resnet-34-C.top1": n(
            24.19, "%", he_a, "Table 3", "ImageNet top-1 val. error (10-crop), ResNet-34 C"),
        "he2016a.cifar.iterations": n(
            64000, "", he_a, "section 4.2", "SGD iterations of the CIFAR-10 recipe (batch 128)"),
        "he2016a.cifar.batch": n(128, "", he_a, "section 4.2", "mini-batch size on CIFAR-10"),
        "he2016a.cifar.learning_rate": n(
            0.1, "", he_a, "section 4.2", "initial learning rate on CIFAR-10"),
        "he2016a.cifar.momentum": n(0.9, "", he_a, "section 4.2", "SGD momentum on CIFAR-10"),
        "he2016a.cifar.weight_decay": n(
            0.0001, "", he_a, "section 4.2", "weight decay on CIFAR-10"),
        "he2016a.cifar.warmup_learning_rate": n(
            0.01, "", he_a, "section 4.2",
            "warm-up learning rate of ResNet-110, until the training error is below 80%"),
        "he2016a.cifar.warmup_iterations": n(
            400, "", he_a, "section 4.2", "length of ResNet-110's warm-up", approx=True),
        "he2016a.fig6.plain": f(
            "> 0 (left panel: plain-56 above plain-20 over the whole run)", he_a, "Fig. 6"),
        "he2016a.fig6.resnet": f(
            "< 0 (middle panel: ResNet-56 below ResNet-20)", he_a, "Fig. 6"),
    })
    # He et al. 2016b, Table 3: CIFAR-10 test error (%), original (post-activation) against
    # pre-activation units, 50k augmented training images.
    for depth, post, pre in ((110, 6.61, 6.37), (164, 5.93, 5.46), (1001, 7.61, 4.92)):
        table[f"he2016b.table3.resnet-{depth}.error"] = n(
            post, "%", he_b, "Table 3", f"CIFAR-10 test error, ResNet-{depth}, original unit")
        table[f"he2016b.table3.resnet-{depth}-preact.error"] = n(
            pre, "%", he_b, "Table 3", f"CIFAR-10 test error, ResNet-{depth}, pre-activation")
    # He et al. 2016b, Table 4: parameters of the pre-activation CIFAR ResNets.
    for depth, params in ((164, 1.7), (1001, 10.2)):
        table[f"he2016b.table4.resnet-{depth}-preact.params"] = n(
            params, "M", he_b, "Table 4", f"parameters of the pre-activation ResNet-{depth}")
    # He et al. 2016b, section 4.2 ("ease of optimization", "reducing overfitting"): what the
    # ReLU after the addition does at 1001 layers (Fig. 1) and at 164 (Fig. 6, right).
    table.update({
        "he2016b.fig1.resnet-1001": f(
            "original unit: training error falls very slowly at the start; pre-activation "
            "eases optimisation", he_b, "section 4.2 and Fig. 1"),
        "he2016b.fig6.resnet-164": f(
            "original unit: the ReLU after the addition is not severe, a little slower at the "
            "start of training, then healthy", he_b, "section 4.2 and Fig. 6"),
        "he2016b.fig6.resnet-164-preact": f(
            "pre-activation: slightly higher training loss at convergence but lower test error "
            "(regularisation)", he_b, "section 4.2 and Fig. 6"),
    })
    # Xie et al. 2017, Table 1: ResNeXt-50 (32x4d) has about the parameters of ResNet-50.
    table["xie2017.table1.resnext-50.params"] = n(
        25.0, "M", "Xie et al. 2017", "Table 1", "parameters of ResNeXt-50 (32x4d)")
    dense, stoch = "Huang et al. 2017", "Huang et al. 2016"
    table.update({
        # Huang et al. 2017, Table 2 (C10+: CIFAR-10 with augmentation). Its ResNet-110 entry
        # is the re-implementation of Huang et al. 2016, not He et al. 2016a's 6.43%.
        "huang2017.table2.densenet-bc-100.params": n(
            0.8, "M", dense, "Table 2", "parameters of DenseNet-BC (L=100, k=12)"),
        "huang2017.table2.densenet-bc-100.error": n(
            4.51, "%", dense, "Table 2", "C10+ test error of DenseNet-BC (L=100, k=12)"),
        "huang2017.table2.resnet-110.params": n(
            1.7, "M", dense, "Table 2", "parameters of ResNet-110"),
        "huang2017.table2.resnet-110.error": n(
            6.41, "%", dense, "Table 2", "C10+ test error of ResNet-110 (as re-trained by "
            "Huang et al. 2016)"),
        # Huang et al. 2016: p_l is the *survival* probability of block l, p_l = 1 - l/L (1 - p_L).
        "huang2016.survival_last": n(
            0.5, "", stoch, "section 3", "survival probability p_L of the last block"),
        "huang2016.resnet-110.blocks": n(
            54, "", stoch, "section 3", "residual blocks L of ResNet-110"),
        "huang2016.resnet-110.expected_blocks": n(
            40, "", stoch, "section 3", "expected blocks per training step, (3L - 1)/4",
            approx=True),
        "huang2016.time_saving": n(
            25, "%", stoch, "section 3", "training time saved by stochastic depth", approx=True),
    })
    high, veit = "Srivastava et al. 2015", "Veit et al. 2016"
    for index, depth in enumerate((10, 20, 50, 100), start=1):
        table[f"srivastava2015.fig1.depth-{index}"] = n(
            depth, "", high, "Fig. 1", f"layers of the {index}. net of the depth sweep")
    table.update({
        "srivastava2015.highway_width": n(
            50, "", high, "section 4.1", "units per highway layer in the depth sweep"),
        "srivastava2015.plain_width": n(
            71, "", high, "section 4.1", "units per plain layer (about equal parameters)"),
        "srivastava2015.fig1.plain": f(
            "harder to optimise the deeper the net", high, "Fig. 1"),
        "srivastava2015.fig1.highway": f(
            "optimised well at every depth up to 100 layers", high, "Fig. 1"),
        "srivastava2015.gate_bias_example_1": n(
            -1, "", high, "section 2.2", "the milder example of a negative initial gate bias"),
        "srivastava2015.gate_bias_example_3": n(
            -3, "", high, "section 2.2", "the stronger example of a negative initial gate bias"),
        "srivastava2015.fig2.mnist_gate_bias": n(
            -2, "", high, "Fig. 2", "initial gate bias of the 50-layer MNIST highway net"),
        "srivastava2015.fig2.cifar100_gate_bias": n(
            -4, "", high, "Fig. 2", "initial gate bias of the 50-layer CIFAR-100 highway net"),
        "veit2016.resnet-110.blocks": n(54, "", veit, "section 3", "blocks of ResNet-110"),
        "veit2016.path_range_low": n(
            19, "", veit, "Fig. 6a", "shortest path length among the middle 95% of paths"),
        "veit2016.path_range_high": n(
            35, "", veit, "Fig. 6a", "longest path length among the middle 95% of paths"),
        "veit2016.fig3.resnet_intact": n(
            7, "%", veit, "Fig. 3", "CIFAR-10 test error of the intact ResNet-110",
            approx=True),
        "veit2016.fig3.resnet_one_deleted": f(
            "close to the intact error, except where a downsampling block is deleted", veit,
            "Fig. 3"),
        "veit2016.fig3.vgg_one_deleted": n(
            90, "%", veit, "Fig. 3", "CIFAR-10 test error of VGG-15 with any one layer deleted "
            "(chance)", approx=True),
    })
    table.update({
        "ronneberger2015.table2.phc-u373.iou": n(
            0.9203, "", "Ronneberger et al. 2015", "Table 2", "IoU on PhC-U373 (ISBI 2015)"),
        "ronneberger2015.table2.dic-hela.iou": n(
            0.7756, "", "Ronneberger et al. 2015", "Table 2", "IoU on DIC-HeLa (ISBI 2015)"),
        "ronneberger2015.table1.warping_error": n(
            0.0003529, "", "Ronneberger et al. 2015", "Table 1",
            "warping error on the ISBI 2012 EM segmentation challenge"),
        "wu2016.layers": n(8, "", "Wu et al. 2016", "section 3.1",
                           "LSTM layers of the encoder and of the decoder"),
        "wu2016.plain_stacks": f(
            "plain stacks: well up to 4 layers, barely with 6, very poorly beyond 8",
            "Wu et al. 2016", "section 3.1"),
        "wu2016.residual_stacks": f("residual stacks of 8 layers train", "Wu et al. 2016",
                                    "section 3.1"),
        "li2018.fig5.without_skips": f(
            "chaotic, non-convex from 56 layers on", "Li et al. 2018", "Fig. 5"),
        "li2018.fig5.with_skips": f(
            "smooth and nearly convex at every depth", "Li et al. 2018", "Fig. 5"),
        "bachlechner2020.identity_at_init": f(
            "every block starts as the identity (Jacobian = I)", "Bachlechner et al. 2020",
            "abstract"),
        "yang2019.plain_bn_gradients": f(
            "explode with depth at initialisation", "Yang et al. 2019", "abstract"),
        "xiong2020.post_ln_no_warmup": f(
            "trains badly at Adam's usual rates", "Xiong et al. 2020", "Fig. 2"),
        "xiong2020.post_ln_warmup": f(
            "trains; the warm-up is essential", "Xiong et al. 2020", "Fig. 2"),
        "xiong2020.pre_ln_no_warmup": f(
            "trains without warm-up, as fast or faster", "Xiong et al. 2020", "section 4"),
        "xiong2020.gradient_scaling": f(
            "last-layer gradients of pre-LN about 1/sqrt(L) of post-LN's at initialisation",
            "Xiong et al. 2020", "section 3"),
    })
    return table


NUMBERS: Mapping[str, PaperNumber | PaperFinding] = MappingProxyType(_numbers())
"""Every paper number and finding of the course, by key (``paper.table.model.quantity``)."""


def number(key: str) -> PaperNumber | PaperFinding:
    """The record stored under ``key``; a ``ValueError`` names the key and similar ones."""
    try:
        return NUMBERS[key]
    except KeyError:
        stem = key.split(".")[0]
        near = [k for k in NUMBERS if k.startswith(stem)] or sorted(NUMBERS)[:5]
        raise ValueError(f"`key` must be one of reslib.papers.NUMBERS; got {key!r}. Keys of "
                         f"{stem!r}: {', '.join(near)}.") from None


def value(key: str) -> float:
    """The numeric value under ``key`` (``ValueError`` for a qualitative finding)."""
    record = number(key)
    if not isinstance(record, PaperNumber):
        raise ValueError(f"`key` {key!r} holds a qualitative finding, not a number.")
    return record.value


def quote(key: str) -> str:
    """How the course writes the record: ``"6.97%"``, ``"about 40"``, or the finding."""
    return number(key).text


def cite(key: str) -> str:
    """Where it comes from: ``"He et al. 2016a, Table 6"``."""
    record = number(key)
    return f"{record.paper}, {record.where}"


def quote_cited(key: str) -> str:
    """``"6.97% (He et al. 2016a, Table 6)"``: the record and its source, for a table cell."""
    return f"{quote(key)} ({cite(key)})"


def view(keys: Mapping[str, str]) -> dict[str, float]:
    """``{name: value(key)}``: a dict of paper numbers under the names an experiment uses."""
    return {name: value(key) for name, key in keys.items()}


def numeric_values() -> frozenset[float]:
    """Every numeric value in ``NUMBERS`` (what a paper number in the prose may equal)."""
    return frozenset(r.value for r in NUMBERS.values() if isinstance(r, PaperNumber))
