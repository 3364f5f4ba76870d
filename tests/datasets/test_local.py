"""Your own data by path: folders of IDX files, .npz, .csv and folders of images."""

import numpy as np
import pytest

import glassnet as gn
from glassnet.datasets import DatasetError, load, write_idx
from glassnet.datasets.local import TEST_FRACTION
from optional import fashion_mnist_dir, need


# -- IDX folders --------------------------------------------------------------------------------
def make_idx_folder(folder, n_train=40, n_test=10, compress=True, names=None):
    folder.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(0)
    suffix = ".gz" if compress else ""
    names = names or ["train-images-idx3-ubyte", "train-labels-idx1-ubyte", "t10k-images-idx3-ubyte",
                      "t10k-labels-idx1-ubyte"]
    arrays = [rng.integers(0, 256, (n_train, 6, 5), dtype=np.uint8), np.arange(n_train, dtype=np.uint8) % 4,
              rng.integers(0, 256, (n_test, 6, 5), dtype=np.uint8), np.arange(n_test, dtype=np.uint8) % 4]
    for name, array in zip(names, arrays):
        write_idx(folder / (name + suffix), array)
    return arrays


@pytest.mark.parametrize("compress", [True, False])
def test_folder_of_idx_files(tmp_path, compress):
    arrays = make_idx_folder(tmp_path / "mine", compress=compress)
    data = load(tmp_path / "mine")
    assert data.name == "mine" and data.shape == (6, 5) and data.classes == ["0", "1", "2", "3"]
    assert data.X_train.shape == (40, 30) and data.X_train.dtype == np.float32
    np.testing.assert_array_equal(data.X_test, arrays[2].reshape(10, -1) / np.float32(255))
    np.testing.assert_array_equal(data.y_train, arrays[1])
    raw = load(tmp_path / "mine", flatten=False, scale=False)
    assert raw.X_train.dtype == np.uint8 and raw.X_train.shape == (40, 6, 5)


def test_idx_folder_with_emnist_style_names(tmp_path):
    make_idx_folder(tmp_path / "e", names=["emnist-x-train-images-idx3-ubyte", "emnist-x-train-labels-idx1-ubyte",
                                           "emnist-x-test-images-idx3-ubyte", "emnist-x-test-labels-idx1-ubyte"])
    assert load(tmp_path / "e").X_test.shape == (10, 30)


def test_idx_folder_problems(tmp_path):
    make_idx_folder(tmp_path / "a")
    (tmp_path / "a" / "t10k-labels-idx1-ubyte.gz").unlink()
    with pytest.raises(DatasetError, match="missing the test labels"):
        load(tmp_path / "a")
    make_idx_folder(tmp_path / "b")
    write_idx(tmp_path / "b" / "t10k-labels-idx1-ubyte.gz", np.zeros(3, np.uint8))
    with pytest.raises(DatasetError, match="10 test images but 3 test labels"):
        load(tmp_path / "b")
    make_idx_folder(tmp_path / "c")
    (tmp_path / "c" / "train-images-idx3-ubyte.gz").write_bytes(b"\x1f\x8bnot really gzip")
    with pytest.raises(DatasetError, match="train-images-idx3-ubyte.gz: damaged gzip data"):
        load(tmp_path / "c")


def test_unknown_names_and_paths(tmp_path):
    with pytest.raises(DatasetError, match="unknown dataset 'mnsit'; available: digits, mnist"):
        load("mnsit")
    with pytest.raises(DatasetError, match="received a .json file"):
        (tmp_path / "x.json").write_text("{}")
        load(tmp_path / "x.json")
    with pytest.raises(TypeError):
        load(3)


@pytest.fixture(scope="module")
def fashion():
    return load(fashion_mnist_dir())


def test_fashion_mnist_from_its_debian_folder_is_recognised(fashion):
    data = fashion
    assert data.name == "fashion-mnist" and data.classes[0] == "T-shirt/top" and data.classes[9] == "Ankle boot"
    assert data.X_train.shape == (60000, 784) and data.X_test.shape == (10000, 784)
    assert data.licence.startswith("MIT") and "zalandoresearch" in data.source and "checksums match" in data.description
    assert np.bincount(data.y_train).tolist() == [6000] * 10


