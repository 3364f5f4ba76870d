import contextlib
import io
import json
import shutil
import signal
import subprocess
import sys
import time

import numpy as np
import pytest

import glassnet as gn
from glassnet.callbacks import Checkpoint
from glassnet.cli import main
from optional import need

SMALL = ["--layers", "32", "--epochs", "1", "--quiet"]


def run(capsys, *args):
    """``glassnet ARGS`` in this process: ``(exit code, stdout, stderr)``."""
    code = main([str(a) for a in args])
    out, err = capsys.readouterr()
    return code, out, err


def run_quietly(*args):
    """``glassnet ARGS`` without capsys (for module-scoped fixtures): ``(exit code, stdout)``."""
    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        code = main([str(a) for a in args])
    return code, out.getvalue()


def last_json(out):
    return json.loads(out.strip().splitlines()[-1])


def glassnet_process(*args, cwd):
    return subprocess.run([sys.executable, "-m", "glassnet", *map(str, args)], cwd=cwd, capture_output=True,
                          text=True, timeout=120, check=False)


def assert_one_line_error(code, err):
    assert code == 2
    assert err.startswith("glassnet: error: ")
    assert err.strip().count("\n") == 0, err
    assert "Traceback" not in err


@pytest.fixture(scope="module")
def default_run(tmp_path_factory):
    """The demo: ``glassnet train --out RUN --json`` with every other setting at its default."""
    out = tmp_path_factory.mktemp("default") / "run"
    code, stdout = run_quietly("train", "--out", out, "--json")
    assert code == 0
    return out, last_json(stdout)


@pytest.fixture(scope="module")
def small_run(tmp_path_factory):
    out = tmp_path_factory.mktemp("small") / "run"
    code, stdout = run_quietly("train", *SMALL, "--epochs", "2", "--out", out, "--json")
    assert code == 0
    return out, last_json(stdout)


@pytest.fixture(scope="module")
def digits():
    return gn.datasets.load_digits(flatten=False, scale=False)


def one_of_each_digit(digits):
    return [(int(np.flatnonzero(digits.y_test == d)[0]), d) for d in range(10)]


# -- train ----------------------------------------------------------------------------------------
def test_default_demo_reaches_97_5_percent(default_run):
    _, result = default_run
    assert result["test_accuracy"] >= 0.975          # measured 98.25% (seed 0) with augmentation on
    assert result["epochs"] == 30 and len(result["history"]) == 30 and result["interrupted"] is False
    assert result["settings"]["layers"] == [256, 128] and result["settings"]["lr"] == 0.1
    assert result["settings"]["augment"] is True and result["settings"]["schedule"] == "one-cycle"
    assert result["seconds"] > 0


@pytest.mark.parametrize("name", ["sine", "plane"])
def test_a_regression_plane_set_is_refused_with_what_to_do_instead(tmp_path, capsys, name):
    """The plane's regression sets have no classes; glassnet train (a classifier) says so before writing anything."""
    code, out, err = run(capsys, "train", "--dataset", name, "--out", tmp_path / "run", *SMALL)
    assert_one_line_error(code, err)
    assert f"{name!r} is a regression data set" in err and "loss='mse'" in err and "Plane view" in err
    assert not (tmp_path / "run").exists()


def test_no_augment_is_recorded_and_repeated_in_the_command_line(tmp_path, capsys):
    code, out, _ = run(capsys, "train", *SMALL, "--no-augment", "--out", tmp_path / "run", "--json")
    assert code == 0 and last_json(out)["settings"]["augment"] is False
    metadata = gn.load(tmp_path / "run" / "model").metadata_
    assert "--no-augment" in metadata["command"] and "--augment " not in metadata["command"]
    code, _, err = run(capsys, "train", "--resume", tmp_path / "run", "--augment", "--epochs", "2")
    assert code != 0 and "--augment" in err


def test_train_json_writes_model_checkpoint_and_report(small_run):
    out, result = small_run
    for key in ("test_accuracy", "test_loss", "epochs", "seconds", "model_path", "report_path", "history",
                "interrupted"):
        assert key in result
    assert (out / "model" / "model.json").is_file() and (out / "checkpoint" / "training.json").is_file()
    assert result["model_path"] == str(out / "model") and result["report_path"] == str(out / "report.md")
    net = gn.load(result["model_path"])
    data = gn.datasets.load_digits()
    loss, accuracy = net.evaluate(data.X_test, data.y_test)
    assert accuracy == pytest.approx(result["test_accuracy"]) and loss == pytest.approx(result["test_loss"])
    assert net.metadata_["dataset"] == "digits" and net.metadata_["settings"]["layers"] == [32]
    report = (out / "report.md").read_text()
    for section in ("# glassnet training report", "## Settings", "## Network", "Dense(784 -> 32)", "## Training",
                    "| 2 |", "Accuracy per class", "Confusion matrix", "| **9** |", "Training took"):
        assert section in report


