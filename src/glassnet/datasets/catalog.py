"""The named datasets glassnet can download: where they live, and the checksums that prove a file is right.

Every file's SHA-256 is written here, with where it was found. A download is kept only if
its SHA-256 matches; mirrors are tried in order. Sizes show progress and the listing, and cap
what a mirror may send (the size plus 1% and 64 KiB, ``download.size_cap``); the checksum decides.

Where the sums come from (checked on 2026-11-25 against independent public sources):

- MNIST: the same four SHA-256 sums appear in several independent projects that pin the
  files (e.g. torchvision-ruby's MNIST resources, and TensorFlow-mirror fetch scripts); the
  byte sizes agree with those published next to them.
- Fashion-MNIST: the SHA-256 sums appear in torchvision's prototype dataset definitions and
  in several other projects, each together with Zalando's published MD5 sums
  (https://github.com/zalandoresearch/fashion-mnist, README), which are kept here too.
  Debian's ``dataset-fashion-mnist`` package ships the same data recompressed without the
  file name in the gzip header (24 and 23 bytes shorter), so its files have other sums:
  those were computed here from the installed package and are listed as ``also_known``
  (they identify a local copy; they are never accepted for a download).
- KMNIST: SHA-256 sums from torchvision's prototype datasets and torchvision-ruby (they agree);
  CODH's published MD5 sums (https://github.com/rois-codh/kmnist) are kept too.
- EMNIST: NIST ships all six EMNIST sets in one zip (``gzip.zip``, about 562 MB). Its SHA-256
  appears in several independent projects; torchvision pins its MD5. glassnet downloads the
  zip, checks it, extracts the four ``emnist-digits-*`` files (zip's CRC-32 checks each one)
  and deletes the zip. EMNIST stores each image transposed, so it is transposed back on load.
"""

from dataclasses import dataclass, field

DIGIT_CLASSES = tuple(str(d) for d in range(10))
FASHION_CLASSES = ("T-shirt/top", "Trouser", "Pullover", "Dress", "Coat", "Sandal", "Shirt", "Sneaker", "Bag",
                   "Ankle boot")
# The ten hiragana of KMNIST, in label order (CODH's kmnist_classmap.csv), with their romanisation.
KMNIST_CLASSES = ("お (o)", "き (ki)", "す (su)", "つ (tsu)", "な (na)", "は (ha)", "ま (ma)", "や (ya)", "れ (re)",
                  "を (wo)")

ROLES = ("train_images", "train_labels", "test_images", "test_labels")


@dataclass(frozen=True)
class RemoteFile:
    """One file to download: its name on the mirrors, SHA-256, size in bytes and the publisher's MD5."""

    name: str
    sha256: str
    size: int | None = None
    md5: str | None = None
    also_known: tuple = ()      # SHA-256 of known repackagings (e.g. Debian's), to recognise local copies


@dataclass(frozen=True)
class NamedDataset:
    """A dataset glassnet knows by name."""

    name: str
    title: str
    description: str
    classes: tuple
    licence: str
    source: str
    citation: str
    mirrors: tuple               # base URLs, tried in order; a file's URL is mirror + file name
    files: dict                  # role (train_images, ...) -> RemoteFile, or -> member name inside `archive`
    n_train: int
    n_test: int
    shape: tuple = (28, 28)
    archive: RemoteFile | None = None   # one download holding the files (EMNIST's gzip.zip)
    transpose: bool = False      # images stored transposed (EMNIST)
    aliases: tuple = field(default=())

    @property
    def download_size(self):
        """Bytes to download (None if a size is not known)."""
        parts = [self.archive] if self.archive else list(self.files.values())
        sizes = [f.size for f in parts]
        return None if None in sizes else sum(sizes)

    def file_names(self):
        """role -> the file name kept in the cache."""
        return {role: (f if isinstance(f, str) else f.name) for role, f in self.files.items()}