def test_one_epoch_on_fashion_mnist_from_its_local_path(fashion):
    """The integration test: a small network, one epoch over all 60,000 images, clearly better than chance."""
    data = fashion
    net = gn.Network.mlp([784, 32, 10], activation="relu", seed=0)
    history = net.fit(data.X_train, data.y_train, epochs=1, batch_size=256, optimizer=gn.Adam(lr=3e-3), seed=0)
    accuracy = float(np.mean(net.predict(data.X_test) == data.y_test))
    assert len(history) == 1 and accuracy > 0.75, accuracy


# -- .npz --------------------------------------------------------------------------------------
def test_npz_with_and_without_a_test_set(tmp_path):
    rng = np.random.default_rng(0)
    X, y = rng.random((50, 3)), np.repeat(["cat", "dog"], 25)
    np.savez(tmp_path / "a.npz", X=X, y=y)
    data = load(tmp_path / "a.npz")
    assert data.classes == ["cat", "dog"] and len(data.X_test) == 10 and len(data.X_train) == 40
    assert np.bincount(data.y_test).tolist() == [5, 5] and "held out" in data.description
    np.savez(tmp_path / "b.npz", X=X, y=np.arange(50) % 2, X_test=X[:5], y_test=np.ones(5, int),
             classes=np.array(["no", "yes"]))
    data = load(tmp_path / "b.npz")
    assert data.classes == ["no", "yes"] and len(data.X_train) == 50 and data.y_test.tolist() == [1] * 5


@pytest.mark.parametrize("arrays, message", [
    ({"X": np.zeros((3, 2))}, "expected arrays named X and y"),
    ({"X": np.zeros((3, 2)), "y": np.zeros(4)}, "expected 3 labels"),
    ({"X": np.full((3, 2), np.nan), "y": np.zeros(3)}, "NaN or inf"),
    ({"X": np.zeros((3, 2)), "y": np.array([0.0, 1.5, 1.0])}, "label 1.5 .* is not a class"),
    ({"X": np.zeros((3, 2)), "y": np.zeros(3), "X_test": np.zeros((1, 2))}, "go together"),
])
def test_npz_problems(tmp_path, arrays, message):
    np.savez(tmp_path / "bad.npz", **arrays)
    with pytest.raises(DatasetError, match=message):
        load(tmp_path / "bad.npz")
    (tmp_path / "junk.npz").write_bytes(b"not a zip")
    with pytest.raises(DatasetError, match="not a readable .npz"):
        load(tmp_path / "junk.npz")


# -- .csv --------------------------------------------------------------------------------------
def test_csv_with_header_label_by_name_and_class_names(tmp_path):
    rows = ["a,b,species"] + [f"{i},{i * 2},{'ab'[i % 2]}" for i in range(20)]
    (tmp_path / "f.csv").write_text("\n".join(rows) + "\n")
    data = load(tmp_path / "f.csv")
    assert data.classes == ["a", "b"] and data.shape == (2,) and len(data.X_train) + len(data.X_test) == 20
    assert data.X_train.dtype == np.float32 and data.extra["label_column"] == "3 ('species')"
    assert len(data.X_test) == round(TEST_FRACTION * 20)
    (tmp_path / "n.csv").write_text("a,b,c\n" + "".join(f"{i},{i % 2},{i * 3}\n" for i in range(20)))
    by_name, by_index = load(tmp_path / "n.csv", label_column="b"), load(tmp_path / "n.csv", label_column=1)
    assert by_name.classes == ["0", "1"] and by_name.shape == (2,)
    np.testing.assert_array_equal(by_name.X_train, by_index.X_train)


def test_csv_without_header_label_first(tmp_path):
    (tmp_path / "g.csv").write_text("".join(f"{i % 3},{i},{-i}.5\n" for i in range(30)))
    data = load(tmp_path / "g.csv")
    assert data.classes == ["0", "1", "2"] and data.shape == (2,)
    X = np.concatenate([data.X_train, data.X_test])
    assert sorted(X[:, 0].tolist()) == list(range(30))