def test_train_prints_results_and_progress(tmp_path, capsys):
    code, out, err = run(capsys, "train", "--layers", "32", "--epochs", "2", "--out", tmp_path / "run")
    assert code == 0
    assert out.startswith("test accuracy ") and f"model:  {tmp_path / 'run' / 'model'}" in out
    assert "epoch 1/2" in err and "epoch 2/2" in err                # the progress bar, on stderr


@pytest.mark.parametrize("flags", [["--optimizer", "adam"], ["--optimizer", "adamw", "--schedule", "cosine"],
                                   ["--schedule", "step", "--dropout", "0.2"], ["--activation", "tanh"]])
def test_other_optimizers_and_schedules_train(tmp_path, capsys, flags):
    code, out, _ = run(capsys, "train", *SMALL, *flags, "--out", tmp_path / "run", "--json")
    assert code == 0
    result = last_json(out)
    assert result["test_accuracy"] > 0.5
    if flags[1] in ("adam", "adamw"):             # their own default learning rate, and no SGD momentum
        assert result["settings"]["lr"] == 0.001 and result["settings"]["momentum"] is None


def test_activation_flag_takes_any_spelling_the_library_takes_and_records_the_registry_name(tmp_path, capsys):
    code, out, _ = run(capsys, "train", *SMALL, "--activation", "Swish", "--out", tmp_path / "run", "--json")
    assert code == 0 and last_json(out)["settings"]["activation"] == "silu"
    assert gn.load(tmp_path / "run" / "model").layers[1].name == "silu"
    code, _, err = run(capsys, "train", *SMALL, "--activation", "mish", "--out", tmp_path / "other")
    assert code == 2 and "invalid choice: 'mish'" in err and "'gelu', 'silu', 'softplus'" in err


