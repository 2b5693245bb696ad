"""Playground page: train a tutorial net here, watch it learn, then use it on the other pages."""

from __future__ import annotations

import streamlit as st

from fashion.analysis import charts
from fashion.card import ModelCard
from fashion.training import jobs, playground
from fashion.training.train_config import TrainConfig
from fashion.ui import pages, state

JOB_KEY = "playground_job"  # this session's latest jobs.Job
OWNER_KEY = "playground_owner"  # this session, as the training queue knows it
ADOPTED_KEY = "playground_adopted"  # ids of finished jobs already in the session's models
ERROR_KEY = "playground_error"
GO_CLASSIFY_KEY = "playground_go_classify"
POLL_SECONDS = 1.0


class Owner:
    """Stands for this session in the training queue, which holds it weakly: when the
    session ends, Streamlit drops its state, this object goes, and so does the job."""


def render() -> None:
    if st.session_state.pop(GO_CLASSIFY_KEY, False):
        st.switch_page(pages.path("classify"))
    st.title("Playground: train a net yourself")
    st.caption(
        "Train one of the nets from the tutorials this demo compares (or your own small "
        "one) on a slice of the training set, right here, and watch it learn. The model "
        "is yours for this session: it joins the sidebar's model list, so the Classify, "
        "Confusion, Mistakes and Models pages can use it. "
        f"Limits, so that everyone gets a turn: at most {playground.MAX_TRAIN:,} images, "
        f"{playground.MAX_EPOCHS} epochs and {playground.MAX_TRAIN_SECONDS:.0f} s of training; "
        "the server trains one model at a time and the others wait in a queue."
    )
    job: jobs.Job | None = st.session_state.get(JOB_KEY)
    if _adopt(job):
        st.rerun()  # the sidebar's model list runs before this page: show the new model
    busy = job is not None and job.active
    settings(disabled=busy)
    train_col, cancel_col, _ = st.columns([1, 1, 3])
    train_col.button(
        "Train", type="primary", icon=":material/play_arrow:", on_click=_train, disabled=busy,
        key="pg_train", width="stretch",
    )  # fmt: skip
    cancel_col.button(
        "Cancel", icon=":material/stop:", on_click=_cancel, disabled=not busy, key="pg_cancel",
        width="stretch",
    )  # fmt: skip
    if error := st.session_state.pop(ERROR_KEY, None):
        st.error(error)
    # While a job is active the status redraws itself every second, and only it.
    st.fragment(status, run_every=POLL_SECONDS if busy else None)(busy)


def _defaults(architecture: str) -> None:
    recipe = playground.playground_config(architecture).resolved()
    st.session_state["pg_opt"] = recipe.optimizer
    st.session_state["pg_lr"] = recipe.learning_rate


def settings(disabled: bool) -> None:
    if "pg_arch" not in st.session_state:
        st.session_state["pg_arch"] = playground.ARCHITECTURES[0]
        _defaults(playground.ARCHITECTURES[0])
    arch = st.selectbox(
        "Architecture",
        playground.ARCHITECTURES,
        key="pg_arch",
        on_change=lambda: _defaults(st.session_state["pg_arch"]),
        disabled=disabled,
    )
    st.caption(playground.description(arch))
    a, b, c = st.columns(3)
    a.select_slider(
        "Training images", playground.TRAIN_SIZES, value=2000, key="pg_n", disabled=disabled
    )
    a.slider("Epochs", 1, playground.MAX_EPOCHS, 3, key="pg_epochs", disabled=disabled)
    b.selectbox("Optimizer", playground.OPTIMIZERS, key="pg_opt", disabled=disabled)
    b.select_slider(
        "Learning rate",
        playground.LEARNING_RATES,
        key="pg_lr",
        format_func=lambda v: f"{v:g}",
        disabled=disabled,
    )
    c.select_slider(
        "Hidden units",
        playground.HIDDEN_UNITS,
        value=128,
        key="pg_hidden",
        disabled=disabled or arch != playground.CUSTOM,
        help=f"For {playground.CUSTOM}; the tutorial nets keep their published sizes.",
    )