MNIST = NamedDataset(
    name="mnist", title="MNIST handwritten digits",
    description="70,000 handwritten digits (28x28 grayscale), the classic benchmark: 60,000 train / 10,000 test",
    classes=DIGIT_CLASSES,
    licence="CC BY-SA 3.0 (Yann LeCun and Corinna Cortes)",
    source="http://yann.lecun.com/exdb/mnist/",
    citation="Y. LeCun, L. Bottou, Y. Bengio, P. Haffner. Gradient-based learning applied to document "
             "recognition. Proc. IEEE 86(11), 1998.",
    mirrors=("https://ossci-datasets.s3.amazonaws.com/mnist/",          # PyTorch's mirror
             "https://storage.googleapis.com/cvdf-datasets/mnist/",     # TensorFlow's mirror
             "http://yann.lecun.com/exdb/mnist/"),                      # the original (often refuses scripts)
    files={
        "train_images": RemoteFile("train-images-idx3-ubyte.gz", size=9_912_422,
                                   md5="f68b3c2dcbeaaa9fbdd348bbdeb94873",
                                   sha256="440fcabf73cc546fa21475e81ea370265605f56be210a4024d2ca8f203523609"),
        "train_labels": RemoteFile("train-labels-idx1-ubyte.gz", size=28_881,
                                   md5="d53e105ee54ea40749a09fcbcd1e9432",
                                   sha256="3552534a0a558bbed6aed32b30c495cca23d567ec52cac8be1a0730e8010255c"),
        "test_images": RemoteFile("t10k-images-idx3-ubyte.gz", size=1_648_877,
                                  md5="9fb629c4189551a2d022fa330f9573f3",
                                  sha256="8d422c7b0a1c1c79245a5bcf07fe86e33eeafee792b84584aec276f5a2dbc4e6"),
        "test_labels": RemoteFile("t10k-labels-idx1-ubyte.gz", size=4_542,
                                  md5="ec29112dd5afa0611ce80d1b7f02629c",
                                  sha256="f7ae60f92e00ec6debd23a6088c31dbd2371eca3ffa0defaefb259924204aec6"),
    },
    n_train=60_000, n_test=10_000)

FASHION_MNIST = NamedDataset(
    name="fashion-mnist", title="Fashion-MNIST (Zalando article images)",
    description="70,000 images of clothing in 10 classes (28x28 grayscale), a harder drop-in for MNIST: "
                "60,000 train / 10,000 test",
    classes=FASHION_CLASSES,
    licence="MIT (Zalando SE)",
    source="https://github.com/zalandoresearch/fashion-mnist",
    citation="H. Xiao, K. Rasul, R. Vollgraf. Fashion-MNIST: a Novel Image Dataset for Benchmarking Machine "
             "Learning Algorithms. arXiv:1708.07747, 2017.",
    mirrors=("http://fashion-mnist.s3-website.eu-central-1.amazonaws.com/",             # the official download
             "https://raw.githubusercontent.com/zalandoresearch/fashion-mnist/master/data/fashion/"),
    files={
        "train_images": RemoteFile("train-images-idx3-ubyte.gz", size=26_421_880,
                                   md5="8d4fb7e6c68d591d4c3dfef9ec88bf0d",
                                   sha256="3aede38d61863908ad78613f6a32ed271626dd12800ba2636569512369268a84",
                                   also_known=("b0564c3eedabfbf835052cff8503ea422014ce006caf5b757f851416ee8300c7",)),
        "train_labels": RemoteFile("train-labels-idx1-ubyte.gz", size=29_515,
                                   md5="25c81989df183df01b3e8a0aad5dffbe",
                                   sha256="a04f17134ac03560a47e3764e11b92fc97de4d1bfaf8ba1a3aa29af54cc90845",
                                   also_known=("0ae29f65d86684f32d1b9c85147786c547b9c6aebcaf235f0400a0cce308b056",)),
        "test_images": RemoteFile("t10k-images-idx3-ubyte.gz", size=4_422_102,
                                  md5="bef4ecab320f06d8554ea6380940ec79",
                                  sha256="346e55b948d973a97e58d2351dde16a484bd415d4595297633bb08f03db6a073",
                                  also_known=("cc1d090a38ace84dfa1aa66e3ada7c336ef481a96936906477e6dd344da56eaa",)),
        "test_labels": RemoteFile("t10k-labels-idx1-ubyte.gz", size=5_148,
                                  md5="bb300cfdad3c16e7a12a480ee83cd310",
                                  sha256="67da17c76eaffca5446c3361aaab5c3cd6d1c2608764d35dfb1850b086bf8dd5",
                                  also_known=("8d3605d196f4be44669e46906da9733c8131fef761fdbfec72c424d5222f1a05",)),
    },
    n_train=60_000, n_test=10_000, aliases=("fashion_mnist", "fashionmnist", "fashion"))