def test_csv_of_8_bit_pixels_is_scaled_like_images(tmp_path, digits):
    rows = np.concatenate([np.flatnonzero(digits.y_train == k)[:25] for k in (0, 1)])   # two classes
    pixels = (digits.X_train[rows] * 255).round().astype(np.uint8)
    lines = ["label," + ",".join(f"pixel{i}" for i in range(784))]
    lines += [f"{label}," + ",".join(map(str, row)) for label, row in zip(digits.y_train[rows], pixels)]
    (tmp_path / "mnist.csv").write_text("\n".join(lines) + "\n")
    raw = load(tmp_path / "mnist.csv", scale=False)
    assert raw.X_train.dtype == np.uint8 and raw.shape == (784,)
    scaled = load(tmp_path / "mnist.csv")
    assert scaled.X_train.dtype == np.float32 and scaled.X_train.max() == 1.0
    rows = {row.tobytes() for row in digits.X_train[rows]}
    assert all(row.tobytes() in rows for row in scaled.X_train)      # the same floats as the bundled arrays


@pytest.mark.parametrize("text, message", [
    ("", r"f.csv: the file is empty"),
    ("\n\n", r"f.csv: the file is empty"),
    ("label,x,y\n", r"f.csv: the file has a header row but no examples"),
    ("label,x,y\n1,2,3\n0,4\n", r"f.csv, row 3: expected 3 columns \(as in the header\), received 2"),
    ("1,2,3\n0,4,5,6\n", r"f.csv, row 2: expected 3 columns \(as in row 1\), received 4"),
    ("label,x,y\n1,2,3\n0,abc,5\n", r"f.csv, row 3, column 2 \('x'\): expected a number, received 'abc'"),
    ("label,x,y\n1,2,3\n0,4,nan\n", r"f.csv, row 3, column 3 \('y'\): expected a finite number, received 'nan'"),
    ("label,x,y\n1,2,3\n0.5,4,5\n", r"f.csv, row 3, column 1 \('label'\): label '0.5' is not a class"),
    ("label,x,y\n1,2,3\n-1,4,5\n", r"f.csv, row 3, column 1 \('label'\): label '-1' is not a class"),
    ("label,x,y\ncat,2,3\ndog,4,5\n7,4,5\n", r"f.csv, row 4, column 1 \('label'\): label '7' mixes"),
    ("label;x;y\n1;2;3\n0;4,5;5\n", r"f.csv, row 3, column 2 \('x'\): expected a number, received '4,5' \(write "
                                    r"decimals with a point\)"),
])
def test_csv_problems_name_file_row_and_column(tmp_path, text, message):
    (tmp_path / "f.csv").write_text(text)
    with pytest.raises(DatasetError, match=message) as info:
        load(tmp_path / "f.csv")
    assert "\n" not in str(info.value)


def test_csv_label_column_problems(tmp_path):
    (tmp_path / "f.csv").write_text("a,b\n1,2\n")
    with pytest.raises(DatasetError, match="no column named 'c' \\(columns: a, b\\)"):
        load(tmp_path / "f.csv", label_column="c")
    with pytest.raises(DatasetError, match="label column 5 is out of range for 2 columns"):
        load(tmp_path / "f.csv", label_column=5)
    (tmp_path / "g.csv").write_bytes(b"\xff\xfe\x00garbage")
    with pytest.raises(DatasetError, match="g.csv: not a text CSV file"):
        load(tmp_path / "g.csv")


# -- folders of images -----------------------------------------------------------------------------
def save_digits_as_pngs(folder, data, n_per_class):
    Image = need("PIL.Image")
    X = (data.X_train.reshape(-1, 28, 28) * 255).round().astype(np.uint8)
    for k in range(10):
        (folder / str(k)).mkdir(parents=True, exist_ok=True)
        for i in np.flatnonzero(data.y_train == k)[:n_per_class]:
            Image.fromarray(X[i]).save(folder / str(k) / f"{i:05d}.png")


def test_folder_of_images_round_trips_pixels_exactly(tmp_path, digits):
    save_digits_as_pngs(tmp_path / "imgs", digits, 6)
    data = load(tmp_path / "imgs", scale=False, flatten=False)
    assert data.classes == [str(k) for k in range(10)] and data.shape == (28, 28) and data.X_train.dtype == np.uint8
    assert len(data.X_train) + len(data.X_test) == 60 and np.bincount(data.y_test).tolist() == [1] * 10
    originals = {row.tobytes() for row in (digits.X_train * 255).round().astype(np.uint8).reshape(-1, 28, 28)}
    assert all(image.tobytes() in originals for image in data.X_train)


