"""What every reinforcement-learning trainer's main process does around its algorithm (A3C's
:class:`~fw_rl.agents.a3c.trainer.A3CTrainer`, :class:`~fw_rl.agents.ppo.PPOTrainer`).

An :class:`AgentRun` opens the run's :class:`~fw_rl.run_session.RunSession` with the
counters, logs and checkpoint kind of its algorithm, keeps the last 200 training episodes'
returns and successes, evaluates the greedy policy on fixed seeds (``eval.csv``, ``best.pt``,
TensorBoard), says when the budget is spent (``--total-frames``, ``--max-minutes``) or the
evaluation reached ``--stop-at-return``, shows the progress bar, and ends the run with the
final checkpoint and metrics row. The algorithm decides only how the agent learns.
"""

from __future__ import annotations

import copy
import math
import signal
import sys
import time
from collections import deque
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import ClassVar

from torch import nn

from fw_rl.agents.config import TrainerConfig, upgrade_saved_config
from fw_rl.agents.evaluate import evaluate
from fw_rl.checkpoint import CHECKPOINT_NAME, load_checkpoint
from fw_rl.cli import command, fields_with_role
from fw_rl.cores import core_declaration
from fw_rl.envs.catch_family import CATCH_FLAGS, is_catch
from fw_rl.run_session import EXIT_OK, EXIT_SIGNAL, EXIT_WRITE_FAILED, RunSession

EVAL_FIELDS = ["frames", "elapsed_s", "mean_return", "success_rate", "capped"]
# metrics.csv's first columns, every RL trainer's; the algorithm's own follow (metrics_row)
RUN_METRICS = ["frames", "updates", "episodes", "elapsed_s", "fps", "mean_return", "success_rate"]
RECENT_EPISODES = 200  # the training return and success rate: means over the last 200
SPEED_SECONDS = 5.0  # seconds of training before the mean speed projects the bar's total


class StoppedBeforeTraining(KeyboardInterrupt):
    """Ctrl-C before the first frame (the core's kernels compiling): no checkpoint yet."""


def _stopped_before_training() -> int:
    print(
        f"{command()}: stopped before training began (Ctrl-C): no checkpoint was written; "
        "the same command starts the run again",
        file=sys.stderr,
    )
    return EXIT_SIGNAL[signal.SIGINT]


@dataclass
class Stop:
    """Why the run ends: its exit code, the reason printed, and whether the trainer's
    state is saved at the end (not after a non-finite loss or a lost server)."""

    exit_code: int = EXIT_OK
    reason: str = ""
    save: bool = True
    evaluated: bool = False  # an evaluation ended the run: finish() need not evaluate again


def default_run_dir(config: TrainerConfig, algorithm: str) -> str:
    """``--run-dir`` as used: the resumed run's, the one given, or
    ``runs/<algorithm>-<core>-<time>`` (to the second; a folder that exists gets ``-2``...)."""
    if config.resume:
        return config.resume
    if config.run_dir:
        return config.run_dir
    stem = Path("runs") / f"{algorithm}-{config.core}-{datetime.now().strftime('%Y%m%d-%H%M%S')}"
    path, n = stem, 1
    while path.exists():
        n += 1
        path = stem.with_name(f"{stem.name}-{n}")
    return str(path)


def eval_text(result: dict) -> str:
    text = f"mean return {result['mean_return']:.3f}"
    if not math.isnan(result["success_rate"]):
        text += f", success rate {result['success_rate']:.3f}"
    if result["capped"]:
        text += f" ({result['capped']:.0%} of the episodes cut at --eval-max-steps)"
    return text


def nothing_left(counters: dict, config) -> str | None:
    """What a saved run's ``counters`` have used up of ``config``'s budget: "frames"
    (``total_frames``, the run's total), "minutes" (``max_minutes``), or None."""
    if int(counters.get("frames", 0)) >= config.total_frames:
        return "frames"
    if config.max_minutes and float(counters.get("elapsed_s", 0.0)) >= 60 * config.max_minutes:
        return "minutes"
    return None


