"""Qt fixtures: a real MainWindow on a temporary project, closed and deleted after each test."""

from __future__ import annotations

import gc
from types import SimpleNamespace

import pyqtgraph as pg
import pytest
from PySide6.QtCore import QCoreApplication, QEvent, QPointF, Qt, QThreadPool
from PySide6.QtGui import QMouseEvent
from PySide6.QtWidgets import QApplication

from app.model.settings import AppSettings
from app.qt.main_window import MainWindow


@pytest.fixture(autouse=True)
def _every_mouse_move_delivered():
    """pyqtgraph drops moves that follow the previous one within 1/mouseRateLimit seconds (a
    pointer throttle); synthetic events arrive back to back, so the throttle is switched off."""
    before = pg.getConfigOption("mouseRateLimit")
    pg.setConfigOption("mouseRateLimit", 0)
    yield
    pg.setConfigOption("mouseRateLimit", before)


@pytest.fixture(autouse=True)
def _no_collection_while_workers_emit():
    """Cyclic garbage collection runs between tests only. Collected mid-test, a widget still
    connected to a worker's signals is destroyed on the main thread, which holds the GIL while
    its ``~QObject`` waits for the signal lock that the emitting worker holds while it waits for
    the GIL: the run hangs (seen under heavy load while a SEG was sent)."""
    enabled = gc.isenabled()
    gc.disable()
    yield
    QThreadPool.globalInstance().waitForDone(30_000)
    if enabled:
        gc.enable()
    gc.collect()


@pytest.fixture
def make_window(qtbot, tmp_path, opener):
    made = []

    def make(project=None, reader=opener, settings=None):
        w = MainWindow(project or tmp_path / "proj", opener=reader, settings=settings or AppSettings())
        qtbot.addWidget(w)
        w.show()
        made.append(w)
        return w

    yield make
    # Destroy the windows now, with no worker thread running: a QObject destroyed later by the
    # garbage collector on the main thread (holding the GIL) can wait on a Qt mutex that a
    # worker thread of a later test holds while it waits for the GIL.
    QThreadPool.globalInstance().waitForDone(60_000)
    for w in made:
        w.close()
        w.deleteLater()
    QCoreApplication.sendPostedEvents(None, QEvent.Type.DeferredDelete)
    QApplication.processEvents()
    made.clear()
    gc.collect()


@pytest.fixture(scope="session")
def tiny_state():
    """Random weights of the tiny all-heads test model (built once per session)."""
    import torch

    from engine.factory import create_model
    from engine.tasks.presets import all_heads_cfg

    torch.manual_seed(0)
    cfg = all_heads_cfg()
    return cfg, create_model(cfg).state_dict()


@pytest.fixture
def stored_model(tiny_state):
    """The tiny model saved as version 1 in this test's user model store."""
    from engine.model_card import ModelCard
    from engine.model_store import save_version

    cfg, state = tiny_state
    return save_version(ModelCard.from_cfg(cfg), state)


@pytest.fixture
def window(make_window, sample_file):
    w = make_window()
    assert w.open_path(sample_file)
    return w


def widget_pos(window, x, y):
    """Viewport position of frame pixel (x, y)."""
    scene = window.view.box.mapViewToScene(QPointF(x, y))
    return window.view.mapFromScene(scene)


def _send(window, kind, pos, button, buttons):
    event = QMouseEvent(
        kind, QPointF(pos), QPointF(window.view.viewport().mapToGlobal(pos)), button, buttons,
        Qt.KeyboardModifier.NoModifier,
    )  # fmt: skip
    QApplication.sendEvent(window.view.viewport(), event)


def drag(window, points):
    """A real left-button drag through frame pixels ``points`` on the viewer."""
    left, none = Qt.MouseButton.LeftButton, Qt.MouseButton.NoButton
    first = widget_pos(window, *points[0])
    _send(window, QEvent.Type.MouseButtonPress, first, left, left)
    for x, y in points[1:]:
        _send(window, QEvent.Type.MouseMove, widget_pos(window, x, y), none, left)
    _send(window, QEvent.Type.MouseButtonRelease, widget_pos(window, *points[-1]), left, none)
    QApplication.processEvents()


def hover(window, x, y):
    _send(
        window,
        QEvent.Type.MouseMove,
        widget_pos(window, x, y),
        Qt.MouseButton.NoButton,
        Qt.MouseButton.NoButton,
    )
    QApplication.processEvents()


@pytest.fixture
def mouse():
    """Real pointer events on the viewer: ``drag(window, points)``, ``hover(window, x, y)``."""
    return SimpleNamespace(drag=drag, hover=hover, pos=widget_pos)