def test_folder_of_images_with_train_and_test_and_resizing(tmp_path):
    Image = need("PIL.Image")
    for split, n in (("train", 3), ("test", 1)):
        for name, colour in (("dark", 10), ("light", 240)):
            (tmp_path / "s" / split / name).mkdir(parents=True)
            for i in range(n):
                Image.new("RGB", (8 + i, 6), (colour, colour, colour)).save(tmp_path / "s" / split / name / f"{i}.jpg")
    data = load(tmp_path / "s", flatten=False, scale=False, image_size=(5, 4))
    assert data.shape == (5, 4) and data.X_train.shape == (6, 5, 4) and data.X_test.shape == (2, 5, 4)
    assert data.classes == ["dark", "light"] and data.X_train[data.y_train == 1].min() > 200


def test_corrupt_image_names_the_file(tmp_path, digits):
    save_digits_as_pngs(tmp_path / "imgs", digits, 2)
    bad = tmp_path / "imgs" / "3" / "broken.png"
    bad.write_bytes(b"\x89PNG\r\n\x1a\n" + b"\x00" * 20)
    with pytest.raises(DatasetError, match=r"broken.png: not a readable image") as info:
        load(tmp_path / "imgs")
    assert str(bad) in str(info.value)


def test_image_folder_problems(tmp_path):
    need("PIL.Image")
    (tmp_path / "empty").mkdir()
    with pytest.raises(DatasetError, match="one sub-folder of images per class"):
        load(tmp_path / "empty")
    (tmp_path / "noimg" / "a").mkdir(parents=True)
    (tmp_path / "noimg" / "a" / "notes.txt").write_text("hi")
    with pytest.raises(DatasetError, match="no images"):
        load(tmp_path / "noimg")


# -- problems found in review: each of these failed (or gave an unclear error) before ----------------
def test_csv_with_semicolons_and_a_byte_order_mark(tmp_path):
    rows = "".join(f"{i % 2};{i};{i * 2}\n" for i in range(10))
    (tmp_path / "s.csv").write_text("label;a;b\n" + rows, encoding="utf-8-sig")
    data = load(tmp_path / "s.csv")
    assert data.shape == (2,) and data.classes == ["0", "1"] and data.extra["label_column"] == "1 ('label')"


@pytest.mark.parametrize("arrays, message", [
    ({"X": np.zeros((0, 2)), "y": np.zeros(0)}, r"expected at least one training and one test example, received 0"),
    ({"X": np.zeros((1, 2)), "y": np.zeros(1)}, r"expected examples of at least 2 classes, received 1 examples all "
                                                r"of class '0'"),
    ({"X": np.zeros((2, 2)), "y": np.arange(2)}, r"received 2 training and 0 test examples"),
    ({"X": np.zeros((4, 2)), "y": np.arange(4) % 2, "X_test": np.zeros((0, 2)), "y_test": np.zeros(0)},
     r"received 4 training and 0 test examples"),
])
def test_data_a_classifier_cannot_learn_from_is_refused(tmp_path, arrays, message):
    np.savez(tmp_path / "d.npz", **arrays)
    with pytest.raises(DatasetError, match=message):
        load(tmp_path / "d.npz")


def test_npz_that_is_not_a_zip_or_holds_objects(tmp_path):
    np.save(tmp_path / "a.npy", np.zeros(3))
    (tmp_path / "a.npy").rename(tmp_path / "a.npz")
    with pytest.raises(DatasetError, match=r"a.npz: not a readable .npz archive .*received a single .npy array"):
        load(tmp_path / "a.npz")
    np.savez(tmp_path / "o.npz", X=np.zeros((4, 2), dtype=object), y=np.arange(4) % 2)
    with pytest.raises(DatasetError, match=r"o.npz: .*an array of Python objects \(dtype object\)"):
        load(tmp_path / "o.npz")