class AgentRun:
    """The run around an algorithm. A subclass sets ``kind`` (the checkpoint's),
    ``metrics_fields`` (``metrics.csv``'s columns) and, after this constructor, builds
    ``self.model`` and ``self.optimiser`` (loading a resumed run's state into them) and
    calls ``self.session.open()``.

    ``config`` is the config as used (its run directory resolved); ``payload`` the
    checkpoint to resume from when the caller has read it (else ``config.resume``'s).
    """

    kind: ClassVar[str]
    metrics_fields: ClassVar[list[str]]
    renamed_columns: ClassVar[dict[str, str]] = {}

    model: nn.Module
    optimiser: object

    def __init__(self, config: TrainerConfig, out=None, payload: dict | None = None) -> None:
        if config.resume:
            payload = payload or load_checkpoint(config.resume, kind=self.kind)
            payload = {**payload, "config": upgrade_saved_config(payload["config"])}
        self.config = config
        self.session = RunSession(
            config.run_dir,
            config.to_dict(),
            counters={
                "frames": 0,
                "updates": 0,
                "episodes": 0,
                "elapsed_s": 0.0,
                "best_eval_return": -math.inf,
            },
            logs={"metrics": self.metrics_fields, "eval": EVAL_FIELDS},
            key="frames",
            kind=self.kind,
            payload=payload,
            identity=fields_with_role(type(config), "identity"),
            renamed=self.renamed_columns,
            tensorboard=True,
            unused=() if is_catch(config.env) else CATCH_FLAGS,
            out=out,
        )
        self.payload = payload
        self.run_dir, self.counters = self.session.run_dir, self.session.counters
        self.returns: deque[float] = deque(maxlen=RECENT_EPISODES)
        self.successes: deque[bool] = deque(maxlen=RECENT_EPISODES)
        self._frozen: nn.Module | None = None  # the weights an evaluation plays

    # ---- episodes, evaluation, budget --------------------------------------------------------

    def record_episodes(self, returns: list[float], successes: list[bool]) -> None:
        self.counters["episodes"] += len(returns)
        self.returns.extend(returns)
        self.successes.extend(successes)

    def stats(self) -> tuple[float, float]:
        """The mean return and success rate of the last 200 episodes (NaN: none yet, or
        an env that reports no successes)."""
        mean = sum(self.returns) / len(self.returns) if self.returns else math.nan
        rate = sum(self.successes) / len(self.successes) if self.successes else math.nan
        return mean, rate

    def run_evaluation(self) -> dict:
        """The greedy policy on the fixed evaluation episodes: a row of ``eval.csv``, and
        ``best.pt`` when it is the best so far.

        It plays a copy of the weights taken when it starts: A3C's workers keep updating
        the shared model during the evaluation (Hogwild), so the score and ``best.pt``
        belong to one set of weights, the one saved."""
        config = self.config
        if self._frozen is None:
            self._frozen = copy.deepcopy(self.model)
        self._frozen.load_state_dict(self.model.state_dict())
        self._frozen.eval()
        result = evaluate(
            self._frozen,
            config.env_options,
            config.eval_episodes,
            config.eval_seed,
            env_id=config.env,
            max_steps=config.eval_step_cap,
            wrappers=config.wrappers,
        )
        frames = self.counters["frames"]
        self.last_eval_frames = frames
        self.session.log("eval", {"frames": frames, "elapsed_s": self.session.elapsed(), **result})
        if result["mean_return"] > self.counters["best_eval_return"]:
            self.counters["best_eval_return"] = result["mean_return"]
            # the weights to watch: the best greedy evaluation so far
            self.session.save_best(self._frozen.state_dict(), eval=result)
        self.session.scalars("eval", result, frames)
        return result

    def evaluate_and_say(self) -> Stop | None:
        """Evaluate, say the result; a Stop when it reached ``--stop-at-return``."""
        result = self.run_evaluation()
        self.session.say(f"\neval at {self.counters['frames']:,} frames: {eval_text(result)}")
        target = self.config.stop_at_return
        if target is not None and result["mean_return"] >= target:
            return Stop(reason=f"evaluation reached --stop-at-return {target}", evaluated=True)
        return None

    def budget_spent(self) -> Stop | None:
        if self.counters["frames"] >= self.config.total_frames:
            return Stop(reason="reached --total-frames")
        minutes = self.config.max_minutes
        if minutes and self.session.elapsed() >= 60 * minutes:
            return Stop(reason="reached --max-minutes")
        return None

    def interrupted(self) -> Stop | None:
        signalled = self.session.signal_stop()
        return Stop(*signalled) if signalled else None

    # ---- what a training loop does between steps ---------------------------------------------

    def start_timers(self) -> None:
        """Before a training loop: the next evaluation's frame, the log and save clocks."""
        every = self.config.eval_interval
        self._next_eval = (self.counters["frames"] // every + 1) * every
        self._last_log = self._last_save = time.monotonic()
        self._frames_at_log = self.counters["frames"]
        self._loop_from = (self.counters["frames"], self._last_log)

    def periodic(self, bar, evaluate=None, sync=None) -> Stop | None:
        """After a step of a training loop: log every ``log_interval`` seconds, evaluate
        every ``eval_interval`` frames (``evaluate``, default :meth:`evaluate_and_say`;
        its Stop ends the run), save every ``checkpoint_interval`` seconds (``sync`` first,
        where the trainer's model is a copy)."""
        config, now = self.config, time.monotonic()
        if now - self._last_log >= config.log_interval:
            fps = (self.counters["frames"] - self._frames_at_log) / (now - self._last_log)
            self.log_metrics(fps, bar)
            self._last_log, self._frames_at_log = now, self.counters["frames"]
        if self.counters["frames"] >= self._next_eval:
            self._next_eval += config.eval_interval
            stop = (evaluate or self.evaluate_and_say)()
            if stop:
                return stop
        if now - self._last_save >= config.checkpoint_interval:
            if sync is not None:
                sync()
            self.save()
            self._last_save = now
        return None

    def start_from(self, weights: dict) -> None:
        """Begin this new run from these weights (the Python API's learn() on a trained
        agent in a new folder); the optimiser starts afresh."""
        self.model.load_state_dict(weights)

    # ---- saving and the end ------------------------------------------------------------------

    def save(self) -> Path:
        return self.session.save(self.model.state_dict(), self.optimiser.state_dict())

    def finish(self, stop: Stop) -> None:
        """The final checkpoint first (a failing log row must not stop it), then the last
        metrics row; TensorBoard closed whatever happens. A run that ends on its own (its
        budget, its time) is evaluated at its last frame first, so every run has a final
        evaluation and a ``best.pt``, however short."""
        nothing_kept = not (self.run_dir / CHECKPOINT_NAME).exists()
        if stop.exit_code != EXIT_OK and self.counters["frames"] == 0 and nothing_kept:
            # nothing trained, nothing saved: no checkpoint, so the folder takes a new run
            # (its files are a run's, create_run_dir replaces them), none to resume
            stop.save = False
        ended_well = stop.save and stop.exit_code == EXIT_OK and self.counters["frames"] > 0
        evaluated = (
            stop.evaluated or getattr(self, "last_eval_frames", None) == self.counters["frames"]
        )
        if ended_well and not evaluated:
            self.evaluate_and_say()
        if stop.save:
            if not self.session.save_final(self.model.state_dict(), self.optimiser.state_dict()):
                stop.exit_code = stop.exit_code or EXIT_WRITE_FAILED
                stop.reason = stop.reason or "the final checkpoint could not be written"
            try:
                self.log_metrics(self.mean_fps() or self.loop_fps())
            except OSError:
                pass
        self.session.close()

    @classmethod
    def main(cls, config_class, description: str, argv=None) -> int:
        """A trainer's command line: parse ``config_class`` (a resumed run's settings fill
        the flags not given), build the trainer, train; a bad checkpoint or run directory
        is one line and exit 2."""
        from fw_rl.checkpoint import CheckpointError, check_same_run
        from fw_rl.cli import parse_config
        from fw_rl.run_dir import Resumption, RunDirError

        resumption = Resumption(cls.kind)

        def saved(args: dict) -> dict | None:  # a field the run lacks: its default then
            settings = resumption(args)
            return config_class.saved_settings(settings) if settings else settings

        config = parse_config(config_class, description, argv, saved=saved)
        if resumption.payload is not None:  # a finished run: say so, do not re-evaluate
            spent = nothing_left(resumption.payload["counters"], config)
            if spent:
                try:  # another model asked for is the first thing to say
                    recorded = upgrade_saved_config(resumption.payload["config"])
                    check_same_run(
                        {**resumption.payload, "config": recorded}, config.to_dict(),
                        fields_with_role(type(config), "identity"), config.resume,
                    )  # fmt: skip
                except CheckpointError as e:
                    print(f"{command()}: error: {e}", file=sys.stderr)
                    return 2
                counters = resumption.payload["counters"]
                told = (
                    f"has already seen {int(counters['frames']):,} frames, its --total-frames "
                    f"{config.total_frames:,}: give a --total-frames above "
                    f"{int(counters['frames']):,} (the run's total, not frames more) to train on"
                    if spent == "frames"
                    else f"has trained {counters['elapsed_s'] / 60:.1f} min, its --max-minutes "
                    f"{config.max_minutes:g}: give --max-minutes more, or 0 for no limit"
                )
                print(f"{command()}: error: the run in {config.resume} {told}", file=sys.stderr)
                return 2
        try:
            trainer = cls(config, payload=resumption.payload)
        except (CheckpointError, RunDirError) as e:
            print(f"{command()}: error: {e}", file=sys.stderr)
            return 2
        except KeyboardInterrupt:  # Ctrl-C while the run is set up: nothing trained yet
            return _stopped_before_training()
        try:
            code = trainer.train()
        except StoppedBeforeTraining:  # Ctrl-C while the kernels compile
            trainer.session.close()
            return _stopped_before_training()
        if code in EXIT_SIGNAL.values() and (Path(trainer.run_dir) / CHECKPOINT_NAME).exists():
            trainer.session.say(f"continue it with: {command()} --resume {trainer.run_dir}")
        return code

    def say_stopped(self, stop: Stop) -> None:
        self.stopped = stop  # why the run ended, for the Python API's TrainingError
        self.session.say(
            f"stopped: {stop.reason or 'done'} after {self.counters['frames']:,} frames "
            f"({self.session.elapsed() / 60:.1f} min)"
        )

    # ---- metrics and the console -------------------------------------------------------------

    def metrics_row(self) -> dict:
        """The algorithm's columns of the next ``metrics.csv`` row (its losses)."""
        raise NotImplementedError

    def log_metrics(self, fps: float, bar=None) -> None:
        mean, rate = self.stats()
        row = {
            "frames": self.counters["frames"],
            "updates": self.counters["updates"],
            "episodes": self.counters["episodes"],
            "elapsed_s": self.session.elapsed(),
            "fps": fps,
            "mean_return": mean,
            "success_rate": rate,
            **self.metrics_row(),
        }
        self.session.log("metrics", row)
        keys = [k for k in row if k not in ("frames", "updates", "episodes", "elapsed_s")]
        self.session.scalars("train", row, row["frames"], keys)
        if bar is not None:  # the run's mean speed: a total that does not swing with it
            bar.total = max(self.frames_at_end(self.mean_fps()), bar.n)
            text = f"fps {fps:,.0f} | return {mean:+.3f}"
            bar.set_postfix_str(text if math.isnan(rate) else f"{text} | success {rate:.3f}", False)

    def mean_fps(self) -> float:
        """Frames per second since this process's first frames (0 before them, and for
        :data:`SPEED_SECONDS` after them): the workers' start-up is not counted, so an
        early estimate does not project a run far shorter than it will be."""
        start = getattr(self, "_speed_from", None)
        if start is None:
            return 0.0
        frames = self.counters["frames"] - start[0]
        if frames > 0 and not getattr(self, "_speed_started", False):
            self._speed_from = (self.counters["frames"], self.session.elapsed())
            self._speed_started = True  # the clock starts with the first frames
            return 0.0
        seconds = self.session.elapsed() - start[1]
        return frames / seconds if frames > 0 and seconds >= SPEED_SECONDS else 0.0

    def loop_fps(self) -> float:
        """Frames per second since the training loop began (its start-up included): the
        last row's speed where the run was too short for :meth:`mean_fps`."""
        frames, since = getattr(self, "_loop_from", (self.counters["frames"], time.monotonic()))
        seconds = time.monotonic() - since
        return (self.counters["frames"] - frames) / seconds if seconds > 0 else 0.0

    def progress_bar(self):
        from tqdm import tqdm

        self._speed_from = (self.counters["frames"], self.session.elapsed())
        self._speed_started = False
        return tqdm(
            total=self.config.total_frames,
            initial=self.counters["frames"],
            unit="frame",
            disable=not self.session.shows_progress(),
            file=self.session.out,
            dynamic_ncols=True,
        )

    def frames_at_end(self, fps: float) -> int:
        """The progress bar's total: the frame budget, or the frames the time limit will
        allow at ``fps`` (the run's mean speed, :meth:`mean_fps`), whichever ends the run
        first."""
        total = self.config.total_frames
        if self.config.max_minutes and fps > 0:
            left = max(0.0, 60 * self.config.max_minutes - self.session.elapsed())
            total = min(total, int(self.counters["frames"] + fps * left))
        return total

    def warm_up(self) -> None:
        """Compile the core's kernels before training starts, where its declaration has a
        ``warm_up`` (the fast-weights core's numba loops, cached on disk: only a first run
        compiles), and say so."""
        warm_up = core_declaration(self.config.core).warm_up
        if warm_up is None or self.config.core_kwargs.get("compiled", True) is False:
            return  # nothing to compile, or the run keeps to PyTorch's operations
        self.session.say(
            f"preparing the {self.config.core} core's kernels (compiled on a first run) ..."
        )
        try:
            seconds = warm_up()
        except KeyboardInterrupt:
            raise StoppedBeforeTraining from None
        self.session.say(f"kernels ready in {seconds:.1f} s")
