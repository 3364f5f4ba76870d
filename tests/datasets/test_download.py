"""Downloads against a local HTTP server (127.0.0.1, started and stopped here, every wait bounded)."""

import dataclasses
import gzip
import hashlib
import io
import json
import socket
import threading
import zipfile
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import numpy as np
import pytest

from glassnet.datasets import (
    ChecksumError,
    DatasetError,
    DownloadError,
    catalog,
    download,
    fetch,
    is_cached,
    load,
    named,
    write_idx,
)

TIMEOUT = 2.0


def idx_gz(array):
    buf = io.BytesIO()
    write_idx(buf, np.asarray(array), compress=True)
    return buf.getvalue()


class Server:
    """Serves ``files`` (path -> bytes) with Range support; ``behaviour`` (path -> str) can make it misbehave:
    ``"drop"`` sends half the file then closes the connection (once); ``"no-range"`` ignores Range;
    ``"busy"`` answers 503 (once)."""

    def __init__(self):
        self.files, self.behaviour, self.requests = {}, {}, []
        server = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args):
                pass

            def do_GET(self):
                server.requests.append((self.path, self.headers.get("Range")))
                data = server.files.get(self.path)
                if server.behaviour.get(self.path) == "busy":
                    server.behaviour.pop(self.path)             # 503 only the first time
                    self.send_error(503, "Service Unavailable")
                    return
                if data is None:
                    self.send_error(404, "Not Found")
                    return
                start = 0
                range_header = self.headers.get("Range")
                if range_header and server.behaviour.get(self.path) != "no-range":
                    start = int(range_header.removeprefix("bytes=").split("-")[0])
                    self.send_response(206)
                    self.send_header("Content-Range", f"bytes {start}-{len(data) - 1}/{len(data)}")
                else:
                    self.send_response(200)
                self.send_header("Content-Length", str(len(data) - start))
                self.end_headers()
                if server.behaviour.get(self.path) == "drop":
                    server.behaviour.pop(self.path)             # drop only the first time
                    self.wfile.write(data[start:start + (len(data) - start) // 2])
                    self.wfile.flush()
                    self.connection.shutdown(socket.SHUT_RDWR)
                    return
                self.wfile.write(data[start:])

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.httpd.daemon_threads = True
        self.url = f"http://127.0.0.1:{self.httpd.server_address[1]}"
        self.thread = threading.Thread(target=self.httpd.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
        self.thread.start()

    def close(self):
        self.httpd.shutdown()
        self.httpd.server_close()
        self.thread.join(timeout=5)


@pytest.fixture
def server():
    s = Server()
    yield s
    s.close()


@pytest.fixture
def silent_port():
    """A port that accepts connections (the kernel's backlog) but never answers."""
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.bind(("127.0.0.1", 0))
    sock.listen(8)
    yield sock.getsockname()[1]
    sock.close()


def sha(data):
    return hashlib.sha256(data).hexdigest()


PAYLOAD = idx_gz(np.random.default_rng(1).integers(0, 256, (4, 1000), dtype=np.uint8))


def test_good_download_is_verified_and_renamed(server, tmp_path, capsys):
    server.files["/a.gz"] = PAYLOAD
    path = download.download([server.url + "/a.gz"], tmp_path / "a.gz", sha256=sha(PAYLOAD), timeout=TIMEOUT)
    assert path.read_bytes() == PAYLOAD and not (tmp_path / "a.gz.part").exists()
    assert "downloading a.gz" in capsys.readouterr().err            # the progress line, on stderr


def test_dropped_connection_is_resumed_with_range(server, tmp_path):
    server.files["/a.gz"], server.behaviour["/a.gz"] = PAYLOAD, "drop"
    download.download([server.url + "/a.gz"], tmp_path / "a.gz", sha256=sha(PAYLOAD), timeout=TIMEOUT,
                      progress=False)
    assert (tmp_path / "a.gz").read_bytes() == PAYLOAD
    assert len(server.requests) == 2 and server.requests[1][1] == f"bytes={len(PAYLOAD) // 2}-"


def test_server_that_cannot_resume_sends_everything_again(server, tmp_path):
    server.files["/a.gz"], server.behaviour["/a.gz"] = PAYLOAD, "drop"
    (tmp_path / "a.gz.part").write_bytes(b"stale bytes from an old attempt")
    server.behaviour["/a.gz"] = "no-range"
    download.download([server.url + "/a.gz"], tmp_path / "a.gz", sha256=sha(PAYLOAD), timeout=TIMEOUT,
                      progress=False)
    assert (tmp_path / "a.gz").read_bytes() == PAYLOAD


def test_wrong_checksum_deletes_the_file_and_says_so(server, tmp_path, capsys):
    server.files["/a.gz"] = PAYLOAD + b"tampered"
    with pytest.raises(ChecksumError, match="wrong SHA-256 checksum.*deleted the bad file"):
        download.download([server.url + "/a.gz"], tmp_path / "a.gz", sha256=sha(PAYLOAD), timeout=TIMEOUT,
                          progress=False)
    assert list(tmp_path.iterdir()) == []                              # nothing corrupt left behind
    assert "deleted the bad file" in capsys.readouterr().err


def test_server_error_is_retried(server, tmp_path):
    server.files["/a.gz"], server.behaviour["/a.gz"] = PAYLOAD, "busy"
    download.download([server.url + "/a.gz"], tmp_path / "a.gz", sha256=sha(PAYLOAD), timeout=TIMEOUT,
                      progress=False)
    assert (tmp_path / "a.gz").read_bytes() == PAYLOAD and len(server.requests) == 2


def test_next_mirror_is_tried_after_404_and_bad_checksum(server, tmp_path):
    server.files["/bad/a.gz"], server.files["/good/a.gz"] = b"junk", PAYLOAD
    urls = [server.url + "/missing/a.gz", server.url + "/bad/a.gz", server.url + "/good/a.gz"]
    download.download(urls, tmp_path / "a.gz", sha256=sha(PAYLOAD), timeout=TIMEOUT, progress=False)
    assert (tmp_path / "a.gz").read_bytes() == PAYLOAD


def test_404_gives_one_line_with_the_hint(server, tmp_path):
    with pytest.raises(DownloadError, match=r"could not download a.gz from any mirror \(.*HTTP 404.*\); put") as e:
        download.download([server.url + "/nope"], tmp_path / "a.gz", sha256=sha(PAYLOAD), timeout=TIMEOUT,
                          progress=False, hint="put the files in X")
    assert "\n" not in str(e.value)
    assert len(server.requests) == 1                                   # a 404 is not retried


def test_server_that_never_answers_times_out(silent_port, tmp_path):
    with pytest.raises(DownloadError, match="timed out"):
        download.download([f"http://127.0.0.1:{silent_port}/a.gz"], tmp_path / "a.gz", sha256=sha(PAYLOAD),
                          timeout=0.3, retries=2, progress=False)
    assert not (tmp_path / "a.gz").exists()


def test_refuses_to_download_without_a_checksum(tmp_path):
    with pytest.raises(ValueError, match="without an expected sha256"):
        download.download(["http://127.0.0.1:9/x"], tmp_path / "x")


def test_md5_is_used_only_when_no_sha256_is_known(server, tmp_path):
    server.files["/a.gz"] = PAYLOAD
    download.download([server.url + "/a.gz"], tmp_path / "a.gz", md5=hashlib.md5(PAYLOAD).hexdigest(),
                      timeout=TIMEOUT, progress=False)
    assert download.verify(tmp_path / "a.gz", md5=hashlib.md5(PAYLOAD).hexdigest()) == (
        True, "MD5", hashlib.md5(PAYLOAD).hexdigest())


def test_cache_dir_follows_glassnet_data(monkeypatch, tmp_path):
    monkeypatch.setenv("GLASSNET_DATA", str(tmp_path / "data"))
    assert download.cache_dir() == tmp_path / "data"
    monkeypatch.delenv("GLASSNET_DATA")
    assert download.cache_dir().name == "glassnet"


# -- named datasets, end to end, with a tiny dataset served locally ------------------------------
def tiny_files(transpose=False):
    rng = np.random.default_rng(0)
    images = {"train": rng.integers(0, 256, (30, 4, 3), dtype=np.uint8),
              "test": rng.integers(0, 256, (10, 4, 3), dtype=np.uint8)}
    labels = {"train": np.arange(30, dtype=np.uint8) % 3, "test": np.arange(10, dtype=np.uint8) % 3}
    stored = {k: v.transpose(0, 2, 1).copy() if transpose else v for k, v in images.items()}
    data = {"train-images-idx3-ubyte.gz": idx_gz(stored["train"]),
            "train-labels-idx1-ubyte.gz": idx_gz(labels["train"]),
            "t10k-images-idx3-ubyte.gz": idx_gz(stored["test"]),
            "t10k-labels-idx1-ubyte.gz": idx_gz(labels["test"])}
    return data, images, labels


@pytest.fixture
def tiny(monkeypatch, server):
    data, images, labels = tiny_files()
    for name, blob in data.items():
        server.files["/tiny/" + name] = blob
    files = {role: catalog.RemoteFile(name, sha256=sha(data[name]), size=len(data[name]))
             for role, name in zip(catalog.ROLES, data)}
    entry = dataclasses.replace(catalog.MNIST, name="tiny", classes=("a", "b", "c"), shape=(4, 3), files=files,
                                mirrors=(server.url + "/missing/", server.url + "/tiny/"), n_train=30, n_test=10)
    monkeypatch.setitem(catalog.CATALOG, "tiny", entry)
    return entry, images, labels


def test_named_dataset_downloads_once_then_loads_from_the_cache(tiny, tmp_path, server):
    entry, images, labels = tiny
    assert not is_cached("tiny", tmp_path)
    data = load("tiny", cache_dir=tmp_path, progress=False)
    assert is_cached("tiny", tmp_path) and data.classes == ["a", "b", "c"] and data.shape == (4, 3)
    np.testing.assert_array_equal(data.X_train, images["train"].reshape(30, -1) / np.float32(255))
    np.testing.assert_array_equal(data.y_test, labels["test"])
    n_requests = len(server.requests)
    load("tiny", cache_dir=tmp_path)
    assert len(server.requests) == n_requests                         # nothing downloaded again


def test_damaged_cache_file_is_fetched_again(tiny, tmp_path):
    folder = fetch("tiny", cache_dir=tmp_path, progress=False)
    (folder / "t10k-labels-idx1-ubyte.gz").write_bytes(b"damaged")
    fetch("tiny", cache_dir=tmp_path, progress=False)
    assert load("tiny", cache_dir=tmp_path, download=False).y_test.tolist() == (np.arange(10) % 3).tolist()


def test_offline_error_names_the_folder_and_the_way_out(tiny, tmp_path, silent_port):
    with pytest.raises(DownloadError) as info:
        fetch("tiny", cache_dir=tmp_path, progress=False, mirrors=[f"http://127.0.0.1:{silent_port}/"],
              timeout=0.2, retries=1)
    message = str(info.value)
    assert message.startswith("could not download tiny/train-images-idx3-ubyte.gz from any mirror")
    assert message.endswith(f"put the files in {tmp_path / 'tiny'} or pass --dataset PATH")
    assert not any(p.suffix == ".gz" for p in (tmp_path / "tiny").iterdir())


def test_a_name_wins_over_a_folder_of_that_name_unless_written_as_a_path(tiny, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    (tmp_path / "tiny").mkdir()
    write_idx(tmp_path / "tiny" / "train-images-idx3-ubyte", np.zeros((2, 2, 2), np.uint8))
    with pytest.raises(DatasetError, match="tiny is not in the cache"):
        load("tiny", cache_dir=tmp_path / "cache", download=False)
    with pytest.raises(DatasetError, match="missing the train labels"):
        load("./tiny")


def test_not_cached_without_download(tiny, tmp_path):
    with pytest.raises(DatasetError, match="not in the cache"):
        load("tiny", cache_dir=tmp_path, download=False)


def test_zip_archive_is_checked_extracted_transposed_and_deleted(monkeypatch, server, tmp_path):
    data, images, labels = tiny_files(transpose=True)
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as bundle:
        for name, blob in data.items():
            bundle.writestr(f"gzip/emnist-digits-{name.replace('t10k', 'test')}", blob)
        bundle.writestr("gzip/emnist-letters-train-images-idx3-ubyte.gz", b"not needed")
    server.files["/nist/gzip.zip"] = buffer.getvalue()
    entry = dataclasses.replace(catalog.EMNIST_DIGITS, name="tiny-emnist", classes=("a", "b", "c"), shape=(4, 3),
                                mirrors=(server.url + "/nist/",),
                                archive=catalog.RemoteFile("gzip.zip", sha256=sha(buffer.getvalue())))
    monkeypatch.setitem(catalog.CATALOG, "tiny-emnist", entry)
    loaded = load("tiny-emnist", cache_dir=tmp_path, progress=False, flatten=False, scale=False)
    np.testing.assert_array_equal(loaded.X_train, images["train"])      # transposed back
    assert sorted(p.name for p in (tmp_path / "tiny-emnist").iterdir()) == sorted(entry.file_names().values())


def test_real_catalog_has_sums_mirrors_and_licences():
    assert list(catalog.CATALOG) == ["mnist", "fashion-mnist", "kmnist", "emnist-digits"]
    for entry in catalog.CATALOG.values():
        remote = [entry.archive] if entry.archive else list(entry.files.values())
        assert all(len(f.sha256) == 64 and int(f.sha256, 16) >= 0 for f in remote)
        assert entry.mirrors and all(m.startswith(("http://", "https://")) and m.endswith("/") for m in entry.mirrors)
        assert entry.licence and entry.source and len(entry.classes) == 10
    assert catalog.lookup("Fashion_MNIST") is catalog.FASHION_MNIST and catalog.lookup("nope") is None
    assert named.folder_for(catalog.MNIST, "/x").as_posix() == "/x/mnist"


def test_gzip_payload_helper_is_really_gzip():
    assert gzip.decompress(PAYLOAD)[:4] == b"\x00\x00\x08\x02"


# -- the command line ---------------------------------------------------------------------------
def test_cli_fetch_then_list_shows_it_cached(tiny, tmp_path, monkeypatch, capsys):
    from glassnet.cli import main

    monkeypatch.setenv("GLASSNET_DATA", str(tmp_path))
    assert main(["datasets", "fetch", "tiny", "--quiet"]) == 0
    out = capsys.readouterr().out
    assert out.strip() == f"tiny: verified and cached in {tmp_path / 'tiny'}"
    assert main(["datasets", "--json"]) == 0
    rows = {row["name"]: row for row in json.loads(capsys.readouterr().out)["datasets"]}
    assert rows["tiny"]["cached"] is True and rows["mnist"]["cached"] is False


def test_cli_fetch_offline_is_one_line(tiny, tmp_path, monkeypatch, capsys):
    from glassnet.cli import main

    closed = socket.socket()
    closed.bind(("127.0.0.1", 0))
    port = closed.getsockname()[1]
    closed.close()                                           # nothing listens there: connection refused
    monkeypatch.setitem(catalog.CATALOG, "tiny", dataclasses.replace(tiny[0], mirrors=(f"http://127.0.0.1:{port}/",)))
    monkeypatch.setenv("GLASSNET_DATA", str(tmp_path))
    assert main(["datasets", "fetch", "tiny", "--timeout", "0.5"]) == 2
    err = capsys.readouterr().err
    assert err.startswith("glassnet: error: could not download tiny/train-images-idx3-ubyte.gz from any mirror")
    assert err.rstrip().endswith(f"put the files in {tmp_path / 'tiny'} or pass --dataset PATH")
    assert err.count("\n") == 1


def test_progress_bar_redraws_on_a_terminal_and_prints_one_line_elsewhere():
    class Terminal(io.StringIO):
        def isatty(self):
            return True

    terminal, pipe = Terminal(), io.StringIO()
    for stream in (terminal, pipe):
        bar = download._Progress("x.gz", 2_000_000, 0, stream=stream)
        bar.last -= 1                                        # as if the last redraw was a second ago
        bar.update(1_000_000)
        bar.close()
    assert terminal.getvalue().startswith("\rdownloading x.gz   50% 1.0/2.0 MB") and terminal.getvalue().endswith("\n")
    assert pipe.getvalue().count("\n") == 1 and "\r" not in pipe.getvalue() and "1.0/2.0 MB" in pipe.getvalue()


def test_a_dropped_download_ends_the_half_drawn_bar_line():
    class Terminal(io.StringIO):
        def isatty(self):
            return True

    terminal = Terminal()
    bar = download._Progress("x.gz", 2_000_000, 0, stream=terminal)
    bar.end_line()
    assert terminal.getvalue() == ""                        # nothing drawn yet: nothing to end
    bar.last -= 1
    bar.update(500_000)
    bar.end_line()
    assert terminal.getvalue().startswith("\rdownloading x.gz") and terminal.getvalue().endswith("\n")