def test_16_bit_png_is_scaled_not_clipped(tmp_path):
    Image = need("PIL.Image")
    for k, value in enumerate((1000, 60000)):
        (tmp_path / "i" / str(k)).mkdir(parents=True)
        for i in range(2):
            Image.fromarray(np.full((3, 3), value, np.uint16)).save(tmp_path / "i" / str(k) / f"{i}.png")
    data = load(tmp_path / "i", scale=False)
    X = np.concatenate([data.X_train, data.X_test])
    y = np.concatenate([data.y_train, data.y_test])
    assert set(X[y == 0].ravel().tolist()) == {4} and set(X[y == 1].ravel().tolist()) == {233}   # x * 255 / 65535


def test_images_in_nested_folders_are_explained(tmp_path):
    Image = need("PIL.Image")
    (tmp_path / "n" / "cat" / "2024").mkdir(parents=True)
    Image.new("L", (4, 4)).save(tmp_path / "n" / "cat" / "2024" / "1.png")
    with pytest.raises(DatasetError, match=r"not in sub-folders such as .*cat/2024"):
        load(tmp_path / "n")


def test_options_for_another_kind_of_source_or_a_bad_image_size_are_refused(tmp_path):
    np.savez(tmp_path / "a.npz", X=np.zeros((4, 2)), y=np.arange(4) % 2)
    with pytest.raises(DatasetError, match=r"a.npz: label_column applies to .csv files only, received it for a npz"):
        load(tmp_path / "a.npz", label_column="y")
    with pytest.raises(DatasetError, match=r"image_size applies to folders of images only"):
        load(tmp_path / "a.npz", image_size=(8, 8))
    (tmp_path / "imgs" / "a").mkdir(parents=True)
    for size in (28, (0, 5), (2.5, 3)):
        with pytest.raises(DatasetError, match=r"image_size expected \(height, width\), two positive integers"):
            load(tmp_path / "imgs", image_size=size)


def test_transparent_pixels_are_read_as_shown_on_white(tmp_path):
    """Black strokes on a transparent (and black) background: before, the whole image read as black."""
    Image = need("PIL.Image")
    for k in range(2):
        (tmp_path / "t" / str(k)).mkdir(parents=True)
        for i in range(2):
            rgba = np.zeros((4, 4, 4), np.uint8)
            rgba[k, :, 3] = 255                         # one opaque black row, the rest transparent black
            Image.fromarray(rgba, "RGBA").save(tmp_path / "t" / str(k) / f"{i}.png")
    data = load(tmp_path / "t", scale=False, flatten=False)
    image = data.X_train[data.y_train == 1][0]
    assert image[1].tolist() == [0] * 4 and image[[0, 2, 3]].min() == 255


def test_photos_are_turned_upright_by_their_exif_orientation(tmp_path):
    Image = need("PIL.Image")
    pixels = np.zeros((2, 3), np.uint8)
    pixels[0, 0] = 255
    exif = Image.Exif()
    exif[0x0112] = 6                                    # "rotate 90 degrees clockwise to display"
    for k in range(2):
        (tmp_path / "p" / str(k)).mkdir(parents=True)
        for i in range(2):
            Image.fromarray(pixels).save(tmp_path / "p" / str(k) / f"{i}.png", exif=exif)
    data = load(tmp_path / "p", scale=False, flatten=False)
    assert data.shape == (3, 2)
    np.testing.assert_array_equal(data.X_train[0], np.rot90(pixels, -1))


def test_npz_class_names_order_labels_that_are_names(tmp_path):
    """Before, ``classes`` was ignored when the labels were names (and a 2-D ``classes`` became one name)."""
    X = np.zeros((6, 2))
    np.savez(tmp_path / "a.npz", X=X, y=np.array(["dog", "cat"] * 3), classes=np.array(["dog", "cat"]))
    data = load(tmp_path / "a.npz")
    assert data.classes == ["dog", "cat"] and data.y_train.tolist() == [0, 1, 0, 1]
    np.savez(tmp_path / "b.npz", X=X, y=np.array(["dog", "cow"] * 3), classes=np.array(["dog", "cat"]))
    with pytest.raises(DatasetError, match=r"b.npz: labels 'cow' are not among the classes \(dog, cat\)"):
        load(tmp_path / "b.npz")
    np.savez(tmp_path / "c.npz", X=X, y=np.arange(6) % 2, classes=np.array([["no", "yes"]]))
    with pytest.raises(DatasetError, match=r"c.npz: classes expected one name per class, .* shape \(1, 2\)"):
        load(tmp_path / "c.npz")