def _config() -> TrainConfig:
    s = st.session_state
    return playground.playground_config(
        s["pg_arch"],
        hidden_units=int(s["pg_hidden"]),
        epochs=int(s["pg_epochs"]),
        optimizer=s["pg_opt"],
        learning_rate=float(s["pg_lr"]),
        n_train=int(s["pg_n"]),
    )


def _train() -> None:
    owner = st.session_state.setdefault(OWNER_KEY, Owner())
    try:
        st.session_state[JOB_KEY] = jobs.training_queue().submit(owner, _config())
    except (jobs.QueueFull, ValueError) as exc:
        st.session_state[ERROR_KEY] = f"Training could not start: {exc}. Try again later."


def _cancel() -> None:
    job = st.session_state.get(JOB_KEY)
    if job is not None:
        jobs.training_queue().cancel(job)


def _use(name: str) -> None:
    st.session_state[state.MODEL_KEY] = name
    st.session_state[GO_CLASSIFY_KEY] = True


def _adopt(job: jobs.Job | None) -> bool:
    """Hand a finished job's model to this session (once); True if it was new."""
    adopted = st.session_state.setdefault(ADOPTED_KEY, set())
    if job is None or job.state != jobs.DONE or job.id in adopted:
        return False
    adopted.add(job.id)
    state.add_session_model(job.result)
    return True


def status(was_busy: bool) -> None:
    if st.session_state.pop(GO_CLASSIFY_KEY, False):  # "Classify with it", clicked in here
        st.switch_page(pages.path("classify"))
    job: jobs.Job | None = st.session_state.get(JOB_KEY)
    if was_busy and job is not None and not job.active:
        _adopt(job)
        st.rerun()  # the whole page: buttons, sidebar and the timer follow the new state
    if job is None:
        running, waiting = jobs.training_queue().status()
        st.caption(
            "The server is idle: your model would start at once."
            if running is None
            else f"The server is training a model now ({waiting} more waiting): yours would "
            "queue behind."
        )
        return
    if job.state == jobs.QUEUED:
        position = jobs.training_queue().position(job)
        st.info(
            f"Another visitor's model is training. Yours is **number {position} in the queue** "
            "and starts by itself; keep this page open.",
            icon=":material/hourglass_top:",
        )
        return
    curves = job.curves()
    if job.state == jobs.RUNNING:
        st.progress(
            job.progress,
            text=f"{job.phase} · {job.elapsed:.0f} s "
            f"(training stops at {playground.MAX_TRAIN_SECONDS:.0f} s)",
        )
    elif job.state == jobs.DONE:
        card = job.result.card
        st.success(
            f"**{job.name}** is trained: **{card.test_accuracy:.2%}** on the 10,000 test images "
            f"after {card.epochs} epoch{'s' * (card.epochs != 1)} in {job.elapsed:.0f} s. It is "
            "in the sidebar's model list for the rest of this session.",
            icon=":material/check_circle:",
        )
        if job.message:
            st.caption(f"Training {job.message}.")
        st.button(
            "Classify with it", icon=":material/checkroom:", on_click=_use, args=(job.name,),
            key="pg_use",
        )  # fmt: skip
    elif job.state == jobs.CANCELLED:
        st.info(f"Training was cancelled ({job.message}).", icon=":material/stop_circle:")
    else:
        st.error(f"Training failed: {job.message}")
    if curves.get("loss"):
        st.caption(
            f"{playground.describe(job.config)}. Solid: the training images; dashed: "
            f"{playground.N_VAL:,} held-out validation images."
        )
        fig = charts.training_curves([ModelCard(name=job.name, history=curves)])
        fig.update_traces(mode="lines+markers")  # a short run: every epoch is a dot to see
        st.plotly_chart(
            fig,
            key="pg_curves",
            config={"displayModeBar": False},
        )
    elif job.active:
        st.caption("The curves appear after the first epoch.")


if __name__ == "__main__":
    render()
