"""``echocare pacs echo|find|get|send``: query, retrieve from and send to a PACS.

The node is ``--peer AE@HOST:PORT`` (DIMSE: C-ECHO, C-FIND, C-GET, C-STORE), ``--url URL``
(DICOMweb: QIDO-RS, WADO-RS, STOW-RS), or ``--peer NAME`` of a node configured in the settings.

    echocare pacs echo --peer ORTHANC@pacs:4242
    echocare pacs find --url http://pacs:8042/dicom-web --patient-id 123 --date 20260101-20261231 [--json]
    echocare pacs get --peer PACS --study 1.2.3... --project DIR
    echocare pacs send PROJECT --format dicom-seg|dicom-sr [--study ID] [--deidentify] --peer PACS
"""

from __future__ import annotations

import argparse
import json
import ssl
from pathlib import Path
from typing import Any

from engine.errors import ConfigError


def _node_args(p: argparse.ArgumentParser) -> None:
    where = p.add_mutually_exclusive_group(required=True)
    where.add_argument("--peer", help="AE@HOST:PORT, or the name of a configured DICOM node")
    where.add_argument("--url", help="DICOMweb root URL (e.g. http://pacs:8042/dicom-web)")
    p.add_argument("--ae-title", default=None, help="our AE title (settings, else ECHOCARE)")
    p.add_argument("--timeout", type=float, default=30.0, help="seconds to wait for the node")
    p.add_argument("--tls-ca", type=Path, default=None, help="DIMSE over TLS, trusting this PEM certificate")
    p.add_argument("--debug", action="store_true", default=argparse.SUPPRESS, help=argparse.SUPPRESS)


def add_parser(sub: Any) -> None:
    """Register ``pacs`` and its verbs on the ``echocare`` parser."""
    pacs = sub.add_parser("pacs", help="query, retrieve from and send to a PACS (DIMSE or DICOMweb)")
    verbs = pacs.add_subparsers(dest="verb", required=True, metavar="VERB")
    echo = verbs.add_parser("echo", help="check that the node answers")
    _node_args(echo)
    echo.set_defaults(func=run_echo)

    find = verbs.add_parser("find", help="list the studies the node holds")
    _node_args(find)
    find.add_argument("--patient-id", default="")
    find.add_argument("--patient-name", default="", help="wildcards allowed: DOE^*")
    find.add_argument("--date", default="", help="study date YYYYMMDD or range FROM-TO (either end open)")
    find.add_argument("--accession", default="")
    find.add_argument("--modality", default="", help="a modality in the study, e.g. US")
    find.add_argument("--series", default=None, metavar="STUDY_UID", help="list this study's series instead")
    find.add_argument("--json", action="store_true", help="one JSON array instead of a table")
    find.set_defaults(func=run_find)

    get = verbs.add_parser("get", help="bring a study into a project")
    _node_args(get)
    get.add_argument("--study", required=True, help="StudyInstanceUID")
    get.add_argument("--project", required=True, type=Path, help="the project folder")
    get.set_defaults(func=run_get)

    send = verbs.add_parser("send", help="export a project's results and store them on the node")
    send.add_argument("project", type=Path, help="the project folder")
    send.add_argument("--format", required=True, dest="fmt", choices=("dicom-seg", "dicom-sr"))
    send.add_argument("--study", type=int, default=None, help="send only this study id")
    send.add_argument("--deidentify", action="store_true", help="remove patient data before sending")
    _node_args(send)
    send.set_defaults(func=run_send)


def _peer(args: argparse.Namespace) -> Any:
    from app.model.settings import load_settings
    from engine.net.nodes import parse_node
    from engine.net.peers import open_peer

    settings, _warning = load_settings()
    node = parse_node(args.url or args.peer, settings.dicom_nodes)
    context = None
    if args.tls_ca is not None:
        try:
            context = ssl.create_default_context(cafile=str(args.tls_ca))
        except (OSError, ssl.SSLError) as err:
            raise ConfigError(args.tls_ca, f"cannot read the TLS certificate ({err})") from None
    return open_peer(node, args.ae_title or settings.listen_ae_title, args.timeout, context)


def parse_date_range(text: str) -> tuple[str, str]:
    """``YYYYMMDD`` or ``FROM-TO`` (either end may be empty) as (from, to)."""
    if not text:
        return "", ""
    if "-" not in text:
        return text, text
    start, _, end = text.partition("-")
    return start, end


def run_echo(args: argparse.Namespace) -> int:
    peer = _peer(args)
    peer.echo()
    print(f"{peer.node.address()} answered")
    return 0


def run_find(args: argparse.Namespace) -> int:
    from engine.net.query import StudyQuery, table

    peer = _peer(args)
    if args.series:
        rows: list[Any] = peer.series(args.series)
        if args.json:
            print(json.dumps([r.to_json() for r in rows], indent=1))
        else:
            for r in rows:
                print(
                    f"{r.number:>4}  {r.modality:4}  {r.instances or '':>5}  {r.description}  {r.series_uid}"
                )
        return 0
    start, end = parse_date_range(args.date)
    query = StudyQuery(args.patient_id, args.patient_name, start, end, args.accession, args.modality)
    rows = peer.find(query)
    if args.json:
        print(json.dumps([r.to_json() for r in rows], indent=1))
    else:
        print("\n".join(table(rows)))
        print(f"{len(rows)} studies on {peer.node.address()}")
    return 0


def run_get(args: argparse.Namespace) -> int:
    from engine.net.peers import retrieve

    peer = _peer(args)
    count = retrieve(peer, args.study, args.project, lambda r: print(r.line(), flush=True))
    print(f"{count} instances of study {args.study} from {peer.node.address()} -> {args.project}")
    return 0


def run_send(args: argparse.Namespace) -> int:
    from engine.net.peers import send_results

    if not (args.project / "project.sqlite").exists():
        raise ConfigError(args.project, "not an EchoCare project (no project.sqlite)")
    peer = _peer(args)
    result = send_results(args.project, args.fmt, peer, args.study, args.deidentify)
    for note in result.notes:
        print(f"note: {note}")
    print(f"{len(result.files)} {args.fmt} files stored on {peer.node.address()}")
    return 0