KMNIST = NamedDataset(
    name="kmnist", title="Kuzushiji-MNIST (cursive Japanese hiragana)",
    description="70,000 images of 10 cursive hiragana from classical Japanese books (28x28 grayscale): "
                "60,000 train / 10,000 test",
    classes=KMNIST_CLASSES,
    licence="CC BY-SA 4.0 (ROIS-DS Center for Open Data in the Humanities, from the NIJL Kuzushiji dataset)",
    source="https://github.com/rois-codh/kmnist",
    citation="T. Clanuwat, M. Bober-Irizar, A. Kitamoto, A. Lamb, K. Yamamoto, D. Ha. Deep Learning for "
             "Classical Japanese Literature. arXiv:1812.01718, 2018. doi:10.20676/00000341",
    mirrors=("https://codh.rois.ac.jp/kmnist/dataset/kmnist/", "http://codh.rois.ac.jp/kmnist/dataset/kmnist/"),
    files={
        "train_images": RemoteFile("train-images-idx3-ubyte.gz", size=18_165_135,
                                   md5="bdb82020997e1d708af4cf47b453dcf7",
                                   sha256="51467d22d8cc72929e2a028a0428f2086b092bb31cfb79c69cc0a90ce135fde4"),
        "train_labels": RemoteFile("train-labels-idx1-ubyte.gz", size=29_497,
                                   md5="e144d726b3acfaa3e44228e80efcd344",
                                   sha256="e38f9ebcd0f3ebcdec7fc8eabdcdaef93bb0df8ea12bee65224341c8183d8e17"),
        "test_images": RemoteFile("t10k-images-idx3-ubyte.gz", size=3_041_136,
                                  md5="5c965bf0a639b31b8f53240b1b52f4d7",
                                  sha256="edd7a857845ad6bb1d0ba43fe7e794d164fe2dce499a1694695a792adfac43c5"),
        "test_labels": RemoteFile("t10k-labels-idx1-ubyte.gz", size=5_120,
                                  md5="7320c461ea6c1c855c0b718fb2a4b134",
                                  sha256="20bb9a0ef54c7db3efc55a92eef5582c109615df22683c380526788f98e42a1c"),
    },
    n_train=60_000, n_test=10_000, aliases=("kuzushiji-mnist", "k-mnist"))

EMNIST_DIGITS = NamedDataset(
    name="emnist-digits", title="EMNIST Digits (NIST Special Database 19)",
    description="280,000 handwritten digits in MNIST's format (28x28 grayscale), balanced: 240,000 train / "
                "40,000 test. Downloaded as NIST's 562 MB zip of all EMNIST sets, of which the digits are kept",
    classes=DIGIT_CLASSES,
    licence="no licence stated by NIST (US government work); cite Cohen et al. 2017",
    source="https://www.nist.gov/itl/products-and-services/emnist-dataset",
    citation="G. Cohen, S. Afshar, J. Tapson, A. van Schaik. EMNIST: an extension of MNIST to handwritten "
             "letters. arXiv:1702.05373, 2017.",
    mirrors=("https://biometrics.nist.gov/cs_links/EMNIST/", "https://www.itl.nist.gov/iaui/vip/cs_links/EMNIST/"),
    archive=RemoteFile("gzip.zip", size=561_753_746,
                       md5="58c8d27c78d21e728a6bc7b3cc06412e",
                       sha256="fb9bb67e33772a9cc0b895e4ecf36d2cf35be8b709693c3564cea2a019fcda8e"),
    files={"train_images": "emnist-digits-train-images-idx3-ubyte.gz",
           "train_labels": "emnist-digits-train-labels-idx1-ubyte.gz",
           "test_images": "emnist-digits-test-images-idx3-ubyte.gz",
           "test_labels": "emnist-digits-test-labels-idx1-ubyte.gz"},
    n_train=240_000, n_test=40_000, transpose=True, aliases=("emnist_digits", "emnist"))

#: name -> NamedDataset, in the order ``glassnet datasets`` lists them.
CATALOG = {entry.name: entry for entry in (MNIST, FASHION_MNIST, KMNIST, EMNIST_DIGITS)}


def lookup(name):
    """The catalog entry for a name or alias (case and ``_``/``-`` ignored), or None."""
    key = str(name).strip().lower().replace("_", "-")
    for entry in CATALOG.values():
        if key == entry.name or key in {a.replace("_", "-") for a in entry.aliases}:
            return entry
    return None