def test_train_in_a_real_process(tmp_path):
    done = glassnet_process("train", *SMALL, "--out", "run", "--json", cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    result = last_json(done.stdout)
    assert (tmp_path / result["model_path"] / "model.json").is_file()


# -- interrupt and resume -------------------------------------------------------------------------
def interrupt_at(monkeypatch, epoch, batch):
    """Make training behave as if Ctrl-C were pressed during ``batch`` of ``epoch``."""
    def on_batch_end(self, b, logs):
        if self.run.epoch == epoch and b == batch:
            raise KeyboardInterrupt
    monkeypatch.setattr(Checkpoint, "on_batch_end", on_batch_end, raising=False)


def test_ctrl_c_saves_the_work_and_resume_matches_an_uninterrupted_run(tmp_path, capsys, monkeypatch):
    flags = ["--layers", "32", "--epochs", "3", "--dropout", "0.1", "--quiet"]
    interrupt_at(monkeypatch, epoch=2, batch=10)
    code, out, err = run(capsys, "train", *flags, "--out", tmp_path / "a")
    assert code == 130
    assert "interrupted after 1 complete epoch;" in err and f"glassnet train --resume {tmp_path / 'a'}" in err
    partial = gn.load(tmp_path / "a" / "model")
    assert partial.history_.interrupted and len(partial.history_) == 1
    assert "Interrupted" in (tmp_path / "a" / "report.md").read_text()
    monkeypatch.undo()

    code, out, err = run(capsys, "train", "--resume", tmp_path / "a", "--json")
    assert code == 0 and last_json(out)["epochs"] == 3
    code, _, _ = run(capsys, "train", *flags, "--out", tmp_path / "b")
    assert code == 0
    resumed, straight = gn.load(tmp_path / "a" / "model").get_weights(), gn.load(tmp_path / "b" / "model").get_weights()
    for name in straight:
        np.testing.assert_array_equal(resumed[name], straight[name])


def test_resume_can_train_for_more_epochs(tmp_path, capsys):
    flags = ["--layers", "32", "--schedule", "constant", "--lr", "0.05", "--quiet"]
    assert run(capsys, "train", *flags, "--epochs", "2", "--out", tmp_path / "a")[0] == 0
    code, out, _ = run(capsys, "train", "--resume", tmp_path / "a" / "checkpoint", "--epochs", "3", "--json")
    assert code == 0 and last_json(out)["epochs"] == 3
    assert json.loads((tmp_path / "a" / "settings.json").read_text())["epochs"] == 3
    assert run(capsys, "train", *flags, "--epochs", "3", "--out", tmp_path / "b")[0] == 0
    resumed, straight = gn.load(tmp_path / "a" / "model").get_weights(), gn.load(tmp_path / "b" / "model").get_weights()
    for name in straight:
        np.testing.assert_array_equal(resumed[name], straight[name])


def test_resume_refusals(small_run, tmp_path, capsys):
    out, _ = small_run
    code, _, err = run(capsys, "train", "--resume", out)
    assert_one_line_error(code, err)
    assert "already finished its 2 epochs" in err
    code, _, err = run(capsys, "train", "--resume", out, "--lr", "0.5", "--epochs", "5")
    assert_one_line_error(code, err)
    assert "leave out --lr" in err
    code, _, err = run(capsys, "train", "--resume", out, "--epochs", "1")
    assert_one_line_error(code, err)
    assert "fewer than the 2 epochs" in err
    code, _, err = run(capsys, "train", "--resume", tmp_path)
    assert_one_line_error(code, err)
    assert "nothing to resume" in err


@pytest.mark.skipif(sys.platform == "win32", reason="sends a POSIX SIGINT")
def test_ctrl_c_in_a_real_process(tmp_path, capsys):
    out = tmp_path / "run"
    proc = subprocess.Popen([sys.executable, "-m", "glassnet", "train", "--layers", "32", "--epochs", "500",
                             "--out", str(out), "--quiet"], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    deadline = time.monotonic() + 60
    while not (out / "checkpoint" / "training.json").exists():      # wait until training is under way
        assert proc.poll() is None and time.monotonic() < deadline, proc.communicate()
        time.sleep(0.02)
    proc.send_signal(signal.SIGINT)
    _, stderr = proc.communicate(timeout=60)
    assert proc.returncode == 130, stderr
    assert "resume with: glassnet train --resume" in stderr and "Traceback" not in stderr
    history = gn.load(out / "model").history_
    assert history.interrupted and 1 <= len(history) < 500
    code, _, _ = run(capsys, "train", "--resume", out, "--epochs", len(history) + 1, "--quiet")
    assert code == 0 and len(gn.load(out / "model").history_) == len(history) + 1


# -- divergence -------------------------------------------------------------------------------------
@pytest.mark.filterwarnings("ignore:overflow:RuntimeWarning", "ignore:invalid value:RuntimeWarning")
def test_divergence_exits_1_and_keeps_the_last_good_weights(tmp_path, capsys):
    # (A narrow ReLU net can survive this by letting every neuron die; the default 256,128 one cannot.)
    code, _, err = run(capsys, "train", "--lr", "1e6", "--schedule", "constant", "--epochs", "1", "--quiet",
                         "--out", tmp_path / "run")
    assert code == 1
    message = [line for line in err.splitlines() if line.startswith("glassnet: training stopped")]
    assert len(message) == 1
    assert "epoch 1" in message[0] and "batch" in message[0] and "learning rate 1e+06" in message[0]
    net = gn.load(tmp_path / "run" / "model")
    assert all(np.isfinite(w).all() for w in net.get_weights().values())
    assert "diverged" in (tmp_path / "run" / "report.md").read_text()


# -- evaluate, info, predict, gradcheck -----------------------------------------------------------------
def test_evaluate(small_run, capsys):
    out, result = small_run
    code, stdout, _ = run(capsys, "evaluate", out / "model")
    assert code == 0
    assert f"test accuracy {100 * result['test_accuracy']:.2f}%" in stdout and "  9: " in stdout
    code, stdout, _ = run(capsys, "evaluate", out / "model", "--json")
    evaluation = last_json(stdout)
    assert evaluation["test_accuracy"] == pytest.approx(result["test_accuracy"])
    assert sorted(evaluation["per_class_accuracy"]) == [str(d) for d in range(10)]
    assert np.sum(evaluation["confusion_matrix"]) == evaluation["n_test"]


def test_info(small_run, capsys):
    out, _ = small_run
    code, stdout, _ = run(capsys, "info", out / "model")
    assert code == 0
    for text in ("format: glassnet.model version 2", "dtype: float32", "loss: cross_entropy",
                 "training history: 2 epochs", "dataset: \"digits\"", "Dense(784 -> 32)", "Total parameters"):
        assert text in stdout
    code, stdout, _ = run(capsys, "info", out / "model", "--json")
    info = last_json(stdout)
    assert info["format_version"] == 2 and info["epochs_trained"] == 2 and info["n_params"] == 784 * 32 + 32 + 330
    assert info["metadata"]["settings"]["epochs"] == 2


def test_info_reads_a_single_file_model(tmp_path, capsys):
    gn.Network.mlp([4, 3, 2], seed=0).save(tmp_path / "tiny.safetensors")
    code, stdout, _ = run(capsys, "info", tmp_path / "tiny.safetensors", "--json")
    assert code == 0 and last_json(stdout)["n_features"] == 4


def write_pngs(digits, folder):
    """Each digit three ways: white on black, black on white, and 100x100 black on white."""
    Image = need("PIL.Image")
    files = []
    for index, label in one_of_each_digit(digits):
        pixels = digits.X_test[index]
        for kind, img in (("white", Image.fromarray(pixels)), ("black", Image.fromarray(255 - pixels)),
                          ("large", Image.fromarray(255 - pixels).resize((100, 100), Image.BILINEAR))):
            files.append((folder / f"{kind}-{label}.png", label))
            img.save(files[-1][0])
    return files


def test_predict_reads_digits_drawn_either_way(default_run, digits, tmp_path, capsys):
    out, _ = default_run
    files = write_pngs(digits, tmp_path)
    code, stdout, _ = run(capsys, "predict", out / "model", *(path for path, _ in files))
    assert code == 0
    lines = stdout.strip().splitlines()
    assert len(lines) == len(files)
    assert lines[0].startswith(f"{files[0][0]}: ") and "(0: " in lines[0] and "  9: " in lines[0]
    code, stdout, _ = run(capsys, "predict", out / "model", *(path for path, _ in files), "--json")
    results = [json.loads(line) for line in stdout.strip().splitlines()]
    for kind in ("white", "black", "large"):
        right = [r["prediction"] == label for r, (path, label) in zip(results, files) if path.name.startswith(kind)]
        assert sum(right) >= 8, kind
    assert all(sum(r["probabilities"]) == pytest.approx(1.0, abs=1e-5) for r in results)


def test_predict_refuses_a_model_for_other_inputs(tmp_path, capsys):
    gn.Network.mlp([64, 8, 10], seed=0).save(tmp_path / "small-images")
    code, _, err = run(capsys, "predict", tmp_path / "small-images", tmp_path / "x.png")
    assert_one_line_error(code, err)
    assert "784" in err and "64" in err


def test_gradcheck_of_a_new_network(capsys):
    code, out, _ = run(capsys, "gradcheck")
    assert code == 0
    assert "relative error" in out and "0.weights (Dense(784 -> 16))" in out and "PASS" in out


def test_gradcheck_of_a_saved_model(small_run, capsys):
    out, _ = small_run
    code, stdout, _ = run(capsys, "gradcheck", out / "model", "--max-checks", "50")
    assert code == 0 and "PASS" in stdout


def test_gradcheck_every_entry_of_a_tiny_network(capsys):
    code, out, _ = run(capsys, "gradcheck", "--layers", "4", "--samples", "2", "--max-checks", "all")
    assert code == 0 and "3136/3136" in out


# -- version, help, usage errors ---------------------------------------------------------------------
def test_version(capsys, tmp_path):
    code, out, _ = run(capsys, "--version")
    assert code == 0 and out.strip() == f"glassnet {gn.__version__}"
    done = glassnet_process("--version", cwd=tmp_path)
    assert done.returncode == 0 and done.stdout.strip() == f"glassnet {gn.__version__}"


@pytest.mark.parametrize("command", ["train", "evaluate", "predict", "info", "gradcheck"])
def test_every_subcommand_has_help_with_examples(capsys, command):
    code, out, _ = run(capsys, command, "--help")
    assert code == 0
    assert out.startswith(f"usage: glassnet {command}") and "examples:" in out and f"glassnet {command}" in out


def test_no_command_prints_the_overview(capsys):
    code, out, _ = run(capsys)
    assert code == 0 and "train" in out and "gradcheck" in out


@pytest.fixture
def bad_files(tmp_path, small_run):
    """A corrupt model, a model folder with a stray file, a text file named .png and a blank image."""
    Image = need("PIL.Image")
    corrupt = tmp_path / "corrupt"
    shutil.copytree(small_run[0] / "model", corrupt)
    (corrupt / "model.json").write_text("{not json")
    busy = tmp_path / "busy"
    (busy / "model").mkdir(parents=True)
    (busy / "model" / "thesis.tex").write_text("mine")
    (tmp_path / "notes.png").write_text("hello")
    Image.new("L", (40, 40), 255).save(tmp_path / "blank.png")
    return tmp_path


@pytest.mark.parametrize("args, expected", [
    (["train", "--layers", "12,x"], "expected hidden-layer sizes"),
    (["train", "--epochs", "0"], "argument --epochs: expected a value >= 1, received '0'"),
    (["train", "--lr", "-1"], "argument --lr"),
    (["train", "--dataset", "nope"], "unknown dataset 'nope'; available: digits"),
    (["train", "--optimizer", "rmsprop"], "invalid choice"),
    (["train", "--optimizer", "adam", "--momentum", "0.5"], "--momentum applies to --optimizer sgd only"),
    (["train", "--nonsense"], "unrecognized arguments"),
    (["train", "--out", "{tmp}/busy"], "holds files glassnet did not write (thesis.tex)"),
    (["fly"], "invalid choice"),
    (["evaluate", "{tmp}/missing"], "no model there"),
    (["evaluate", "{tmp}/corrupt"], "not valid JSON"),
    (["info", "{tmp}/corrupt"], "not valid JSON"),
    (["predict", "{model}", "{tmp}/missing.png"], "missing.png: file not found"),
    (["predict", "{model}", "{tmp}/notes.png"], "notes.png: not an image file"),
    (["predict", "{model}", "{tmp}/blank.png"], "no ink found in"),
    (["gradcheck", "{model}", "--layers", "8"], "leave them out"),
    (["gradcheck", "--max-checks", "some"], "argument --max-checks"),
])
def test_user_mistakes_are_one_line_errors(bad_files, small_run, capsys, args, expected):
    args = [a.format(tmp=bad_files, model=small_run[0] / "model") for a in args]
    code, out, err = run(capsys, *args)
    assert_one_line_error(code, err)
    assert expected in err
    assert out == ""


def test_a_user_mistake_in_a_real_process_has_no_traceback(tmp_path):
    done = glassnet_process("evaluate", "no-such-model", cwd=tmp_path)
    assert_one_line_error(done.returncode, done.stderr)


def test_validation_holds_out_part_of_the_training_set_and_resume_keeps_it(tmp_path, capsys, monkeypatch):
    flags = ["--layers", "16", "--epochs", "2", "--validation", "0.2", "--no-augment", "--quiet"]
    code, out, _ = run(capsys, "train", *flags, "--out", tmp_path / "a", "--json")
    result = last_json(out)
    assert code == 0 and result["settings"]["validation"] == 0.2
    assert all("val_loss" in epoch and "val_accuracy" in epoch for epoch in result["history"])
    assert "--validation 0.2" in gn.load(tmp_path / "a" / "model").metadata_["command"]
    # the same examples are held out when a run is interrupted and resumed: same weights in the end
    interrupt_at(monkeypatch, epoch=2, batch=5)
    assert run(capsys, "train", *flags, "--out", tmp_path / "b")[0] == 130
    monkeypatch.undo()
    assert run(capsys, "train", "--resume", tmp_path / "b", "--quiet")[0] == 0
    resumed, straight = gn.load(tmp_path / "b" / "model").get_weights(), gn.load(tmp_path / "a" / "model").get_weights()
    for name in straight:
        np.testing.assert_array_equal(resumed[name], straight[name])
    assert gn.load(tmp_path / "b" / "model").history_.epochs[-1]["val_loss"] == pytest.approx(
        result["history"][-1]["val_loss"])


@pytest.mark.parametrize("value", ["0.7", "-0.1", "half"])
def test_validation_fraction_out_of_range_is_a_usage_error(capsys, value):
    code, _, err = run(capsys, "train", "--validation", value)
    assert_one_line_error(code, err)


@pytest.mark.parametrize("value", ["inf", "nan", "-inf"])
def test_non_finite_numbers_are_usage_errors(capsys, value):
    code, _, err = run(capsys, "train", f"--lr={value}")
    assert_one_line_error(code, err)
    assert f"received '{value}'" in err


def test_choices_come_from_the_registries():
    """--activation, --optimizer and --schedule offer what the library has, under one spelling each."""
    from glassnet.cli import build_parser

    train = build_parser()._subparsers._group_actions[0].choices["train"]
    choices = {action.dest: action.choices for action in train._actions if action.choices}
    assert list(choices["activation"]) == gn.activations.names()
    assert list(choices["optimizer"]) == list(gn.optimizers.names())
    assert list(choices["schedule"]) == list(gn.schedules.names())
    args = build_parser().parse_args(["train", "--schedule", "one_cycle"])      # an alias, shown as one-cycle
    assert args.schedule == "one-cycle"
